"""Gaussianity, spectral and sparse-PCA distinguishers: calibration, power, bad input.

Calibration tests draw many honest (N(0, I)) weight matrices with fixed seeds and check the
false-positive rate (FPR) at alpha = 0.05 against exact binomial bounds: the acceptance band is
[binom.ppf(1e-3), binom.ppf(1 - 1e-3)] / n, so each two-sided check fails falsely with probability
<= 2e-3 when the test is exactly calibrated (one-sided checks: 1e-3). Conservative tests
(Bonferroni over correlated projections) are checked only from above.
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import bad_input
from scipy.stats import binom

from jaxbd.detect import (
    covariance_thresholding,
    diagonal_thresholding,
    gaussianity,
    spectral,
    tracy_widom1_cdf,
    tracy_widom1_sf,
)
from jaxbd.detect.gaussianity import gaussianity_p_value, gaussianity_statistic
from jaxbd.detect.planted import honest_weights, spiked_weights
from jaxbd.detect.sparse_pca import (
    covariance_null,
    covariance_statistic,
    diagonal_p_value,
    diagonal_statistic,
)
from jaxbd.detect.spectral import spectral_p_value, spectral_statistic


ALPHA = 0.05


def band(n, p=ALPHA, q=1e-3):
    return binom.ppf(q, n, p) / n, binom.ppf(1 - q, n, p) / n


def null_batch(seed, n, m, d):
    keys = jr.split(jr.key(seed), n)
    return jax.vmap(lambda k: honest_weights(k, m, d))(keys)


def test_tracy_widom_quantiles():
    # Tracy & Widom (1996) / Johnstone (2001) Table 1: F1 quantiles 0.95 -> 0.9793, 0.99 -> 2.0234.
    np.testing.assert_allclose(tracy_widom1_cdf([0.9793, 2.0234]), [0.95, 0.99], atol=2e-5)
    np.testing.assert_allclose(tracy_widom1_sf(3.5), 1 - tracy_widom1_cdf(3.5), atol=1e-9)
    assert tracy_widom1_cdf(-9.0) < 1e-6 and tracy_widom1_sf(13.0) == 0.0


@pytest.mark.parametrize("n", [400, pytest.param(4000, marks=pytest.mark.slow)])
def test_calibration_spectral_diagonal(n):
    m, d = 200, 20
    w = null_batch(0, n, m, d)
    p_spec = spectral_p_value(jax.jit(jax.vmap(spectral_statistic))(w))
    p_diag = diagonal_p_value(jax.jit(jax.vmap(diagonal_statistic))(w), m, d)
    lo, hi = band(n)
    # Johnstone's TW approximation at (m, d) = (200, 20) is accurate to ~0.005 in the tail.
    assert lo - 0.01 <= np.mean(p_spec <= ALPHA) <= hi + 0.01
    # Exact chi2 + Bonferroni over independent columns: FPR = 1 - (1 - alpha/d)^d = 0.0488.
    lo2, hi2 = band(n, 1 - (1 - ALPHA / d) ** d)
    assert lo2 <= np.mean(p_diag <= ALPHA) <= hi2


@pytest.mark.parametrize("n", [300, pytest.param(3000, marks=pytest.mark.slow)])
def test_calibration_gaussianity(n):
    m, d, p = 100, 8, 8
    w = null_batch(1, n, m, d)
    proj = jax.random.normal(jr.key(99), (p, d))
    proj = proj / jnp.linalg.norm(proj, axis=1, keepdims=True)
    stat = jax.jit(jax.vmap(gaussianity_statistic, in_axes=(0, None)))(w, proj)
    fpr = np.mean(gaussianity_p_value(stat, m, d + p) <= ALPHA)
    lo, hi = band(n)
    # Bonferroni is conservative (projections are correlated with coordinates): check <= alpha,
    # and that it is not vacuous (FPR >= alpha / 4, far below the observed ~0.04).
    assert ALPHA / 4 <= fpr <= hi


@pytest.mark.parametrize("n", [200, pytest.param(2000, marks=pytest.mark.slow)])
def test_calibration_covariance_thresholding(n):
    m, d = 200, 20
    null = covariance_null(jr.key(7), m, d, num_null=199)
    w = null_batch(2, n, m, d)
    stat = np.asarray(jax.jit(jax.vmap(covariance_statistic))(w))
    p = (1 + np.sum(null[None, :] >= stat[:, None], axis=1)) / 200
    # Monte-Carlo p-values are exactly valid: P(p <= 0.05) = 10/200 = 0.05 over both draws.
    lo, hi = band(n)
    assert lo - 0.02 <= np.mean(p <= ALPHA) <= hi + 0.02  # +-0.02: the shared null draw


@pytest.mark.slow
def test_planted_sparse_pca_caught_and_support_recovered():
    # theta = 4 far above BBP sqrt(50/400) = 0.35; theta/k = 1.33 >> sqrt(log 50 / 400).
    w, s = spiked_weights(jr.key(3), 400, 50, sparsity=3, theta=4.0)
    true = np.flatnonzero(np.asarray(s))
    r_spec = spectral(w)
    r_diag = diagonal_thresholding(w)
    r_cov = covariance_thresholding(jr.key(4), w, sparsity=3)
    assert r_spec.reject and r_diag.reject and r_cov.reject
    assert set(true) == set(r_diag.found["support"].tolist())
    assert set(true) == set(r_cov.found["support"].tolist())
    cos = abs(np.dot(r_spec.found["direction"], np.asarray(s)))
    assert cos > 0.9
    assert gaussianity(jr.key(5), w).p_value <= 1.0  # well-formed


@pytest.mark.slow
def test_hardness_regime_not_detected():
    """Lemma A.2 regime: m = d = 64, k = 8 = sqrt(d), theta = 0.5 < BBP 1: power ~ FPR.

    200 planted models per test; we check power <= binomial upper bound at alpha (false
    failure <= 1e-3 each if the power equals alpha)."""
    n, m, d = 200, 64, 64
    keys = jr.split(jr.key(11), n)
    w = jax.vmap(lambda k: spiked_weights(k, m, d, sparsity=8, theta=0.5)[0])(keys)
    _, hi = band(n)
    p_spec = spectral_p_value(jax.vmap(spectral_statistic)(w))
    p_diag = diagonal_p_value(jax.vmap(diagonal_statistic)(w), m, d)
    assert np.mean(p_spec <= ALPHA) <= hi + 0.01
    assert np.mean(p_diag <= ALPHA) <= hi


@pytest.mark.slow
def test_single_model_results_and_jit_vmap():
    w = honest_weights(jr.key(0), 120, 10)
    for r in (spectral(w), diagonal_thresholding(w), gaussianity(jr.key(1), w)):
        assert 0 <= r.p_value <= 1 and r.reject == (r.p_value <= r.alpha)
    r = covariance_thresholding(jr.key(2), w, num_null=39)
    assert r.p_value >= 1 / 40
    ws = jnp.stack([w, 2 * w])
    for f in (spectral_statistic, diagonal_statistic, covariance_statistic):
        batched = jax.jit(jax.vmap(f))(ws)
        np.testing.assert_allclose(batched[0], f(w), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "bad, match",
    [
        (jnp.ones(10), "shape"),
        (jnp.ones((1, 5)), "rows"),
        (jnp.ones((50, 5)).at[3, 2].set(jnp.nan), "NaN"),
        (jnp.ones((50, 5), dtype=jnp.int32), "floating"),
    ],
)
def test_bad_input(bad, match):
    bad_input(lambda: spectral(bad), match)
    bad_input(lambda: diagonal_thresholding(bad), match)
    bad_input(lambda: covariance_thresholding(jr.key(0), bad), match)
    bad_input(lambda: gaussianity(jr.key(0), bad), match)


def test_bad_alpha_and_null_size():
    w = honest_weights(jr.key(0), 50, 5)
    bad_input(lambda: spectral(w, alpha=1.5), "alpha")
    bad_input(lambda: covariance_thresholding(jr.key(0), w, num_null=9, alpha=0.05), "num_null")
    bad_input(lambda: gaussianity(jr.key(0), w[:4]), "rows")
