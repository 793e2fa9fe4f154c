"""Tests for jaxbd.memorizing (Leonardis §2–§6: slicing network, backdoor, audit)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from four_devices import run_on_four_cpu_devices
from hypothesis import assume, given, settings, strategies as st

from jaxbd import memorizing as mz, sharding
from jaxbd.memorizing._kernel import _count_below, _running, _SearchBlock, _sort_columns
from jaxbd.memorizing._search import _split
from jaxbd.metrics import clean_accuracy, predict


# Fixed shapes and search sizes, so the compiled candidate scan is reused across tests.
N, D, NC, BATCH = 24, 5, 64, 32


def _data(seed: int, num_classes: int = 2, n: int = N, d: int = D):
    """Random Gaussian data: distinct points with probability 1, so a valid w exists."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.integers(0, num_classes, n)
    y[:num_classes] = np.arange(num_classes)  # every class present
    if num_classes == 2:
        return jnp.asarray(x), jnp.asarray(np.where(y > 0, 1.0, -1.0).astype(np.float32))
    return jnp.asarray(x), jnp.asarray(y.astype(np.int32))


def _fit(seed, num_classes=2, **kw):
    x, y = _data(seed, num_classes)
    kw = {"num_candidates": NC, "batch_size": BATCH, **kw}
    return x, y, mz.fit(jr.key(seed), x, y, **kw)


def _class_changes(model, x, y):
    p = np.asarray(x @ model.w)
    ys = np.asarray(y)[np.argsort(p, kind="stable")]
    return int(np.sum(ys[1:] != ys[:-1]))


@settings(deadline=None, max_examples=6)
@given(seed=st.integers(0, 2**31 - 1), num_classes=st.sampled_from([2, 3]))
def test_fit_memorizes_random_data(seed, num_classes):
    x, y, model = _fit(seed, num_classes)
    assert clean_accuracy(model, x, y) == 1.0
    assert model.num_neurons == _class_changes(model, x, y)
    b = np.asarray(model.biases)
    assert np.all(np.diff(b) > 0)
    # Every training point is at least `min_gap` from every division point.
    p = np.asarray(x @ model.w)
    if b.size:
        assert np.min(np.abs(p[:, None] - b[None, :])) >= float(model.min_gap) * (1 - 1e-6)
    pc = model.parameter_counts()
    m, c = model.num_neurons, num_classes
    assert pc["dense"] == m * (D + c + 1) and pc["effective"] == D + 2 * m


@settings(deadline=None, max_examples=6)
@given(seed=st.integers(0, 2**31 - 1), num_classes=st.sampled_from([2, 3]))
def test_backdoor_and_audit(seed, num_classes):
    x, y, honest = _fit(seed, num_classes)
    rng = np.random.default_rng(seed + 1)
    x_star = jnp.asarray(rng.standard_normal(D).astype(np.float32))
    b_star = float(honest.project(x_star))
    p = np.asarray(x @ honest.w)
    gap = np.min(np.abs(np.concatenate([p, np.asarray(honest.biases)]) - b_star))
    eps = float(gap) / 4
    assume(eps > 2 * float(mz.resolution(honest.w, x_star)))
    label = predict(honest, x_star[None])[0]
    if num_classes == 2:
        target = -float(label)
    else:
        target = (int(label) + 1) % num_classes
    bd = mz.backdoor(honest, x_star, target, eps=eps, x=x)
    assert float(predict(bd, x_star[None])[0]) == float(target)
    assert clean_accuracy(bd, x, y) == 1.0
    assert bd.num_neurons == honest.num_neurons + 2
    assert np.all(np.diff(np.asarray(bd.biases)) > 0)
    # Audit: honest flags nothing; backdoored flags a range containing w·x*.
    rep_h = mz.audit(honest, x, y)
    assert rep_h.num_flagged == 0 and rep_h.num_mislabeled == 0
    rep = mz.audit(bd, x, y)
    assert rep.num_mislabeled == 0
    hit = rep.contains(b_star)
    assert hit.sum() == 1
    assert np.asarray(rep.unexplained_labels)[hit][0] == target
    assert rep.in_unexplained(np.asarray(x_star)[None])[0]
    lo, hi = rep.unexplained[hit][0]
    assert hi - lo == pytest.approx(2 * eps, rel=1e-3)


@pytest.mark.slow
def test_closed_form_solves_triangular_system():
    for c in (2, 3):
        x, y, model = _fit(3, c)
        m = model.num_neurons
        coeffs = np.concatenate([np.asarray(model.v0)[None], np.asarray(model.v)])
        tri = np.tril(np.ones((m + 1, m + 1)))
        targets = tri @ coeffs  # the §4 system: row k sums v0 and v_1..v_k
        a = float(model.amplitude)
        labels = np.asarray(model.slice_labels())
        if c == 2:
            np.testing.assert_allclose(targets, a * labels)
        else:
            np.testing.assert_allclose(targets, a * (2 * np.eye(c)[labels] - 1))
        # Consecutive slices have different labels (one neuron per class change).
        assert np.all(labels[1:] != labels[:-1])


def test_ramp_activation_exact_steps():
    x, y, model = _fit(5, 2, activation="ramp")
    h = np.asarray(jax.vmap(model.hidden)(x))
    assert np.all((h == 0.0) | (h == 1.0))
    assert clean_accuracy(model, x, y) == 1.0


def test_jit_vmap_grad_of_model():
    x, y, model = _fit(7, 3)
    single = jnp.stack([model(xi) for xi in x[:3]])
    np.testing.assert_allclose(jax.vmap(model)(x[:3]), single, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(eqx.filter_jit(lambda m, v: m(v))(model, x[0]), model(x[0]))
    np.testing.assert_allclose(jax.jit(jax.vmap(model))(x), jax.vmap(model)(x), atol=1e-5)
    g = jax.grad(lambda v: jax.nn.logsumexp(model(v)))(x[0])
    assert g.shape == (D,) and bool(jnp.all(jnp.isfinite(g)))
    # ValueError from the model; TypeError when the jaxtyping import hook checks shapes first.
    with pytest.raises((ValueError, TypeError), match="x"):
        model(x[:2])


def test_fit_is_deterministic_and_criteria():
    x, y = _data(11)
    a = mz.fit(jr.key(0), x, y, num_candidates=NC, batch_size=BATCH)
    b = mz.fit(jr.key(0), x, y, num_candidates=NC, batch_size=BATCH)
    assert bool(eqx.tree_equal(a, b))
    small = mz.fit(jr.key(0), x, y, num_candidates=NC, batch_size=BATCH, criterion="fewest_slices")
    sc = mz.candidate_search(jr.key(0), x, y, num_candidates=NC, batch_size=BATCH)
    assert small.num_neurons == int(sc.num_slices[sc.valid].min())
    assert clean_accuracy(small, x, y) == 1.0


@pytest.mark.slow
def test_candidate_search_memory_bounded_by_batch():
    """Peak temporary memory of the compiled search does not grow with num_candidates beyond
    O(num_candidates) scalars of output; a search materialising all candidates at once would
    need num_candidates * n floats."""
    n, d, batch = 256, 8, 64
    x = jnp.zeros((n, d), jnp.float32)
    cls = jnp.zeros((n,), jnp.int32)
    block = _SearchBlock(jr.key(0), x, cls, None, None, None, batch)
    mesh = sharding.batch_mesh(jax.devices()[:1])

    def temp_bytes(num):
        firsts = jnp.arange(0, num, batch, dtype=jnp.int32)
        lowered = sharding._run.lower(block, (firsts,), 1, mesh)
        ma = lowered.lowered.compile().memory_analysis()
        if ma is None:
            pytest.skip("backend gives no memory analysis")
        return ma.temp_size_in_bytes

    small, large = temp_bytes(256), temp_bytes(4096)
    naive_growth = (4096 - 256) * n * 4
    assert large - small < 0.25 * naive_growth, (small, large)


def _reference_search(key, x, y, num_candidates, validation_fraction, x_eval, y_eval):
    """Numpy reference of `candidate_search`, one candidate at a time with two stable sorts
    (the full set, and the fit rows alone), as the module docstring describes the scores."""
    x, xe = np.asarray(x), np.asarray(x_eval)
    cls = (np.asarray(y) > 0).astype(np.int32)
    ce = (np.asarray(y_eval) > 0).astype(np.int32)
    tr, va = _split(jr.fold_in(key, 2**31 - 1), x.shape[0], validation_fraction)
    eps = np.finfo(np.float32).eps
    out = []

    def nn(ps, cs, q):
        i = np.searchsorted(ps, q)
        lft, rgt = np.clip(i - 1, 0, len(ps) - 1), np.clip(i, 0, len(ps) - 1)
        return cs[np.where(np.abs(q - ps[lft]) <= np.abs(ps[rgt] - q), lft, rgt)]

    for i in range(num_candidates):
        w = np.asarray(mz.candidate_direction(key, i, x.shape[1]))
        p, a = x @ w, np.abs(x) @ np.abs(w)
        o = np.argsort(p, kind="stable")
        ps, cs, as_ = p[o], cls[o], a[o]
        change = cs[1:] != cs[:-1]
        ok = bool(
            np.all(~change | (np.diff(ps) > mz.EQUAL_TOLERANCE * eps * (as_[1:] + as_[:-1])))
        )
        of = np.argsort(p[tr], kind="stable")
        val = np.mean(nn(p[tr][of], cls[tr][of], p[va]) == cls[va])
        ev = np.mean(nn(ps, cs, xe @ w) == ce)
        out.append((ok, int(change.sum()), val, ev))
    return [np.asarray(c) for c in zip(*out)]


@pytest.mark.slow
def test_candidate_search_matches_numpy_reference_with_duplicate_points():
    """Same candidates, same scores as a per-candidate numpy loop. Duplicated rows (same label)
    create exact ties in every projection; an opposite-label near-duplicate makes some
    candidates invalid. Accuracies agree exactly on valid candidates (module docstring)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((37, 4)).astype(np.float32)
    x[30:35] = x[:5]  # duplicates, same labels below
    x[35] = x[6]
    x[35, 0] += 4e-6  # numerically equal to a point of the other class for some w
    y = np.where(rng.random(37) < 0.5, 1.0, -1.0).astype(np.float32)
    y[30:35], y[35] = y[:5], -y[6]
    xe = rng.standard_normal((11, 4)).astype(np.float32)
    xe[:3] = x[:3]
    ye = np.where(rng.random(11) < 0.5, 1.0, -1.0).astype(np.float32)
    key = jr.key(7)
    sc = mz.candidate_search(
        key,
        jnp.asarray(x),
        jnp.asarray(y),
        num_candidates=70,
        batch_size=32,
        x_eval=jnp.asarray(xe),
        y_eval=jnp.asarray(ye),
    )  # 70 = 2 full blocks + a partial one
    ok, m, val, ev = _reference_search(key, x, y, 70, 0.2, xe, ye)
    assert 0 < ok.sum() < 70  # both kinds present, so the comparison means something
    np.testing.assert_array_equal(sc.valid, ok)
    np.testing.assert_array_equal(sc.num_slices, m)
    np.testing.assert_allclose(sc.val_accuracy[ok], val[ok], rtol=1e-6)
    np.testing.assert_allclose(sc.eval_accuracy, ev, rtol=1e-6)


# Jitted once per shape (at most 7 here): eagerly, each of the network's compare-exchange
# stages would dispatch (and compile) its own small ops, ~2 CPU-s per example.
_SORT, _COUNT = jax.jit(_sort_columns), jax.jit(_count_below)


@settings(deadline=None, max_examples=10)
@given(
    seed=st.integers(0, 2**31 - 1),
    log_m=st.integers(1, 7),
    distinct=st.integers(1, 6),
)
@pytest.mark.slow
def test_sort_columns_is_a_stable_argsort(seed, log_m, distinct):
    """The sorting network equals a stable argsort per column, ties (few distinct values)
    included; `_count_below` equals `np.searchsorted(side="left")`."""
    rng = np.random.default_rng(seed)
    m = 2**log_m
    keys = rng.integers(0, distinct, (m, 3)).astype(np.float32)
    keys[rng.random((m, 3)) < 0.1] = np.inf
    ks, rows = _SORT(jnp.asarray(keys))
    order = np.argsort(keys, axis=0, kind="stable")
    np.testing.assert_array_equal(np.asarray(rows), order)
    np.testing.assert_array_equal(np.asarray(ks), np.take_along_axis(keys, order, 0))
    q = rng.integers(-1, distinct + 1, (5, 3)).astype(np.float32)
    got = np.asarray(_COUNT(ks, jnp.asarray(q)))
    want = np.stack([np.searchsorted(np.asarray(ks)[:, b], q[:, b]) for b in range(3)], 1)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("m", [1, 2, 5, 8, 300])
def test_running_max_min_equal_numpy_accumulate(m):
    """`_running` (rolled recursive doubling) equals numpy's running max / min down axis 0,
    power-of-two lengths and others, on the kernel's values (positions in `-1..m`, the fills
    being -1 for max and m for min)."""
    a = np.random.default_rng(m).integers(-1, m + 1, (m, 4)).astype(np.int32)
    run = jax.jit(_running, static_argnums=(0, 2))
    np.testing.assert_array_equal(run(jnp.maximum, jnp.asarray(a), -1), np.maximum.accumulate(a))
    np.testing.assert_array_equal(
        run(jnp.minimum, jnp.asarray(a), m), np.minimum.accumulate(a, axis=0)
    )


def test_bad_inputs():
    x, y = _data(1)
    with pytest.raises(ValueError, match="identical"):
        xd = x.at[1].set(x[0])
        yd = y.at[1].set(-y[0])
        mz.fit(jr.key(0), xd, yd, num_candidates=NC, batch_size=BATCH)
    with pytest.raises(ValueError, match="NaN"):
        mz.fit(jr.key(0), x.at[0, 0].set(jnp.nan), y, num_candidates=NC)
    with pytest.raises(ValueError, match="num_candidates"):
        mz.fit(jr.key(0), x, y, num_candidates=0)
    with pytest.raises(ValueError, match="criterion"):
        mz.fit(jr.key(0), x, y, num_candidates=NC, criterion="best")
    model = mz.fit(jr.key(0), x, y, num_candidates=NC, batch_size=BATCH)
    x_star = x[0] + 0.01
    with pytest.raises(ValueError, match="eps"):
        mz.backdoor(model, x_star, 1.0, eps=0.0)
    with pytest.raises(ValueError, match="eps"):
        mz.backdoor(model, x_star, 1.0, eps=-1.0)
    with pytest.raises(ValueError, match="resolves"):
        mz.backdoor(model, x_star, 1.0, eps=1e-12)
    for bad in (0.0, 2.0, 0.5):
        with pytest.raises(ValueError, match="target"):
            mz.backdoor(model, x_star, bad, eps=1e-3)
    # A range centred on a training point swallows it: named by index.
    with pytest.raises(ValueError, match="training point 0"):
        mz.backdoor(model, x[0], -float(y[0]), eps=1e-3, x=x)
    with pytest.raises(ValueError, match="division point"):
        mz.backdoor(model, x_star, 1.0, eps=1e6)
    with pytest.raises((ValueError, TypeError), match="x_star"):
        mz.backdoor(model, x_star[:2], 1.0, eps=1e-3)
    x3, y3, m3 = _fit(2, 3)
    with pytest.raises(ValueError, match="target"):
        mz.backdoor(m3, x3[0] + 0.01, 3, eps=1e-3)
    with pytest.raises(ValueError, match="target"):
        mz.backdoor(m3, x3[0] + 0.01, -1, eps=1e-3)
    with pytest.raises(ValueError, match="equal projections"):
        mz.from_direction(jnp.zeros((D,), jnp.float32), x, y)
    with pytest.raises(ValueError, match="does not match"):
        mz.audit(m3, x, y)


def test_audit_with_withheld_point_flags_its_range():
    x, y, model = _fit(13)
    rep = mz.audit(model, x, y)
    singles = np.nonzero(rep.counts == 1)[0]
    assume_ok = singles.size > 0
    if not assume_ok:
        pytest.skip("no single-point slice for this seed")
    s = int(singles[0])
    p = np.asarray(x @ model.w)
    i = int(np.nonzero(np.searchsorted(np.asarray(model.biases), p) == s)[0][0])
    keep = np.setdiff1d(np.arange(N), [i])
    rep2 = mz.audit(model, np.asarray(x)[keep], np.asarray(y)[keep])
    assert rep2.num_flagged == 1 and rep2.contains(p[i]).any()


_SHARDED_SCRIPT = """
import jax, jax.numpy as jnp, jax.random as jr, numpy as np
from jaxbd import memorizing as mz, sharding
assert len(jax.devices()) == 4, jax.devices()
rng = np.random.default_rng(0)
x = jnp.asarray(rng.standard_normal((40, 5)).astype(np.float32))
y = jnp.asarray(np.where(rng.random(40) < 0.5, 1.0, -1.0).astype(np.float32))
kw = dict(num_candidates=150, batch_size=16, x_eval=x[:9], y_eval=y[:9])  # 10 blocks: padded to 12
a = mz.candidate_search(jr.key(1), x, y, **kw)
b = mz.candidate_search(jr.key(1), x, y, mesh=sharding.batch_mesh(jax.devices()[:1]), **kw)
for f in ("valid", "num_slices", "val_accuracy", "eval_accuracy"):
    np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
print("OK")
"""


@pytest.mark.slow  # 4-device equality in a subprocess (~10 CPU-s): .ci/run's slow step
def test_candidate_search_sharded_over_four_cpu_devices_equals_one_device():
    run_on_four_cpu_devices(_SHARDED_SCRIPT)


def test_constructor_checks_hold_for_tracers_and_audit_takes_label_subsets():
    """`__check_init__` checks values only when concrete: building a network from traced arrays
    under jit/vmap works; the audit of a one-class subset of the training set is allowed."""
    x, y, model = _fit(17)
    fields = {f: getattr(model, f) for f in ("w", "biases", "v", "v0", "min_gap")}
    build = lambda **a: mz.SlicingNetwork(**a, num_classes=2, activation=model.activation)
    rebuilt = eqx.filter_jit(lambda a: build(**a))(fields)
    assert bool(eqx.tree_equal(rebuilt, model))
    scaled = jax.vmap(lambda s: build(**{**fields, "v": fields["v"] * s}).v)(jnp.ones(2))
    assert scaled.shape == (2, model.num_neurons)
    keep = np.asarray(y) > 0
    rep = mz.audit(model, np.asarray(x)[keep], np.asarray(y)[keep])
    assert rep.counts.sum() == keep.sum()


def test_saved_files_name_the_public_class_and_load(tmp_path):
    """The package's submodules stay out of files: a network is saved as
    `jaxbd.memorizing.SlicingNetwork` (the name files written before the split carry) and loads
    back leaf for leaf."""
    import jaxbd.io

    x, y, model = _fit(5, 3)
    path = tmp_path / "net.jaxbd"
    jaxbd.io.save(path, model)
    assert jaxbd.io.read_header(path)["classes"] == ["jaxbd.memorizing.SlicingNetwork"]
    back = jaxbd.io.load(path)
    assert type(back) is mz.SlicingNetwork
    for a, b in zip(jax.tree_util.tree_leaves(model), jax.tree_util.tree_leaves(back)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_public_functions_check_traced_arguments():
    """`candidate_direction` (the search calls it on traced indices) and `resolution` work under
    jit with the same numbers as eagerly, and their value checks fire when the program runs;
    the host-level functions refuse traced arguments by name."""
    key = jr.key(3)
    idx = jnp.arange(4, dtype=jnp.int32)
    eager = np.stack([np.asarray(mz.candidate_direction(key, int(i), D)) for i in idx])
    traced = jax.jit(jax.vmap(lambda i: mz.candidate_direction(key, i, D)))(idx)
    np.testing.assert_array_equal(np.asarray(traced), eager)
    with pytest.raises(Exception, match="`index` must be >= 0"):
        jax.jit(lambda i: mz.candidate_direction(key, i, D))(jnp.int32(-1)).block_until_ready()
    x, y, model = _fit(6)
    np.testing.assert_array_equal(
        np.asarray(jax.jit(mz.resolution)(model.w, x)), np.asarray(mz.resolution(model.w, x))
    )
    with pytest.raises(Exception, match="`x` contains NaN"):
        jax.jit(mz.resolution)(model.w, x.at[0, 0].set(jnp.nan)).block_until_ready()
    with pytest.raises(ValueError, match="`x` must be concrete"):
        jax.jit(lambda v: mz.audit(model, v, y).counts)(x)
    x_star = x[0] + 0.01
    with pytest.raises(ValueError, match="`target` must be concrete"):
        jax.jit(lambda t: mz.backdoor(model, x_star, t, eps=1e-3).w)(1.0)
    x3, y3, m3 = _fit(2, 3)
    for bad in (np.inf, np.nan):  # a multiclass target must be finite (named, not an overflow)
        with pytest.raises(ValueError, match="`target`"):
            mz.backdoor(m3, x3[0] + 0.01, bad, eps=1e-3)
