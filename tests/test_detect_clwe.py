"""Pancakes enumeration and the LLL lattice attack on CLWE-planted RFF frequencies.

Planted weights are exact homogeneous-CLWE samples (shift 1/2, GKVZ Lemma 6.2) drawn by
`jaxbd.detect.planted` (cross-checked against `jaxbd.clwe` when that module is present).
Binomial acceptance bands as in test_detect_whitebox.py (false failure <= 1e-3 per bound).
"""

import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import bad_input
from scipy.stats import binom

from jaxbd.detect import gaussianity, lattice_attack, pancakes
from jaxbd.detect.gaussianity import gaussianity_p_value, gaussianity_statistic
from jaxbd.detect.pancakes import all_supports, candidate_directions, pancake_statistics
from jaxbd.detect.planted import honest_weights, pancake_batch, pancake_weights


ALPHA = 0.05


def hi(n, p=ALPHA):
    return binom.ppf(1 - 1e-3, n, p) / n


@pytest.mark.slow
def test_pancake_samples_are_pancakes(x64):
    w, omega = pancake_weights(jr.key(0), 2000, 8, secret_dim=3, beta=1e-9, dtype=jnp.float64)
    proj = np.asarray(w @ omega) - 0.5
    assert np.max(np.abs(proj - np.round(proj))) < 1e-7
    assert np.isclose(np.linalg.norm(omega), 2 * math.sqrt(3))
    # Orthogonal to the secret and marginally: standard Gaussian.
    assert abs(float(jnp.std(w)) - 1.0) < 0.03


@pytest.mark.slow
def test_cross_check_with_clwe_module(x64):
    clwe = pytest.importorskip("jaxbd.clwe")
    omega = clwe.sample_secret(jr.key(1), 8, support=3)
    g = clwe.pancakes(jr.key(2), omega.astype(jnp.float64), 500, beta=1e-9)
    proj = np.asarray(g @ omega.astype(jnp.float64)) - 0.5
    assert np.max(np.abs(proj - np.round(proj))) < 1e-5
    r = pancakes(jr.key(3), g, support_size=3, gamma=float(jnp.linalg.norm(omega)))
    assert r.reject


@pytest.mark.slow
def test_pancakes_small_support_caught_and_recovered():
    w, omega = pancake_weights(jr.key(4), 400, 6, secret_dim=2, beta=0.05)
    r = pancakes(jr.key(5), w, support_size=2)
    assert r.reject and r.p_value < 1e-10
    assert set(r.found["support"].tolist()) == set(np.flatnonzero(np.asarray(omega)).tolist())
    err = min(np.linalg.norm(r.found["omega"] - omega), np.linalg.norm(r.found["omega"] + omega))
    assert err < 0.3


@pytest.mark.slow
def test_pancakes_support_three():
    w, omega = pancake_weights(jr.key(6), 600, 5, secret_dim=3, beta=0.02)
    r = pancakes(jr.key(7), w, support_size=3)
    assert r.reject
    assert set(r.found["support"].tolist()) == set(np.flatnonzero(np.asarray(omega)).tolist())


@pytest.mark.slow
def test_one_sparse_secret_is_a_comb_on_a_coordinate():
    w, omega = pancake_weights(jr.key(8), 500, 10, secret_dim=1, beta=0.01)
    r = gaussianity(jr.key(9), w)
    assert r.reject
    assert np.flatnonzero(np.asarray(omega))[0] in r.found["flagged"]


@pytest.mark.parametrize("n", [200, pytest.param(2000, marks=pytest.mark.slow)])
def test_calibration_pancakes(n):
    m, d, k = 200, 5, 2
    sup = jnp.asarray(all_supports(d, k))
    gamma = 2 * math.sqrt(k)
    dirs = candidate_directions(jr.key(0), k, 30)
    keys = jr.split(jr.key(10), n)
    w = jax.vmap(lambda key: honest_weights(key, m, d))(keys)
    stats = jax.jit(jax.vmap(lambda x: jnp.max(pancake_statistics(x, sup, dirs, gamma))))(w)
    p = np.minimum(1.0, sup.shape[0] * 30 * np.exp(-np.asarray(stats) / 2))
    # Union bound: valid, conservative -> check FPR <= alpha only.
    assert np.mean(p <= ALPHA) <= hi(n)


@pytest.mark.slow
def test_lattice_recovers_secret_at_tiny_noise(x64):
    w, omega = pancake_weights(jr.key(11), 80, 10, secret_dim=10, beta=1e-10, dtype=jnp.float64)
    r = lattice_attack(w)
    assert r.reject and r.p_value < 1e-20
    err = min(np.linalg.norm(r.found["omega"] - omega), np.linalg.norm(r.found["omega"] + omega))
    assert err < 1e-6
    assert r.found["residual"] < 1e-6


@pytest.mark.parametrize("n", [60, pytest.param(600, marks=pytest.mark.slow)])
def test_calibration_lattice(n, x64):
    rej = 0
    for i in range(n):
        w = honest_weights(jr.key(1000 + i), 40, 4, jnp.float64)
        rej += lattice_attack(w).reject
    # chi2_2 periodogram on held-out rows + Bonferroni over 6 scales: FPR <= alpha.
    assert rej / n <= hi(n)


@pytest.mark.slow
def test_hardness_regime_not_detected(x64):
    """Dense secret (k = d = 16), gamma = 2 sqrt(d), beta = 0.01 (above the LLL frontier at
    d = 16, see the detection experiment): gaussianity and lattice reject at about the FPR
    (<= binomial upper bound of alpha)."""
    n, m, d = 20, 120, 16
    keys = jr.split(jr.key(2000), n)
    ws = pancake_batch(keys, 0.01, d, num_units=m, dim=d, dtype=jnp.float64)[0]
    proj = jr.normal(jr.key(1), (16, d), jnp.float64)
    proj = proj / jnp.linalg.norm(proj, axis=1, keepdims=True)
    stat = jax.vmap(gaussianity_statistic, in_axes=(0, None))(ws, proj)
    rej_g = np.mean(gaussianity_p_value(stat, m, d + 16) <= ALPHA)
    rej_l = np.mean([lattice_attack(w).reject for w in np.asarray(ws)])
    assert rej_g <= hi(n) and rej_l <= hi(n)


@pytest.mark.parametrize(
    "bad, match",
    [
        (jnp.ones(10), "shape"),
        (jnp.ones((4, 3)), "rows"),
        (jnp.ones((100, 3)).at[0, 0].set(jnp.nan), "NaN"),
    ],
)
def test_bad_input(bad, match):
    bad_input(lambda: pancakes(jr.key(0), bad, support_size=1), match)
    bad_input(lambda: lattice_attack(bad), match)


def test_bad_parameters():
    w = honest_weights(jr.key(0), 100, 20)
    bad_input(lambda: pancakes(jr.key(0), w, support_size=0), "support_size")
    bad_input(lambda: pancakes(jr.key(0), w, support_size=6), "max_candidates")
    bad_input(lambda: lattice_attack(w, shift=0.3), "shift")
    bad_input(lambda: lattice_attack(w[:50]), "rows")


def test_lattice_scales_checked():
    w = jr.normal(jr.key(0), (40, 3))
    for bad in ((-1.0,), (float("nan"),), (), (0.0,)):
        bad_input(lambda bad=bad: lattice_attack(w, scales=bad), "`scales`")
    bad_input(lambda: lattice_attack(w, shift=float("nan")), "`shift`")
