"""Host statistics of PREDICT and CERTIFY (Cohen et al.), in float64 with SciPy.

They run once per call on the counts the device computed: directly on the host when the counts
are concrete (an eager call, or a whole `*_batch` result at once), as one `jax.pure_callback`
when they are traced (a call inside the caller's `jit` / `vmap`; `vmap_method="expand_dims"`,
so a vmapped call still makes one callback for the whole batch).
"""

import jax
import jax.core
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array


ABSTAIN = -2
"""Label returned when the smoothed classifier abstains; equals no binary (±1) or multi-class
(`0..c-1`) label."""


def binom_two_sided_p(n_a, n_b) -> np.ndarray:
    """p-value of `scipy.stats.binomtest(n_a, n_a + n_b, 0.5)` (two-sided), vectorised."""
    n_a = np.asarray(n_a, np.int64)
    n_b = np.asarray(n_b, np.int64)
    n = n_a + n_b
    # scipy.stats, not scipy.special.bdtr: bdtr is Cephes and differs from binom.cdf (Boost)
    # in the 10th digit, so PREDICT keeps the reference implementation (CERTIFY does not need it)
    import scipy.stats

    p = 2.0 * scipy.stats.binom.cdf(np.minimum(n_a, n_b), n, 0.5)
    return np.where(n > 0, np.minimum(p, 1.0), 1.0)


def clopper_pearson_lower(k, n, alpha: float) -> np.ndarray:
    """One-sided (1 - alpha) Clopper–Pearson lower bound of a binomial proportion."""
    k = np.asarray(k, np.int64)
    n = np.asarray(n, np.int64)
    import scipy.special  # lazy; not scipy.stats (~0.5 s more of start-up)

    # = scipy.stats.beta.ppf(alpha, k, n - k + 1): both are Boost's ibeta_inv (bit-identical on
    # SciPy 1.17; tests/test_smoothing.py compares them)
    lo = scipy.special.betaincinv(np.maximum(k, 1), n - k + 1, alpha)
    return np.where(k > 0, lo, 0.0)


def radius(alpha: float, n: int, k, sigma):
    """(abstain, radius) in float64 from the hit count `k` of `n` draws (Cohen et al.)."""
    p_lo = clopper_pearson_lower(k, n, alpha)
    certified = p_lo > 0.5
    import scipy.special  # lazy

    # p_lo < 1 for every k <= n, so Φ⁻¹ is finite; it only saturates near 1 in float64.
    # scipy.special.ndtri is what scipy.stats.norm.ppf computes (bit-identical, tested).
    z = scipy.special.ndtri(np.clip(p_lo, 0.5, np.nextafter(1.0, 0.0)))
    return ~certified, np.where(certified, np.asarray(sigma, np.float64) * z, 0.0)


def _on_host(fn, like, *args) -> tuple[Array, ...]:
    """`fn(*numpy args)` -> arrays shaped and typed like `like` (broadcast over the args)."""
    if any(isinstance(a, jax.core.Tracer) for a in args):
        shape = jnp.broadcast_shapes(*(jnp.shape(a) for a in args))
        specs = tuple(jax.ShapeDtypeStruct(shape, a.dtype) for a in like)
        return jax.pure_callback(fn, specs, *args, vmap_method="expand_dims")
    return tuple(jnp.asarray(o) for o in fn(*(np.asarray(a) for a in args)))


def prediction(label, n_a, n_b, *, alpha: float):
    """PREDICT's answer: `label` unless the two-sided binomial test of the top-two counts
    `n_a >= n_b` fails to reject equality at level `alpha`, then `ABSTAIN` (Cohen et al.,
    Prop. 1). Host statistic; `label` keeps its dtype."""

    def host(lab, a, b):
        abstain = binom_two_sided_p(a, b) > alpha
        return (np.where(abstain, ABSTAIN, lab).astype(lab.dtype),)

    return _on_host(host, (label,), label, n_a, n_b)[0]


def certificate(label, k, sigma, *, alpha: float, num_samples: int) -> tuple[Array, Array]:
    """CERTIFY's answer from `k` hits of `label` in `num_samples` draws: `(label, σΦ⁻¹(p_A))`
    if the Clopper–Pearson lower bound `p_A > 1/2`, else `(ABSTAIN, 0)` (Cohen et al., Thm 1).
    Host statistic in float64; the radius is returned in the dtype of `sigma`."""

    def host(lab, hits, s):
        abstain, r = radius(alpha, num_samples, hits, s)
        shape = np.broadcast_shapes(lab.shape, hits.shape, s.shape)
        lab = np.broadcast_to(np.where(abstain, ABSTAIN, lab).astype(lab.dtype), shape)
        return lab, np.broadcast_to(r, shape).astype(s.dtype)

    lab, r = _on_host(host, (label, sigma), label, k, sigma)
    return lab, r
