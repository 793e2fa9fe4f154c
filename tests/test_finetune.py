"""Tests for jaxbd.finetune: learning, identity at steps=0, filters, structure, history, errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from helpers import linear, tree_bitwise_equal

from jaxbd.finetune import FinetuneHistory, finetune, finetune_with_history, trainable_spec


def _binary_task(key, n=200, d=5):
    kx, kw = jr.split(key)
    x = jr.normal(kx, (n, d))
    w = jr.normal(kw, (d,))
    y = jnp.where(x @ w >= 0, 1.0, -1.0)
    return x, y


class TwoLayer(eqx.Module):
    """A small MLP with a separate head, a static field and a non-array field."""

    body: eqx.nn.Linear
    head: eqx.nn.Linear
    counts: jax.Array  # an integer array: never trainable
    name: str = eqx.field(static=True)
    scale: float = 1.0

    def __init__(self, key, d, hidden, out, name="net"):
        k1, k2 = jr.split(key)
        self.body = eqx.nn.Linear(d, hidden, key=k1)
        self.head = eqx.nn.Linear(hidden, out, key=k2)
        self.counts = jnp.arange(3, dtype=jnp.int32)
        self.name = name
        self.scale = 1.0

    def __call__(self, x):
        out = self.head(jnp.tanh(self.body(x)))
        # A (2, 1) scale (set by test_errors) widens the output to (2, out), explicitly.
        out = out.reshape((1,) * (jnp.ndim(self.scale) - 1) + out.shape) * self.scale
        return out[0] if out.shape == (1,) else out


def _accuracy(model, x, y):
    s = jax.vmap(model)(x)
    if s.ndim == 1:
        return float(jnp.mean(jnp.where(s >= 0, 1.0, -1.0) == y))
    return float(jnp.mean(jnp.argmax(s, -1) == y))


def test_learns_linear_task(getkey):
    x, y = _binary_task(getkey())
    model = linear(5, seed=3)
    before = _accuracy(model, x, y)
    tuned = finetune(getkey(), model, x, y, optimizer=optax.adam(0.05), steps=200)
    assert _accuracy(tuned, x, y) >= 0.97
    assert _accuracy(tuned, x, y) > before


def test_minibatch_learns_and_depends_on_key(getkey):
    x, y = _binary_task(getkey())
    model = linear(5, seed=3)
    k = getkey()
    a = finetune(k, model, x, y, optimizer=optax.sgd(0.5), steps=100, batch_size=16)
    b = finetune(k, model, x, y, optimizer=optax.sgd(0.5), steps=100, batch_size=16)
    c = finetune(getkey(), model, x, y, optimizer=optax.sgd(0.5), steps=100, batch_size=16)
    assert _accuracy(a, x, y) >= 0.95
    assert tree_bitwise_equal(a, b)  # deterministic given the key
    assert not tree_bitwise_equal(a, c)  # minibatches come from the key


def test_steps_zero_is_identity(getkey):
    x, y = _binary_task(getkey())
    model = linear(5)
    out = finetune(getkey(), model, x, y, optimizer=optax.sgd(1.0), steps=0)
    assert out is model
    out2, hist = finetune_with_history(
        getkey(), model, x, y, optimizer=optax.sgd(1.0), steps=0, history_every=1
    )
    assert tree_bitwise_equal(out2, model)
    assert hist.steps.tolist() == [0]


@pytest.mark.slow
def test_multiclass_structure_and_static_fields(getkey):
    kx, kw = jr.split(getkey())
    x = jr.normal(kx, (300, 4))
    y = jnp.argmax(x @ jr.normal(kw, (4, 3)), axis=-1).astype(jnp.int32)
    model = TwoLayer(getkey(), 4, 16, 3, name="mine")
    tuned = finetune(getkey(), model, x, y, optimizer=optax.adam(0.02), steps=300)
    assert _accuracy(tuned, x, y) >= 0.9
    assert jax.tree.structure(tuned) == jax.tree.structure(model)
    for a, b in zip(jax.tree.leaves(tuned), jax.tree.leaves(model)):
        assert jnp.shape(a) == jnp.shape(b) and jnp.result_type(a) == jnp.result_type(b)
    assert tuned.name == "mine" and tuned.scale == 1.0
    assert np.array_equal(tuned.counts, model.counts)


def test_head_only_where_and_filter_spec(getkey):
    x, y = _binary_task(getkey(), d=4)
    model = TwoLayer(getkey(), 4, 16, 1)
    for kwargs in (
        {"where": lambda m: m.head},
        {"filter_spec": trainable_spec(model, lambda m: m.head)},
    ):
        tuned = finetune(getkey(), model, x, y, optimizer=optax.adam(0.05), steps=50, **kwargs)
        assert tree_bitwise_equal(tuned.body, model.body)  # frozen
        assert not tree_bitwise_equal(tuned.head, model.head)  # trained
        assert _accuracy(tuned, x, y) > 0.8


def test_trainable_spec_marks_inexact_only(getkey):
    model = TwoLayer(getkey(), 4, 8, 1)
    spec = trainable_spec(model)
    assert spec.body.weight is True and spec.counts is False
    head = trainable_spec(model, lambda m: (m.head.weight,))
    assert head.head.weight is True and head.head.bias is False and head.body.weight is False
    with pytest.raises(ValueError, match="where"):
        trainable_spec(model, lambda m: m.nonexistent)


def test_user_loss(getkey):
    x, y = _binary_task(getkey())
    model = linear(5, seed=1)
    hinge = lambda s, yi: jnp.maximum(0.0, 1.0 - yi * s)
    tuned = finetune(getkey(), model, x, y, optimizer=optax.adam(0.05), steps=200, loss=hinge)
    assert _accuracy(tuned, x, y) >= 0.95
    # A regression loss with real-valued targets (not labels) is allowed with a user loss.
    t = x @ jnp.ones(5)
    sq = lambda s, ti: (s - ti) ** 2
    reg = finetune(getkey(), model, x, t, optimizer=optax.adam(0.1), steps=300, loss=sq)
    assert float(jnp.max(jnp.abs(reg.w - 1.0))) < 0.05


def test_history_records_metrics_inside_loop(getkey):
    x, y = _binary_task(getkey())
    model = linear(5, seed=3)
    metric = {"acc": lambda m: jnp.mean(jnp.where(jax.vmap(m)(x) >= 0, 1.0, -1.0) == y)}
    k = getkey()
    tuned, hist = finetune_with_history(
        k, model, x, y, optimizer=optax.adam(0.05), steps=100, history_every=25, metrics=metric
    )
    assert isinstance(hist, FinetuneHistory)
    assert hist.steps.tolist() == [0, 25, 50, 75, 100]
    assert hist.loss.shape == (5,) and hist.metrics["acc"].shape == (5,)
    assert float(hist.loss[-1]) < float(hist.loss[0])
    assert abs(float(hist.metrics["acc"][-1]) - _accuracy(tuned, x, y)) < 1e-6
    assert abs(float(hist.metrics["acc"][0]) - _accuracy(model, x, y)) < 1e-6
    # Same key, steps a multiple of history_every: the same model as `finetune`.
    plain = finetune(k, model, x, y, optimizer=optax.adam(0.05), steps=100)
    assert tree_bitwise_equal(plain, tuned)
    # A remainder gets a final record.
    _, h2 = finetune_with_history(
        k, model, x, y, optimizer=optax.sgd(0.1), steps=10, history_every=4
    )
    assert h2.steps.tolist() == [0, 4, 8, 10] and h2.metrics == {}


def test_keeps_float64(getkey, x64):
    x, y = _binary_task(getkey())
    x = x.astype(jnp.float64)
    y = y.astype(jnp.float64)
    model = linear(5, dtype=jnp.float64)
    tuned = finetune(getkey(), model, x, y, optimizer=optax.adam(0.05), steps=20)
    assert tuned.w.dtype == jnp.float64 and tuned.b.dtype == jnp.float64


def test_grad_through_finetuned_model(getkey):
    x, y = _binary_task(getkey())
    tuned = finetune(getkey(), linear(5), x, y, optimizer=optax.sgd(0.1), steps=5)
    g = jax.grad(lambda xi: tuned(xi))(x[0])
    assert np.allclose(g, tuned.w)
    assert jax.jit(jax.vmap(tuned))(x).shape == (200,)


def test_errors(getkey):
    x, y = _binary_task(getkey())
    model = linear(5)
    opt = optax.sgd(0.1)
    with pytest.raises(ValueError, match="steps"):
        finetune(getkey(), model, x, y, optimizer=opt, steps=-1)
    with pytest.raises((ValueError, TypeError)):  # TypeError under the jaxtyping/beartype hook
        finetune(getkey(), model, x, y, optimizer=opt, steps=1.5)
    with pytest.raises(ValueError, match="different lengths"):
        finetune(getkey(), model, x, y[:-1], optimizer=opt, steps=1)
    with pytest.raises(ValueError, match="`x` contains NaN"):
        finetune(getkey(), model, x.at[0, 0].set(jnp.nan), y, optimizer=opt, steps=1)
    with pytest.raises(ValueError, match="`y` contains NaN"):
        finetune(getkey(), model, x, y.at[0].set(jnp.inf), optimizer=opt, steps=1)
    with pytest.raises(ValueError, match="-1.0/\\+1.0"):
        finetune(getkey(), model, x, (y > 0).astype(jnp.int32), optimizer=opt, steps=1)
    with pytest.raises(ValueError, match="batch_size"):
        finetune(getkey(), model, x, y, optimizer=opt, steps=1, batch_size=1000)
    with pytest.raises(ValueError, match="batch_size"):
        finetune(getkey(), model, x, y, optimizer=opt, steps=1, batch_size=0)
    with pytest.raises(ValueError, match="`x` must have shape"):
        finetune(getkey(), model, x[0], y, optimizer=opt, steps=1)
    with pytest.raises(ValueError, match="floating"):
        finetune(getkey(), model, x.astype(jnp.int32), y, optimizer=opt, steps=1)
    with pytest.raises(ValueError, match="not both"):
        finetune(
            getkey(), model, x, y, optimizer=opt, steps=1, where=lambda m: m.w, filter_spec=True
        )
    with pytest.raises(ValueError, match="model"):
        finetune(getkey(), model, x[:, :3], y, optimizer=opt, steps=1)
    with pytest.raises((ValueError, TypeError)):  # TypeError under the jaxtyping hook
        finetune(getkey(), lambda v: v.sum(), x, y, optimizer=opt, steps=1)
    with pytest.raises(ValueError, match="history_every"):
        finetune_with_history(getkey(), model, x, y, optimizer=opt, steps=1, history_every=0)
    multi = TwoLayer(getkey(), 5, 4, 3)
    with pytest.raises(ValueError, match="integer labels 0..2"):
        finetune(getkey(), multi, x, y, optimizer=opt, steps=1)
    with pytest.raises(ValueError, match="integer labels 0..2"):
        finetune(getkey(), multi, x, jnp.full((200,), 3, jnp.int32), optimizer=opt, steps=1)
    vec = TwoLayer(getkey(), 5, 4, 3)
    with pytest.raises(ValueError, match="default loss"):
        wide = eqx.tree_at(lambda m: m.scale, vec, jnp.ones((2, 1)))
        finetune(getkey(), wide, x, y, optimizer=opt, steps=1)


@pytest.mark.slow
def test_experiment_finetune_quick():
    """Smoke run of the `finetune` experiment (slow: several compiled loops)."""
    from jaxbd.experiments import Context, get

    res = get("finetune").run(Context(quick=True, show_progress=False))
    assert res.name == "finetune" and res.tables and res.figures and len(res.claims) == 3
    assert all(c.holds in (True, False, None) for c in res.claims)
    assert all(c.power != "not stated" for c in res.claims)
    assert res.claims[2].holds is None  # head-only RFF: by construction, described
    assert res.data["steps"][0] == 0


def test_optimizer_checked_and_divergence_refused(getkey):
    x, y = _binary_task(getkey(), n=40)
    model = linear(5)
    with pytest.raises(ValueError, match="`optimizer` must be an optax.GradientTransformation"):
        finetune(getkey(), model, x, y, optimizer="adam", steps=1)
    with pytest.raises(ValueError, match="NaN or inf parameters.*`optimizer`"):
        finetune(getkey(), model, x, y, optimizer=optax.sgd(float("nan")), steps=3)
    with pytest.raises(ValueError, match="`optimizer`"):
        finetune_with_history(
            getkey(), model, x, y, optimizer=optax.sgd(float("nan")), steps=3, history_every=1
        )
    with pytest.raises(ValueError, match="single class"):
        finetune(getkey(), model, x, jnp.ones_like(y), optimizer=optax.sgd(0.1), steps=1)
    with pytest.raises(ValueError, match="`key`"):
        finetune(0, model, x, y, optimizer=optax.sgd(0.1), steps=1)
    # A user loss is trusted with its labels (anything it accepts), single class included.
    tuned = finetune(
        getkey(),
        model,
        x,
        jnp.ones_like(y),
        optimizer=optax.sgd(0.1),
        steps=2,
        loss=lambda s, t: (s - t) ** 2,
    )
    assert np.all(np.isfinite(np.asarray(tuned.w)))


def test_shared_optimizer_is_one_object_per_rate_so_the_loop_compiles_once():
    import jax.monitoring

    from jaxbd import train

    a, b = train.shared_optimizer("adam", 1e-3), train.shared_optimizer("adam", 0.001)
    assert a is b and a is not train.shared_optimizer("adam", 2e-3)
    assert train.shared_optimizer("sgd", 0.1) is not train.shared_optimizer("adam", 0.1)
    objective = lambda p, _k: jnp.sum((p - 1.0) ** 2)  # noqa: E731
    p0 = jnp.zeros(3)
    compiles = []
    listener = lambda event, _secs, **_kw: compiles.append(event)  # noqa: E731
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        first = train.minimize(jr.key(0), objective, p0, optimizer=a, steps=3)
        n = len(compiles)
        again = train.minimize(jr.key(0), objective, p0, optimizer=b, steps=3)
        reused = [e for e in compiles[n:] if e.endswith("backend_compile_duration")]
        train.minimize(jr.key(0), objective, p0, optimizer=optax.adam(1e-3), steps=3)
        fresh = [e for e in compiles[n:] if e.endswith("backend_compile_duration")]
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert n > 0 and reused == [], "the shared optimiser must reuse the compiled loop"
    assert len(fresh) > 0, "control: a fresh optax.adam object compiles the loop again"
    np.testing.assert_array_equal(first, again)
