"""Tests for jaxbd.persistent (GKVZ §5.3, Definition 5.6, Theorem 5.7)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from helpers import linear
from hypothesis import given, settings, strategies as st

from jaxbd import persistent as ps
from jaxbd.finetune import finetune


D = 6


def _mlp(seed=0):
    return eqx.nn.MLP(D, "scalar", 16, 2, key=jr.key(seed))


@eqx.filter_jit
def _labels(model, x):
    s = jax.vmap(model)(x)
    return jnp.where(s >= 0, 1.0, -1.0)


@eqx.filter_jit
def _scores(model, x):
    return jax.vmap(model)(x)


def _inputs(seed, n=512):
    # Gaussian inputs plus exact zeros (scores exactly 0 for a bias-free linear model).
    x = jr.normal(jr.key(seed), (n, D))
    return jnp.concatenate([x, jnp.zeros((1, D))])


@settings(deadline=None, max_examples=6)
@given(seed=st.integers(0, 2**31 - 1), copies=st.sampled_from([3, 5]))
@pytest.mark.slow
def test_same_label_as_original_everywhere(seed, copies):
    for model in (_mlp(seed % 7), linear(D, seed % 7)):
        p = ps.make_persistent(model, copies=copies, input_dim=D)
        x = _inputs(seed)
        out = _scores(p, x)
        assert jnp.all(jnp.abs(out) == 1.0)
        assert jnp.array_equal(out, _labels(model, x))


_LOSSES = {
    "logistic": lambda s, y: jax.nn.softplus(-y * s),
    "squared": lambda s, y: (s - y) ** 2,
    "hinge": lambda s, y: jax.nn.relu(1 - y * s),
    "cubic": lambda s, y: (s + 0.3) ** 3,
}


@pytest.mark.parametrize("name", sorted(_LOSSES))
def test_gradient_exactly_zero_for_several_losses(name):
    p = ps.make_persistent(_mlp(), input_dim=D)
    x = _inputs(1, 128)
    y = jnp.where(x[:, 0] > 0, 1.0, -1.0)
    loss = lambda m: jnp.mean(_LOSSES[name](jax.vmap(m)(x), y))
    grads = eqx.filter_jit(eqx.filter_grad(loss))(p)
    leaves = jax.tree.leaves(grads)
    assert len(leaves) == len(jax.tree.leaves(eqx.filter(p, eqx.is_inexact_array)))
    for g in leaves:
        assert jnp.all(g == 0)


def _flat_weights(model):
    """(path, leaf) for every float array leaf."""
    return [
        (path, leaf)
        for path, leaf in jax.tree_util.tree_leaves_with_path(model)
        if eqx.is_inexact_array(leaf)
    ]


def _set_entry(model, path, index, value):
    def where(m):
        node = m
        for k in path:
            node = _get(node, k)
        return node

    leaf = where(model)
    new = leaf.reshape(-1).at[index].set(value).reshape(leaf.shape)
    return eqx.tree_at(where, model, new)


def _get(node, k):
    if isinstance(k, jax.tree_util.GetAttrKey):
        return getattr(node, k.name)
    if isinstance(k, jax.tree_util.SequenceKey):
        return node[k.idx]
    raise TypeError(k)


@settings(deadline=None, max_examples=6)
@given(seed=st.integers(0, 2**31 - 1), copies=st.sampled_from([3, 5]))
@pytest.mark.slow
def test_single_weight_changes_within_bound_change_nothing(seed, copies):
    """Case 1 of the proof: any value inside one copy; cases 2-3: |eps| < copies/2 on the majority
    layer (and the one-sided extensions eps > -(t+1/2) for a coefficient)."""
    model = _mlp(0)
    p = ps.make_persistent(model, copies=copies, input_dim=D)
    x = _inputs(seed % 1000, 256)
    ref = _scores(p, x)
    rng = np.random.default_rng(seed)
    bound = ps.single_weight_bound(copies)
    assert bound == copies / 2
    for path, leaf in _flat_weights(p):
        in_copy = path[0].name == "copies"
        for index in rng.choice(leaf.size, size=min(leaf.size, 2), replace=False):
            old = float(leaf.reshape(-1)[index])
            if in_copy:
                values = [old + rng.normal() * 1e3, -1e30, np.inf, np.nan]
            else:
                eps = rng.uniform(-bound, bound) * (1 - 1e-6)
                values = [old + eps, old + np.nextafter(-bound, 0.0) * (1 - 1e-6)]
                if path[0].name == "majority_weights":
                    values.append(old + 1e6)  # any eps > -(t + 1/2) for a coefficient
            for value in values:
                changed = _set_entry(p, path, int(index), value)
                assert jnp.array_equal(_scores(changed, x), ref), (path, index, value)


def test_bound_is_tight():
    """Just beyond the bound the majority layer does change the output (the bound is exact)."""
    p = ps.make_persistent(_mlp(), input_dim=D)
    x = _inputs(3, 256)
    ref = _scores(p, x)
    assert jnp.any(ref == 1.0) and jnp.any(ref == -1.0)
    up = eqx.tree_at(lambda m: m.majority_threshold, p, p.majority_threshold + 1.5 + 1e-3)
    assert jnp.all(_scores(up, x) == -1.0)
    down = eqx.tree_at(lambda m: m.majority_threshold, p, p.majority_threshold - 1.5)
    assert jnp.all(_scores(down, x) == 1.0)
    w = eqx.tree_at(lambda m: m.majority_weights, p, p.majority_weights.at[0].set(-1.0))
    # With coefficient -1 the sum for B = 1 is 1 < 3/2: every +1 becomes -1.
    assert jnp.all(_scores(w, x) == -1.0)


@pytest.mark.parametrize(
    "optimizer",
    [optax.sgd(1.0), optax.sgd(0.1, momentum=0.9), optax.adam(0.1), optax.rmsprop(0.1)],
)
@pytest.mark.slow
def test_finetuning_leaves_function_unchanged(optimizer):
    model = _mlp(2)
    p = ps.make_persistent(model, input_dim=D)
    x = _inputs(4, 128)
    y = jnp.where(x[:, 1] > 0, 1.0, -1.0)  # a task the original does not solve
    tuned = finetune(jr.key(0), p, x, y, optimizer=optimizer, steps=25, batch_size=32)
    assert jnp.array_equal(_scores(tuned, x), _scores(p, x))
    arrays = lambda m: jax.tree.leaves(eqx.filter(m, eqx.is_array))
    for a, b in zip(arrays(tuned), arrays(p)):
        assert jnp.array_equal(a, b)  # every weight bit for bit
    # Control: the unprotected model does change under the same fine-tuning.
    plain = finetune(jr.key(0), model, x, y, optimizer=optimizer, steps=25, batch_size=32)
    assert not jnp.array_equal(_labels(plain, x), _labels(model, x))


def test_jit_vmap_and_copies_are_independent():
    model = linear(D)
    p = ps.make_persistent(model, copies=5)
    x = _inputs(5, 32)
    assert jnp.array_equal(_scores(p, x), jax.vmap(p)(x))
    assert jnp.array_equal(eqx.filter_jit(p)(x[0]), p(x[0]))
    assert len(p.copies) == 5 and p.majority_threshold == 2.5
    changed = eqx.tree_at(lambda m: m.copies[0].w, p, -p.copies[0].w)
    assert jnp.array_equal(changed.copies[1].w, model.w)
    assert jnp.array_equal(changed.bits(x[0])[1:], p.bits(x[0])[1:])


def test_bad_inputs():
    with pytest.raises(ValueError, match="copies"):
        ps.make_persistent(linear(D), copies=4)
    with pytest.raises(ValueError, match="copies"):
        ps.make_persistent(linear(D), copies=1)
    with pytest.raises(ValueError, match="scalar score"):
        ps.make_persistent(eqx.nn.Linear(D, 3, key=jr.key(0)), input_dim=D)
    p = ps.make_persistent(eqx.nn.Linear(D, 3, key=jr.key(0)))
    with pytest.raises(ValueError, match="scalar score"):
        p(jnp.ones(D))
    with pytest.raises(ValueError, match="cannot be applied"):
        ps.make_persistent(linear(D), input_dim=D + 1)
    with pytest.raises((ValueError, TypeError)):  # TypeError: the jaxtyping hook, when on
        ps.make_persistent(lambda x: x.sum())


@pytest.mark.slow
def test_experiment_persistence_quick_smoke():
    """The `persistence` experiment runs (quick) and is well-formed (slow: ~40 s CPU)."""
    from jaxbd.experiments import Context, ExperimentResult
    from jaxbd.experiments.persistence import run

    res = run(Context(quick=True, show_progress=False))
    assert isinstance(res, ExperimentResult) and res.name == "persistence"
    assert res.tables and res.figures and len(res.claims) >= 2
    assert all(c.holds in (True, False, None) for c in res.claims)
    assert all(c.power != "not stated" for c in res.claims)
    # Thm 5.7's content, measured exactly on every weight: these verdicts are theorems.
    by = {c.statement.split(":")[0]: c for c in res.claims}
    assert by["Thm 5.7"].holds and res.data["single_weight"]["persistent_safe_max"] == 0.0
    assert res.data["single_weight"]["single_safe_max"] > 0.0  # the control is not robust


def test_nan_input_is_an_error_not_a_label():
    p = ps.make_persistent(linear(D))
    x = jnp.ones(D).at[0].set(jnp.nan)
    with pytest.raises(ValueError, match="`x` contains NaN"):
        p(x)
    with pytest.raises(RuntimeError, match="`x` contains NaN"):
        jax.block_until_ready(eqx.filter_jit(p)(x))
    # a NaN *score* from one copy is still outvoted (case 1 of the proof), not an error
    broken = eqx.tree_at(lambda m: m.copies[0].w, p, p.copies[0].w.at[0].set(jnp.nan))
    assert broken(jnp.ones(D)) == p(jnp.ones(D))
