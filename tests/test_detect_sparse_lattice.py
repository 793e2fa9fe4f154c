"""The sparse lattice attack (support search + LLL): planted supports recovered, calibrated on
honest Gaussian layers, and the spectral test's finite-size calibration at 64 x 16.

False-failure probabilities: recovery tests use fixed seeds (deterministic); the calibration
checks use the binomial 99.9% band (<= 1e-3 each when calibrated) and a one-sided KS level of
1e-3."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy import stats

from jaxbd import detect
from jaxbd.detect import planted


def _planted(seed, m, d, k, beta):
    with jax.enable_x64(True):
        w, om = planted.pancake_weights(
            jr.key(seed), m, d, secret_dim=k, beta=beta, dtype=jnp.float64
        )
    return np.asarray(w), np.asarray(om)


def _recovered(res, om):
    err = min(np.linalg.norm(res.found["omega"] - s * om) for s in (1, -1))
    return res.reject and err < 1e-2 * np.linalg.norm(om)


def test_planted_support_recovered_small():
    w, om = _planted(0, 256, 12, 3, 0.01)
    res = detect.sparse_lattice_attack(w, support_size=3)
    assert res.found["support"].tolist() == np.flatnonzero(om).tolist()
    assert _recovered(res, om) and res.p_value < 1e-50
    assert res.found["num_supports"] == 220 and "C(12, 3) = 220" in res.calibration
    # capped search: the p-value counts exactly the supports tried
    capped = detect.sparse_lattice_attack(w, support_size=3, max_subsets=20, key=jr.key(1))
    assert capped.found["num_supports"] == 20 and "20 random of" in capped.calibration
    # honest layer (this seed): not flagged
    h = np.asarray(jr.normal(jr.key(5), (256, 12)), np.float64)
    assert not detect.sparse_lattice_attack(h, support_size=3).reject
    with pytest.raises(ValueError, match="`support_size`"):
        detect.sparse_lattice_attack(w, support_size=13)


def test_choose_supports_uniform_without_replacement():
    from jaxbd.detect.sparse_lattice import choose_supports

    s = choose_supports(jr.key(0), 10, 3, 50)
    assert s.shape == (50, 3) and len({tuple(r) for r in s}) == 50
    assert np.all(np.diff(s, axis=1) > 0)
    big = choose_supports(jr.key(0), 300, 6, 40)  # C(300, 6) ~ 1e12: sampled, not listed
    assert big.shape == (40, 6) and len({tuple(r) for r in big}) == 40


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_planted_supports_recovered_d20_k3(seed):
    w, om = _planted(10 + seed, 512, 20, 3, 0.01)
    res = detect.sparse_lattice_attack(w, support_size=3)
    assert res.found["support"].tolist() == np.flatnonzero(om).tolist() and _recovered(res, om)


@pytest.mark.slow
def test_sparse_lattice_calibrated_on_honest_layers():
    n, m, d = 400, 64, 8
    with jax.enable_x64(True):
        ws = jr.normal(jr.key(3), (n, m, d), jnp.float64)
    p = detect.SparseLatticeAttack(support_size=2).batch(jr.key(0), ws)[1]
    assert np.mean(p <= 0.05) <= stats.binom.ppf(1 - 1e-3, n, 0.05) / n
    assert stats.kstest(p, "uniform", alternative="greater").pvalue > 1e-3


@pytest.mark.slow
def test_spectral_finite_size_calibration_64x16():
    """Ma (2012) centring: FPR within the binomial band at alpha 0.05 and 0.1 (4000 nulls)."""
    n = 4000
    ws = jr.normal(jr.key(11), (n, 64, 16))
    p = detect.Spectral().batch(jr.key(0), ws)[1]
    for a in (0.05, 0.1):
        lo, hi = (stats.binom.ppf(q, n, a) / n for q in (1e-3, 1 - 1e-3))
        assert lo <= np.mean(p <= a) <= hi, (a, np.mean(p <= a))
    assert stats.kstest(p, "uniform").pvalue > 1e-3
