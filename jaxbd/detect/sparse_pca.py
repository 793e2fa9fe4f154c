r"""Sparse-PCA distinguishers: diagonal thresholding and covariance thresholding.

The ReLU backdoor of GKVZ Appendix A samples the first layer from the spiked covariance
ensemble $N(0, I_d + \theta ss^\top)$, $s$ unit and $k$-sparse (Def. A.1, Alg. 9); its
undetectability rests on the planted-clique hardness of sparse PCA (Lemma A.2, [BB19]). These
are the two standard polynomial-time detectors that work *outside* the hard regime:

- **Diagonal thresholding** (Johnstone & Lu, JASA 2009): coordinate $j$ has variance
  $1 + \theta s_j^2$; under the null $\|W_{:,j}\|^2 \sim \chi^2_m$ exactly, so the statistic
  $\max_j \|W_{:,j}\|^2$ gets the Bonferroni p-value $\min(1, d\,P(\chi^2_m \ge \cdot))$.
  Works when $\theta/k \gg \sqrt{\log d / m}$ (for $|s_j| = 1/\sqrt k$). Support = coordinates
  significant after Bonferroni.
- **Covariance thresholding** (Deshpande & Montanari, NeurIPS 2014 / JMLR 2016): soft-threshold
  the entries of $\sqrt m (\hat\Sigma - I)$ at $\tau$ (diagonal at $\tau\sqrt2$, its null standard
  deviation), take the top eigenpair. Works down to $\theta \gtrsim k\sqrt{\log(d/k^2)/m}$.
  Its null law has no closed form; because the null is fully specified, the p-value is an exact
  **Monte-Carlo** p-value $(1 + \#\{T_b \ge T\})/(1 + B)$ over $B$ null matrices of the same
  shape (drawn from `key`, vmapped). Support = the top-`sparsity` coordinates of the eigenvector,
  or, without `sparsity`, those with $v_j^2 \ge 1/(2 k_{\mathrm{eff}})$ where
  $k_{\mathrm{eff}} = 1/\sum_j v_j^4$ (participation ratio) — our choice, stated here.
"""

import functools
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from jaxbd._validate import as_key, check_int_range, check_positive, float_dtype, is_concrete

from ._abstract import AbstractDistinguisher, register
from ._result import Detection
from ._weights import (
    bonferroni_p_value,
    check_alpha,
    check_weights,
    host_statistic,
    traced_weights,
)


__all__ = [
    "DiagonalThresholding",
    "CovarianceThresholding",
    "diagonal_thresholding",
    "diagonal_statistic",
    "diagonal_p_value",
    "covariance_thresholding",
    "covariance_statistic",
    "covariance_null",
]


def _chi2_sf(q, m):
    """`scipy.stats.chi2.sf(q, m)`: the function it calls (bit-identical), without importing
    scipy.stats (~1 s of a CLI step); scipy.special is imported lazily too."""
    from scipy.special import chdtrc

    return chdtrc(m, q)


def diagonal_statistic(w: Float[ArrayLike, "m d"]) -> Float[Array, ""]:
    r"""$\max_j \sum_i W_{ij}^2$ (jit/vmap-able)."""
    w = traced_weights(w)
    return jnp.max(jnp.sum(w * w, axis=0))


def diagonal_p_value(statistic, num_rows: int, dim: int) -> np.ndarray | np.floating:
    """Bonferroni p-value $\\min(1, d\\,P(\\chi^2_m \\ge \\text{statistic}))$ (host)."""
    return bonferroni_p_value(_chi2_sf, statistic, num_rows, dim, "dim")


@register
class DiagonalThresholding(AbstractDistinguisher):
    r"""Johnstone–Lu diagonal thresholding: the largest column norm against exact $\chi^2_m$,
    Bonferroni over the $d$ coordinates. **Fields:** `alpha`."""

    alpha: float = 0.05

    name: ClassVar[str] = "diagonal_thresholding"
    source: ClassVar[str] = "GKVZ App. A (sparse PCA); Johnstone & Lu (2009)"

    def statistic(self, w, prepared):
        return diagonal_statistic(w)

    def p_value(self, statistic, shape, prepared):
        return diagonal_p_value(statistic, shape[0], shape[1])

    def calibration(self, shape, prepared):
        return f"exact chi2_{shape[0]} column norms, Bonferroni over {shape[1]} coordinates"

    def found(self, w, prepared):
        m, d = w.shape
        col = np.asarray(jnp.sum(w * w, axis=0), dtype=np.float64)
        pv = np.minimum(1.0, d * _chi2_sf(col, m))
        return {"support": np.flatnonzero(pv <= self.alpha), "column_variances": col / m}


def diagonal_thresholding(w: Float[ArrayLike, "m d"], *, alpha: float = 0.05) -> Detection:
    """Johnstone–Lu diagonal thresholding of the weights' column norms.

    **Returns:** a [`Detection`][]; `found["support"]` = coordinates whose column norm is
    significant at `alpha` after Bonferroni over the `d` coordinates. A thin wrapper over
    [`DiagonalThresholding`][].
    """
    alpha = check_alpha(alpha)
    w = check_weights(w, min_rows=2)
    return DiagonalThresholding(alpha=alpha)(w)


def _check_tau(tau):
    """The soft threshold: a concrete finite number `>= 0` (a static argument)."""
    if isinstance(tau, (str, bytes)) or tau is None or not is_concrete(tau):
        raise ValueError(f"`tau` must be a concrete number >= 0, got {tau!r}.")
    if np.ndim(tau) != 0:
        raise ValueError(f"`tau` must be a number >= 0, got shape {np.shape(tau)}.")
    check_positive(tau, "tau", allow_zero=True)
    return tau


def _soft(x, t):
    return jnp.sign(x) * jnp.maximum(jnp.abs(x) - t, 0)


def _thresholded(w, tau):
    m, d = w.shape
    mm = jnp.asarray(m, w.dtype)
    z = (w.T @ w - mm * jnp.eye(d, dtype=w.dtype)) / jnp.sqrt(mm)
    t = jnp.where(jnp.eye(d, dtype=bool), tau * jnp.sqrt(2.0), tau).astype(w.dtype)
    return _soft(z, t)


def covariance_statistic(w: Float[ArrayLike, "m d"], tau: float = 2.0) -> Float[Array, ""]:
    r"""Top eigenvalue of the soft-thresholded $\sqrt m(\hat\Sigma - I)$ (jit/vmap-able)."""
    w = traced_weights(w)
    tau = _check_tau(tau)
    return jnp.linalg.eigvalsh(_thresholded(w, tau))[-1]


@functools.partial(jax.jit, static_argnames=("shape", "tau", "num_null", "dtype"))
def _null_draws(key, shape, tau, num_null, dtype):
    def one(k):
        return covariance_statistic(jax.random.normal(k, shape, dtype), tau)

    return jax.lax.map(one, jax.random.split(key, num_null), batch_size=32)


def covariance_null(
    key, num_rows: int, dim: int, *, tau: float = 2.0, num_null: int = 199, dtype=jnp.float32
) -> np.ndarray:
    """`num_null` draws of [`covariance_statistic`][] under the null (sorted, host)."""
    key = as_key(key)
    num_rows = check_int_range(num_rows, "num_rows", low=1)
    dim = check_int_range(dim, "dim", low=1)
    tau = _check_tau(tau)
    num_null = check_int_range(num_null, "num_null", low=1)
    dtype = float_dtype(dtype)
    draws = _null_draws(key, (int(num_rows), int(dim)), float(tau), int(num_null), dtype)
    return np.sort(np.asarray(draws, dtype=np.float64))


def _check_num_null(num_null, alpha) -> int:
    num_null = check_int_range(num_null, "num_null", low=1)
    if alpha < 1.0 / (1 + num_null):
        raise ValueError(f"`num_null`={num_null} is too small for `alpha`={alpha}.")
    return num_null


@register
class CovarianceThresholding(AbstractDistinguisher):
    """Deshpande–Montanari covariance thresholding; `prepare` draws the Monte-Carlo null
    (`num_null` honest matrices of the shape, vmapped, float32). **Fields:** `tau`, `sparsity`
    (support size kept by `found`, or None), `num_null`, `alpha`."""

    tau: float = 2.0
    sparsity: int | None = None
    num_null: int = 199
    alpha: float = 0.05

    def __check_init__(self):
        _check_tau(self.tau)
        _check_num_null(self.num_null, self.alpha)
        if self.sparsity is not None:
            check_int_range(self.sparsity, "sparsity", low=1)

    def prepare(self, key, shape):
        return covariance_null(key, shape[0], shape[1], tau=self.tau, num_null=self.num_null)

    name: ClassVar[str] = "covariance_thresholding"
    source: ClassVar[str] = "GKVZ App. A (sparse PCA); Deshpande & Montanari (2014)"
    min_cols: ClassVar[int] = 2

    def statistic(self, w, prepared):
        return covariance_statistic(w, self.tau)

    def p_value(self, statistic, shape, prepared):
        s = host_statistic(statistic)
        ge = prepared[None, :] >= (s - 1e-9 * np.abs(s)).reshape(-1, 1)
        return ((1 + np.sum(ge, axis=1)) / (1 + prepared.size)).reshape(s.shape)

    def calibration(self, shape, prepared):
        return (
            f"Monte-Carlo null, {self.num_null} N(0, I) matrices of shape {tuple(shape)}, "
            f"tau={self.tau}"
        )

    def found(self, w, prepared):
        d = w.shape[1]
        evecs = np.linalg.eigh(np.asarray(_thresholded(w, self.tau), dtype=np.float64))[1]
        v = evecs[:, -1]
        if self.sparsity is not None:
            k = check_int_range(self.sparsity, "sparsity", low=1, high=d)
            support = np.sort(np.argsort(-np.abs(v))[:k])
        else:
            k_eff = 1.0 / np.sum(v**4)
            support = np.flatnonzero(v**2 >= 1.0 / (2.0 * k_eff))
        return {"direction": v, "support": support}


def covariance_thresholding(
    key,
    w: Float[ArrayLike, "m d"],
    *,
    tau: float = 2.0,
    sparsity: int | None = None,
    num_null: int = 199,
    alpha: float = 0.05,
) -> Detection:
    """Deshpande–Montanari covariance thresholding with a Monte-Carlo null.

    **Arguments:**

    - `key`: PRNG key for the `num_null` null matrices.
    - `w`: weights `(m, d)`; needs `m >= 2`, `d >= 2`.
    - `tau`: soft threshold in units of the null entry standard deviation.
    - `sparsity`: if known, the support estimate keeps this many coordinates.
    - `num_null`: Monte-Carlo null draws ($p \\ge 1/(1 + B)$, so `alpha` must exceed it).

    **Returns:** a [`Detection`][]; `found` holds `direction` and `support`. A thin wrapper over
    [`CovarianceThresholding`][].
    """
    key = as_key(key)
    alpha = check_alpha(alpha)
    w = check_weights(w, min_rows=2, min_cols=2)
    tau = _check_tau(tau)
    num_null = _check_num_null(num_null, alpha)
    if sparsity is not None:
        sparsity = check_int_range(sparsity, "sparsity", low=1, high=w.shape[1])
    return CovarianceThresholding(tau=tau, sparsity=sparsity, num_null=num_null, alpha=alpha)(
        w, key=key
    )
