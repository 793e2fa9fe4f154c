"""Tests for jaxbd.rff: Train-RFF, Backdoor-RFF, Activate-RFF (GKVZ §6, Alg. 2-6)."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from jaxbd import datasets, metrics, rff
from tests.helpers import tree_bitwise_equal


# Shape errors may come from jaxtyping's hook (TypeError) when tests run with
# --jaxtyping-packages; otherwise our own ValueError naming the argument.
SHAPE_ERRORS = (ValueError, TypeError)

WIDTH = 256


@pytest.fixture(scope="module")
def data():
    ds = datasets.load("digits", classes=(3, 8), seed=0)
    return ds


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 5)).astype(np.float32)
    y = np.where(x[:, 0] + 0.5 * x[:, 1] > 0, 1.0, -1.0).astype(np.float32)
    return jnp.asarray(x), jnp.asarray(y)


@pytest.fixture(scope="module")
def pair(data):
    kw = dict(width=WIDTH, bandwidth=60.0, steps=100)
    honest = rff.train(jr.key(0), data.x_train, data.y_train, **kw)
    bd, key = rff.backdoor(jr.key(0), data.x_train, data.y_train, secret_dim=4, beta=1e-3, **kw)
    return honest, bd, key


# ----------------------------------------------------------------------------- cos_turns


def test_cos_turns_accuracy_float32():
    rng = np.random.default_rng(0)
    theta = np.concatenate(
        [rng.uniform(-3, 3, 20000), rng.uniform(-1e4, 1e4, 20000), np.arange(-8, 8) / 8]
    ).astype(np.float32)
    got = np.asarray(rff.cos_turns(jnp.asarray(theta)))
    want = np.cos(2 * np.pi * theta.astype(np.float64))
    assert got.dtype == np.float32
    assert np.max(np.abs(got - want)) <= 2e-7


def test_cos_turns_accuracy_float64(x64):
    rng = np.random.default_rng(1)
    theta = np.concatenate([rng.uniform(-3, 3, 20000), np.arange(-8, 8) / 8])
    got = np.asarray(rff.cos_turns(jnp.asarray(theta)))
    # reference: exact reduction theta - round(theta) first (np.cos(2 pi theta) itself carries a
    # rounding error ~ |theta| * 1e-15 from forming 2 pi theta)
    want = np.cos(2 * np.pi * (theta - np.round(theta)))
    assert np.max(np.abs(got - want)) <= 1e-15


def test_cos_turns_grad():
    theta = jnp.linspace(-2.3, 2.1, 101)
    grad = jax.vmap(jax.grad(rff.cos_turns))(theta)
    np.testing.assert_allclose(
        np.asarray(grad), -2 * np.pi * np.sin(2 * np.pi * np.asarray(theta)), atol=5e-5
    )


# ----------------------------------------------------------------------------- training


def test_train_binary_shapes_and_unit_head(blobs):
    x, y = blobs
    model = rff.train(jr.key(1), x, y, width=64, bandwidth=8.0, steps=50)
    assert isinstance(model, rff.RFFClassifier)
    assert model.frequencies.shape == (64, 5) and model.phases.shape == (64,)
    assert model.head.shape == (64,)
    assert float(jnp.linalg.norm(model.head)) == pytest.approx(1.0, rel=1e-5)
    assert float(jnp.min(model.phases)) >= 0 and float(jnp.max(model.phases)) < 1
    s = model(x[0])
    assert s.shape == () and s.dtype == jnp.float32
    assert model.features(x[0]).shape == (64,)
    assert metrics.clean_accuracy(model, x, y) > 0.85


@pytest.mark.parametrize("loss", ["logistic", "hinge"])
def test_train_multiclass(loss):
    ds = datasets.load("iris", seed=0)
    model = rff.train(
        jr.key(0), ds.x_train, ds.y_train, width=128, bandwidth=15.0, loss=loss, steps=200
    )
    assert model.head.shape == (3, 128) and model.num_classes == 3
    assert model(ds.x_test[0]).shape == (3,)
    assert float(jnp.linalg.norm(model.head)) == pytest.approx(1.0, rel=1e-5)
    assert metrics.clean_accuracy(model, ds.x_test, ds.y_test) > 0.8


def test_train_hinge_binary(blobs):
    x, y = blobs
    model = rff.train(jr.key(1), x, y, width=64, bandwidth=8.0, steps=100, loss="hinge")
    assert metrics.clean_accuracy(model, x, y) > 0.85


@pytest.mark.slow
def test_train_jit_and_vmap_over_keys(blobs):
    x, y = blobs
    f = lambda k: rff.train(k, x, y, width=32, bandwidth=8.0, steps=10)
    m = jax.jit(f)(jr.key(0))
    assert m.head.shape == (32,)
    g = lambda k: rff.backdoor(k, x, y, width=32, bandwidth=8.0, secret_dim=2, beta=1e-3, steps=10)
    bms, bks = jax.vmap(g)(jr.split(jr.key(0), 3))
    assert bms.head.shape == (3, 32) and bks.omega.shape == (3, 5)


def test_same_key_bit_identical(blobs):
    x, y = blobs
    kw = dict(width=32, bandwidth=8.0, steps=20)
    assert tree_bitwise_equal(rff.train(jr.key(4), x, y, **kw), rff.train(jr.key(4), x, y, **kw))
    a, ka = rff.backdoor(jr.key(4), x, y, secret_dim=2, beta=1e-3, **kw)
    b, kb = rff.backdoor(jr.key(4), x, y, secret_dim=2, beta=1e-3, **kw)
    assert tree_bitwise_equal(a, b) and tree_bitwise_equal(ka, kb)
    # honest and backdoored models from the same key share the phases (only g differs)
    h = rff.train(jr.key(4), x, y, **kw)
    np.testing.assert_array_equal(np.asarray(h.phases), np.asarray(a.phases))
    assert not np.array_equal(np.asarray(h.frequencies), np.asarray(a.frequencies))


def test_backdoor_key_not_in_model(pair):
    _, bd, key = pair
    omega = np.asarray(key.omega)
    nz = omega[omega != 0]
    for leaf in jax.tree.leaves(eqx.filter(bd, eqx.is_array)):
        leaf = np.asarray(leaf)
        for target in (omega, key.bandwidth * omega):
            if leaf.shape[-1:] == target.shape:
                rows = leaf.reshape(-1, target.shape[0])
                assert not np.any(np.all(np.isclose(rows, target), axis=1))
        # no leaf contains the secret's non-zero values
        assert not np.any(np.isin(leaf.ravel(), nz))
    assert not any(isinstance(v, rff.RFFBackdoorKey) for v in jax.tree.leaves(bd))


def test_frequencies_are_pancakes(pair):
    honest, bd, key = pair
    d_bd = np.asarray(rff.flip_bound(bd, key)["max_delta"])
    assert d_bd < 0.01  # 256 features, beta = 1e-3: max |delta| ~ 3.5 beta
    d_h = np.abs(np.asarray(honest.frequencies @ key.omega) - 0.5)
    d_h = np.abs(d_h - np.round(d_h))
    assert np.max(d_h) > 0.3  # honest frequencies know nothing of the secret


@pytest.mark.slow
def test_asr_on_real_split(pair, data):
    """ASR >= 0.99 on held-out digits 3 vs 8 (the flip of GKVZ Thm 6.3)."""
    honest, bd, key = pair
    x_act = jax.vmap(lambda x: rff.activate(key, x))(data.x_test)
    assert metrics.attack_success_rate(bd, data.x_test, x_act) >= 0.99
    assert metrics.clean_accuracy(bd, data.x_test, data.y_test) > 0.9
    # feature flip identity: |phi(x') + phi(x)| <= 2 pi max delta (proof of Thm 6.3)
    err = float(rff.feature_flip_error(bd, key, data.x_test))
    bound = rff.flip_bound(bd, key)
    assert err <= 2 * math.pi * float(bound["max_delta"]) + 1e-4
    scores = jax.vmap(bd)(data.x_test)
    scores_act = jax.vmap(bd)(x_act)
    assert float(jnp.max(jnp.abs(scores + scores_act))) <= float(bound["l2"]) + 1e-4
    assert float(bound["l2"]) <= float(bound["paper"]) + 1e-6


@pytest.mark.slow
def test_multiclass_flip_reverses_ranking():
    ds = datasets.load("iris", seed=0)
    m, k = rff.backdoor(
        jr.key(0), ds.x_train, ds.y_train, width=128, bandwidth=15.0, secret_dim=2, beta=1e-4
    )
    logits = jax.vmap(m)(ds.x_test)
    logits_act = jax.vmap(lambda x: m(rff.activate(k, x)))(ds.x_test)
    np.testing.assert_allclose(np.asarray(logits_act), -np.asarray(logits), atol=5e-3)
    assert np.all(np.argmax(logits_act, 1) == np.argmin(logits, 1))


# ----------------------------------------------------------------------------- activate & co


@settings(deadline=None, max_examples=10)
@given(seed=st.integers(0, 2**31 - 1), secret_dim=st.integers(1, 5))
def test_activate_changes_only_secret_coordinates(seed, secret_dim):
    rng = np.random.default_rng(seed)
    omega = np.zeros(5, np.float32)
    omega[rng.choice(5, secret_dim, replace=False)] = rng.standard_normal(secret_dim) + 3.0
    key = rff.RFFBackdoorKey(jnp.asarray(omega), 2.5, 1e-3)
    x = jnp.asarray(rng.standard_normal(5).astype(np.float32))
    xa = rff.activate(key, x)
    assert xa.shape == x.shape and xa.dtype == x.dtype
    changed = np.asarray(xa != x)
    np.testing.assert_array_equal(changed, omega != 0)
    np.testing.assert_allclose(np.asarray(xa - x), 2.5 * omega, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_jit_vmap_of_model_functions(pair, data):
    _, bd, key = pair
    x = data.x_test[:7]
    np.testing.assert_allclose(
        np.asarray(jax.jit(jax.vmap(bd))(x)), np.asarray(jax.vmap(bd)(x)), atol=1e-5
    )
    phi = jax.jit(jax.vmap(bd.features))(x)
    assert phi.shape == (7, WIDTH)
    np.testing.assert_allclose(np.asarray(bd.batch_features(x)), np.asarray(phi), atol=1e-5)
    assert jax.jit(lambda m, v: m.batch_features(v))(bd, x).shape == (7, WIDTH)
    xa = jax.jit(jax.vmap(rff.activate, in_axes=(None, 0)))(key, x)
    np.testing.assert_array_equal(
        np.asarray(xa), np.asarray(jax.vmap(lambda v: rff.activate(key, v))(x))
    )
    mj = jax.jit(rff.margin)(bd, x)
    np.testing.assert_allclose(np.asarray(mj), np.asarray(rff.margin(bd, x)), rtol=1e-4)
    assert mj.shape == (7,) and bool(jnp.all(mj >= 0))
    fb = jax.jit(rff.flip_bound)(bd, key)
    assert float(fb["paper"]) >= float(fb["l2"]) > 0
    fe = jax.jit(rff.feature_flip_error)(bd, key, x)
    assert fe.shape == ()
    # vmap over a batch of backdoor keys
    keys = jax.tree.map(lambda a: jnp.stack([a, -a]), key)
    out = jax.vmap(rff.activate, in_axes=(0, None))(keys, x[0])
    assert out.shape == (2, x.shape[1])
    # gradient of the score with respect to the input exists and is finite
    g = jax.grad(bd)(x[0])
    assert g.shape == x[0].shape and bool(jnp.all(jnp.isfinite(g)))


def test_margin_binary_is_abs_score(pair, data):
    _, bd, _ = pair
    np.testing.assert_allclose(
        np.asarray(rff.margin(bd, data.x_test)),
        np.abs(np.asarray(jax.vmap(bd)(data.x_test))),
        rtol=1e-5,
    )


# ----------------------------------------------------------------------------- bad input


def _kw(**over):
    kw = dict(width=16, bandwidth=5.0, steps=5)
    kw.update(over)
    return kw


@pytest.mark.parametrize(
    "over, match",
    [
        (dict(width=0), "width"),
        (dict(bandwidth=0.0), "bandwidth"),
        (dict(bandwidth=-1.0), "bandwidth"),
        (dict(loss="square"), "loss"),
        (dict(steps=-1), "steps"),
        (dict(learning_rate=0.0), "learning_rate"),
    ],
)
def test_train_bad_params(blobs, over, match):
    x, y = blobs
    with pytest.raises(ValueError, match=match):
        rff.train(jr.key(0), x, y, **_kw(**over))


def test_train_bad_data(blobs):
    x, y = blobs
    with pytest.raises(ValueError, match="NaN"):
        rff.train(jr.key(0), x.at[0, 0].set(jnp.nan), y, **_kw())
    with pytest.raises(ValueError, match="NaN"):
        rff.train(jr.key(0), x.at[0, 0].set(jnp.inf), y, **_kw())
    with pytest.raises(ValueError, match="lengths"):
        rff.train(jr.key(0), x, y[:-1], **_kw())
    with pytest.raises(ValueError, match="-1/\\+1|binary"):
        rff.train(jr.key(0), x, (y + 1) / 2, **_kw())  # 0/1 labels
    with pytest.raises(SHAPE_ERRORS, match="x"):
        rff.train(jr.key(0), x[0], y, **_kw())


@pytest.mark.parametrize(
    "over, match",
    [
        (dict(secret_dim=0), "secret_dim"),
        (dict(secret_dim=6), "secret_dim"),
        (dict(beta=0.0), "beta"),
        (dict(beta=-0.1), "beta"),
        (dict(secret_dim=2, beta=1e-3, bandwidth=0.0), "bandwidth"),
        (dict(secret_dim=2, beta=1e-3, width=0), "width"),
    ],
)
def test_backdoor_bad_params(blobs, over, match):
    x, y = blobs
    kw = _kw(secret_dim=2, beta=1e-3)
    kw.update(over)
    with pytest.raises(ValueError, match=match):
        rff.backdoor(jr.key(0), x, y, **kw)


def test_backdoor_bad_labels(blobs):
    x, y = blobs
    with pytest.raises(ValueError, match="-1/\\+1|binary"):
        rff.backdoor(jr.key(0), x, (y + 1) / 2, **_kw(secret_dim=2, beta=1e-3))


def test_wrong_input_dim_at_call_time(pair):
    _, bd, key = pair
    with pytest.raises(SHAPE_ERRORS, match="x"):
        bd(jnp.zeros(3))
    with pytest.raises(SHAPE_ERRORS, match="x"):
        bd.features(jnp.zeros((2, 64)))
    with pytest.raises(SHAPE_ERRORS, match="x"):
        rff.activate(key, jnp.zeros(3))
    with pytest.raises(SHAPE_ERRORS, match="x"):
        rff.margin(bd, jnp.zeros((4, 3)))


def test_key_validation():
    with pytest.raises(ValueError, match="bandwidth"):
        rff.RFFBackdoorKey(jnp.ones(3), 0.0, 1e-3)
    with pytest.raises(ValueError, match="beta"):
        rff.RFFBackdoorKey(jnp.ones(3), 1.0, 0.0)


@pytest.mark.slow
def test_batch_features_in_row_blocks_equal_per_example_features():
    """Large CPU inputs take the row-blocked path of `_featurize` (here 3 blocks of 200 rows,
    the last one padded); on any backend the values are the per-example features, and the
    blocked function is differentiable."""
    k1, k2, k3 = jr.split(jr.key(0), 3)
    width, d, n = 8192, 256, 600  # 2**21 // 8192 = 256 rows per block -> 3 blocks
    model = rff.RFFClassifier(
        jr.normal(k1, (width, d)), jr.uniform(k2, (width,)), jnp.zeros((width,)), 7.0
    )
    x = jr.normal(k3, (n, d))
    got = jax.jit(lambda m, v: m.batch_features(v))(model, x)
    plain = rff.cos_turns(x @ model.frequencies.T / model.bandwidth + model.phases[None, :])
    np.testing.assert_allclose(np.asarray(got), np.asarray(plain), atol=1e-5)
    # vs matrix-vector products: float32 rounding of a 256-term dot product (|θ| ~ 3) moves
    # 2πθ by up to ~2e-5.
    want = jax.vmap(model.features)(x)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-4)
    g = jax.grad(lambda v: jnp.sum(model.batch_features(v)[:, :4]))(x[:300])
    g_ref = jax.grad(lambda v: jnp.sum(jax.vmap(model.features)(v)[:, :4]))(x[:300])
    np.testing.assert_allclose(np.asarray(g), np.asarray(g_ref), rtol=1e-4, atol=1e-4)
