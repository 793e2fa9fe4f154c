"""Tests for jaxbd.clwe: sparse secrets, exact Gaussian pancakes, CLWE.

Statistical tests use fixed seeds (so they are deterministic); the false-failure probability
stated for each is the chance that a *correct* sampler fails at that threshold for a random seed.
"""

import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings, strategies as st

from jaxbd import clwe


# ----------------------------------------------------------------------------- sample_secret


def test_sample_secret_support_and_norm(getkey):
    omega = clwe.sample_secret(getkey(), 50, support=7)
    assert omega.shape == (50,)
    assert int(jnp.sum(omega != 0)) == 7
    assert float(jnp.linalg.norm(omega)) == pytest.approx(2 * math.sqrt(7), rel=1e-5)
    dense = clwe.sample_secret(getkey(), 12)
    assert int(jnp.sum(dense != 0)) == 12
    assert float(jnp.linalg.norm(dense)) == pytest.approx(2 * math.sqrt(12), rel=1e-5)
    big = clwe.sample_secret(getkey(), 12, support=3, gamma=10.0)
    assert float(jnp.linalg.norm(big)) == pytest.approx(10.0, rel=1e-5)


def test_sample_secret_dtype(getkey, x64):
    omega = clwe.sample_secret(getkey(), 9, support=2, dtype=jnp.float64)
    assert omega.dtype == jnp.float64


def test_sample_secret_support_is_uniform():
    # Each coordinate lies in the support with probability k/d = 0.3; over 400 keys the count per
    # coordinate is Binomial(400, 0.3) (mean 120, sd 9.2); a 5-sd band fails w.p. < 1e-5 overall.
    keys = jr.split(jr.key(3), 400)
    omegas = jax.vmap(lambda k: clwe.sample_secret(k, 10, support=3))(keys)
    counts = np.asarray(jnp.sum(omegas != 0, axis=0))
    assert np.all(np.abs(counts - 120) < 5 * 9.2)
    # vmap over keys: every row has the right support size and norm
    assert np.all(np.asarray(jnp.sum(omegas != 0, axis=1)) == 3)


def test_sample_secret_jit_vmap(getkey):
    f = jax.jit(lambda k: clwe.sample_secret(k, 16, support=4))
    a = f(getkey())
    assert a.shape == (16,) and int(jnp.sum(a != 0)) == 4
    keys = jr.split(getkey(), 5)
    b = jax.vmap(lambda k: clwe.sample_secret(k, 16, support=4))(keys)
    assert b.shape == (5, 16)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(b), axis=1), 4.0, rtol=1e-5)
    # traced gamma is accepted (no warning possible under jit)
    c = jax.jit(lambda k, g: clwe.sample_secret(k, 16, support=4, gamma=g))(getkey(), 5.0)
    assert float(jnp.linalg.norm(c)) == pytest.approx(5.0, rel=1e-5)


def test_sample_secret_warns_outside_hardness(getkey):
    with pytest.warns(clwe.HardnessWarning, match="gamma"):
        clwe.sample_secret(getkey(), 10, support=4, gamma=3.0)


# `sample_secret`'s bad arguments (dim, support, gamma): rows of the bad-input table (clwe).


# ----------------------------------------------------------------------------- pancakes


def test_layer_distribution_is_normalised_and_symmetric():
    a, p, mu, s = clwe.layer_distribution(4.0, 0.01, shift=0.5, max_gamma=6.0)
    assert a.shape == p.shape == mu.shape == (clwe.num_layers(6.0),)
    assert float(jnp.sum(p)) == pytest.approx(1.0, abs=1e-6)
    # shift 1/2: layers at ±(k + 1/2) have equal weight
    np.testing.assert_allclose(np.asarray(p), np.asarray(p)[::-1], rtol=1e-5, atol=1e-12)
    assert float(s) == pytest.approx(0.01 / math.sqrt(16 + 1e-4), rel=1e-5)
    # table reaches 12 sigma of the largest allowed scale
    assert float(jnp.max(a)) >= 12 * 6.0


@jax.jit
def _pancakes64(key, omega, beta):
    return clwe.pancakes(key, omega, 2000, beta=beta, shift=0.5)


@jax.jit
def _pancakes64_shift0(key, omega, beta):
    return clwe.pancakes(key, omega, 2000, beta=beta, shift=0.0)


@settings(deadline=None, max_examples=6)
@given(
    seed=st.integers(0, 2**31 - 1),
    support=st.integers(1, 24),
    log_beta=st.floats(-6, -1),
    shift=st.sampled_from([0.0, 0.5]),
)
@pytest.mark.slow
def test_pancakes_near_layers(seed, support, log_beta, shift):
    """<g, omega> is within 7 sd of Z + shift (after the deterministic shrink), in float64.

    The noise sd is gamma beta / sigma <= beta; a 7-sd excursion among 2000 samples has
    probability < 2000 * 2.6e-12 = 5e-9 per example. (Secrets are drawn with numpy so that the
    jitted sampler compiles once per shift: beta and omega are traced.)
    """
    dim = 24
    with jax.enable_x64(True):
        rng = np.random.default_rng(seed)
        omega = np.zeros(dim)
        idx = rng.choice(dim, support, replace=False)
        v = rng.standard_normal(support)
        omega[idx] = 2 * math.sqrt(support) * v / np.linalg.norm(v)
        beta = 10.0**log_beta
        f = _pancakes64 if shift == 0.5 else _pancakes64_shift0
        g = f(jr.key(seed), jnp.asarray(omega), jnp.asarray(beta))
        assert g.shape == (2000, dim) and g.dtype == jnp.float64
        v = np.asarray(g) @ omega
        gamma2 = float(omega @ omega)
        a = np.round(v - shift) + shift  # nearest layer
        shrink = a * beta**2 / (gamma2 + beta**2)
        noise_sd = math.sqrt(gamma2) * beta / math.sqrt(gamma2 + beta**2)
        assert np.max(np.abs(v - (a - shrink))) <= 7 * noise_sd
        assert np.max(clwe.distance_to_layers(v, shift=shift)) <= 7 * beta + np.max(np.abs(shrink))
        # off-support coordinates are untouched by the conditioning (bit-exact z)
        assert np.all(np.isfinite(np.asarray(g)))


@pytest.mark.slow
def test_pancakes_off_support_and_orthogonal_are_standard_normal(x64):
    """Off-support coordinates, and the projection on a direction orthogonal to omega, are
    exactly N(0, 1): KS tests at level 1e-3 each (false-failure probability 1e-3 per test for a
    random seed; the seed is fixed)."""
    key = jr.key(11)
    k1, k2, k3 = jr.split(key, 3)
    omega = clwe.sample_secret(k1, 30, support=5, dtype=jnp.float64)
    g = np.asarray(clwe.pancakes(k2, omega, 4000, beta=1e-3))
    off = np.flatnonzero(np.asarray(omega) == 0)
    for j in off[:3]:
        assert scipy.stats.kstest(g[:, j], "norm").pvalue > 1e-3
    # a random direction orthogonal to omega
    v = np.asarray(jr.normal(k3, (30,), jnp.float64))
    u = np.asarray(omega) / np.linalg.norm(np.asarray(omega))
    v = v - (v @ u) * u
    v /= np.linalg.norm(v)
    assert scipy.stats.kstest(g @ v, "norm").pvalue > 1e-3
    # ... and the projection on omega itself is NOT (pancakes): it sits near Z + 1/2
    assert np.max(clwe.distance_to_layers(g @ np.asarray(omega))) < 0.01


@pytest.mark.slow
def test_pancakes_projection_follows_exact_mixture(x64):
    """t = <g, u> has the mixture CDF sum_k pi_k Phi((t - mu_k)/s): KS at level 1e-3
    (false-failure probability 1e-3 for a random seed). Large beta makes the layers overlap,
    which exercises the weights and the means."""
    k1, k2 = jr.split(jr.key(5))
    omega = clwe.sample_secret(k1, 6, support=3, dtype=jnp.float64)
    gamma = float(jnp.linalg.norm(omega))
    beta = 0.3
    g = clwe.pancakes(k2, omega, 4000, beta=beta, max_gamma=4.0)
    t = np.asarray(g @ omega) / gamma
    a, p, mu, s = (np.asarray(v) for v in clwe.layer_distribution(gamma, beta, max_gamma=4.0))
    keep = p > 1e-300
    cdf = lambda x: np.sum(p[keep] * scipy.stats.norm.cdf((x[:, None] - mu[keep]) / s), axis=1)
    assert scipy.stats.kstest(t, cdf).pvalue > 1e-3


def test_pancakes_layer_index_spreads_like_discrete_gaussian():
    """The layer index k = round(<g, omega> - 1/2) has sd sqrt(gamma^2 + beta^2) ~ gamma (a
    discrete Gaussian of that width). With n = 20000 the sample sd has relative sd
    1/sqrt(2n) = 0.5%; a 4% band fails w.p. < 1e-15."""
    k1, k2 = jr.split(jr.key(2))
    omega = clwe.sample_secret(k1, 64, support=16)  # gamma = 8
    g = clwe.pancakes(k2, omega, 20000, beta=1e-3)
    k = np.round(np.asarray(g @ omega) - 0.5)
    assert np.std(k) == pytest.approx(8.0, rel=0.04)
    assert abs(np.mean(k) + 0.5) < 0.3  # symmetric about -1/2 (layers at k + 1/2)
    # many layers are used: a truncated table would show as a thin support
    assert np.ptp(k) > 40


def test_pancakes_float32_default_dtype(getkey):
    omega = clwe.sample_secret(getkey(), 20, support=4)
    g = clwe.pancakes(getkey(), omega, 500, beta=1e-2)
    assert g.dtype == jnp.float32
    # in float32 the distance is resolved to ~1e-6 |<g, omega>|: fine at beta = 1e-2
    assert float(jnp.max(clwe.distance_to_layers(g @ omega))) < 0.07


@pytest.mark.slow
def test_pancakes_jit_and_vmap_over_keys_and_omegas(getkey):
    omegas = jax.vmap(lambda k: clwe.sample_secret(k, 12, support=3))(jr.split(getkey(), 4))
    keys = jr.split(getkey(), 4)
    f = jax.jit(lambda k, o, b: clwe.pancakes(k, o, 100, beta=b))
    g = f(keys[0], omegas[0], 1e-3)
    assert g.shape == (100, 12)
    # vmap over keys and omegas together
    gs = jax.jit(jax.vmap(lambda k, o: clwe.pancakes(k, o, 100, beta=1e-3)))(keys, omegas)
    assert gs.shape == (4, 100, 12)
    d = jax.vmap(lambda gi, o: clwe.distance_to_layers(gi @ o))(gs, omegas)
    assert float(jnp.max(d)) < 0.01
    # same key -> same samples, jit or not (up to float32 re-association by the compiler)
    np.testing.assert_allclose(
        np.asarray(clwe.pancakes(keys[0], omegas[0], 100, beta=1e-3)), np.asarray(g), atol=1e-5
    )


def test_pancakes_block_size(getkey):
    omega = clwe.sample_secret(getkey(), 12, support=3)
    key = getkey()
    a = clwe.pancakes(key, omega, 20, beta=1e-3, block_size=7)  # 3 blocks, last one padded
    assert a.shape == (20, 12)
    assert float(jnp.max(clwe.distance_to_layers(a @ omega))) < 0.01
    b = clwe.pancakes(key, omega, 20, beta=1e-3, block_size=7)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="block_size"):
        clwe.pancakes(key, omega, 20, beta=1e-3, block_size=0)


def test_pancakes_runtime_guard_under_jit(getkey):
    omega = clwe.sample_secret(getkey(), 8, support=4, gamma=10.0)
    with pytest.raises(ValueError, match="max_gamma"):
        clwe.pancakes(getkey(), omega, 10, beta=0.1, max_gamma=5.0)
    f = jax.jit(lambda o: clwe.pancakes(jr.key(0), o, 10, beta=0.1, max_gamma=5.0))
    with pytest.raises(Exception, match="max_gamma"):
        jax.block_until_ready(f(omega))


@pytest.mark.parametrize(
    "omega, kwargs, match",
    [
        (np.zeros(5, np.float32), dict(beta=0.1), "non-zero"),
        (np.ones((2, 5), np.float32), dict(beta=0.1), "omega"),
        (np.ones(5, np.int32), dict(beta=0.1), "omega"),
        (np.array([1.0, np.nan], np.float32), dict(beta=0.1), "NaN"),
        (np.ones(5, np.float32), dict(beta=0.0), "beta"),
        (np.ones(5, np.float32), dict(beta=-1.0), "beta"),
    ],
)
def test_pancakes_errors(getkey, omega, kwargs, match):
    # shape/dtype errors may come from jaxtyping's hook (a TypeError) under --jaxtyping-packages
    with pytest.raises((ValueError, TypeError), match=match):
        clwe.pancakes(getkey(), jnp.asarray(omega), 10, **kwargs)


def test_pancakes_bad_num(getkey):
    with pytest.raises(ValueError, match="num"):
        clwe.pancakes(getkey(), jnp.ones(3), 0, beta=0.1)


# ----------------------------------------------------------------------------- clwe


def test_clwe_samples(getkey, x64):
    omega = clwe.sample_secret(getkey(), 10, dtype=jnp.float64)
    y, z = clwe.clwe(getkey(), omega, 3000, beta=1e-3)
    assert y.shape == (3000, 10) and z.shape == (3000,)
    assert float(jnp.min(z)) >= 0 and float(jnp.max(z)) < 1
    # z - <y, omega> mod 1 is the wrapped N(0, beta^2) error: 7 sd fails w.p. < 1e-8
    e = np.asarray(z - y @ omega)
    assert np.max(np.abs(e - np.round(e))) < 7e-3
    # y is N(0, I): KS on one coordinate (level 1e-3)
    assert scipy.stats.kstest(np.asarray(y[:, 0]), "norm").pvalue > 1e-3


def test_clwe_jit_vmap(getkey):
    omega = clwe.sample_secret(getkey(), 6)
    y, z = jax.jit(lambda k, o: clwe.clwe(k, o, 20, beta=0.01))(getkey(), omega)
    assert y.shape == (20, 6) and z.shape == (20,) and y.dtype == jnp.float32
    ys, zs = jax.jit(jax.vmap(lambda k: clwe.clwe(k, omega, 20, beta=0.01)))(jr.split(getkey(), 3))
    assert ys.shape == (3, 20, 6) and zs.shape == (3, 20)


def test_clwe_errors(getkey):
    with pytest.raises(ValueError, match="beta"):
        clwe.clwe(getkey(), jnp.ones(3), 5, beta=0.0)
    with pytest.raises((ValueError, TypeError), match="omega"):  # TypeError: jaxtyping hook
        clwe.clwe(getkey(), jnp.ones((3, 3)), 5, beta=0.1)
    with pytest.raises(ValueError, match="num"):
        clwe.clwe(getkey(), jnp.ones(3), 0, beta=0.1)


def test_distance_to_layers():
    v = jnp.asarray([0.5, 1.5, -0.5, 0.0, 0.75, 2.4])
    np.testing.assert_allclose(
        np.asarray(clwe.distance_to_layers(v)), [0, 0, 0, 0.5, 0.25, 0.1], atol=1e-6
    )
    np.testing.assert_allclose(
        np.asarray(clwe.distance_to_layers(v, shift=0.0)), [0.5, 0.5, 0.5, 0, 0.25, 0.4], atol=1e-6
    )
