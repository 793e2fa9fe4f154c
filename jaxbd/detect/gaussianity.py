r"""Gaussianity distinguisher: Kolmogorov–Smirnov tests of the weights against $N(0, 1)$.

Honest first layers (GKVZ Train-RFF Alg. 3, Train-Random-ReLU Alg. 8) have i.i.d. $N(0, 1)$
entries, so every coordinate column and every fixed unit projection $Wv$ is an i.i.d.
$N(0, 1)$ sample. The test runs one two-sided one-sample KS test per coordinate ($d$ tests) and
per random unit projection (`num_projections` tests, directions drawn from `key` independently
of `w`), and combines them by **Bonferroni** over the $K = d + $ `num_projections` tests:
$p = \min(1, K \min_j p_j)$. (Holm's step-down procedure rejects the global null exactly when
Bonferroni does — its first step is Bonferroni — so the global decision is Holm's too; Holm only
adds which coordinates are flagged, reported in `found["flagged"]`.) Exact KS p-values use
`scipy.stats.kstwo` (finite-$m$ distribution of $D_m$).

Pancakes of small support (GKVZ Lemma 6.2 with `secret_dim` 1) put a comb on a coordinate and
are caught here; dense or wide secrets are not (the marginals are Gaussian up to
$e^{-2\pi^2\gamma^2}$-size terms).
"""

from typing import ClassVar

import jax.numpy as jnp
import numpy as np
from jax.scipy.stats import norm
from jaxtyping import Array, ArrayLike, Float

from jaxbd._validate import as_key, check_int_range

from ._abstract import AbstractDistinguisher, register
from ._result import Detection
from ._weights import (
    bonferroni_p_value,
    check_alpha,
    check_weights,
    traced_weights,
    unit_vectors,
)


__all__ = [
    "Gaussianity",
    "gaussianity",
    "ks_statistics",
    "gaussianity_statistic",
    "gaussianity_p_value",
]


def _kstwo_sf(d, m):
    from scipy.stats import kstwo  # lazy: scipy.stats costs ~0.7 s of CLI start-up

    return kstwo.sf(d, m)


def ks_statistics(x: Float[ArrayLike, "m k"]) -> Float[Array, " k"]:
    r"""Two-sided KS statistic $D_m = \sup_t |F_m(t) - \Phi(t)|$ of each column of `x`."""
    x = traced_weights(x, "x")
    m = x.shape[0]
    xs = jnp.sort(x, axis=0)
    cdf = norm.cdf(xs)
    i = jnp.arange(1, m + 1, dtype=x.dtype)[:, None]
    mm = jnp.asarray(m, x.dtype)
    return jnp.maximum(jnp.max(i / mm - cdf, axis=0), jnp.max(cdf - (i - 1) / mm, axis=0))


def gaussianity_statistic(
    w: Float[ArrayLike, "m d"], projections: Float[ArrayLike, "p d"]
) -> Float[Array, ""]:
    """Largest KS statistic over the coordinates of `w` and the projections `w @ v` (jit/vmap)."""
    w = traced_weights(w)
    projections = traced_weights(projections, "projections", min_cols=0)
    if projections.shape[1] != w.shape[1]:
        raise ValueError(
            f"`projections` must have {w.shape[1]} columns (one per coordinate of `w`), got "
            f"shape {projections.shape}."
        )
    cols = jnp.concatenate([w, w @ projections.T.astype(w.dtype)], axis=1)
    return jnp.max(ks_statistics(cols))


def gaussianity_p_value(statistic, num_rows: int, num_tests: int) -> np.ndarray | np.floating:
    """Bonferroni global p-value $\\min(1, K\\,P(D_m \\ge \\text{statistic}))$ (host)."""
    return bonferroni_p_value(_kstwo_sf, statistic, num_rows, num_tests, "num_tests")


@register
class Gaussianity(AbstractDistinguisher):
    """KS tests of every coordinate and `num_projections` random projections, Bonferroni (and
    Holm for `found["flagged"]`). **Fields:** `num_projections`, `alpha`. `prepare` draws the
    projection directions (float32, independent of `w`)."""

    num_projections: int = 16
    alpha: float = 0.05

    def __check_init__(self):
        check_int_range(self.num_projections, "num_projections", low=0)

    def prepare(self, key, shape):
        return unit_vectors(as_key(key), self.num_projections, shape[1], jnp.float32)

    name: ClassVar[str] = "gaussianity"
    source: ClassVar[str] = "GKVZ Alg. 3 / Alg. 8 (N(0, I) rows); exact KS (scipy kstwo)"
    min_rows: ClassVar[int] = 8

    def statistic(self, w, prepared):
        if prepared.shape[0] == 0:  # coordinates only
            return jnp.max(ks_statistics(w))
        return gaussianity_statistic(w, prepared)

    def p_value(self, statistic, shape, prepared):
        return gaussianity_p_value(statistic, shape[0], shape[1] + self.num_projections)

    def calibration(self, shape, prepared):
        return (
            f"Bonferroni (= Holm for the global null) over {shape[1] + self.num_projections} "
            f"exact KS tests ({shape[1]} coordinates + {self.num_projections} random projections)"
        )

    def found(self, w, prepared):
        m, d = w.shape
        cols = jnp.concatenate([w, w @ prepared.T.astype(w.dtype)], axis=1)
        pvals = _kstwo_sf(np.asarray(ks_statistics(cols), np.float64), m)
        k = pvals.size
        # Holm step-down: reject the j-th smallest while p_(j) <= alpha / (K - j).
        order = np.argsort(pvals)
        ok = pvals[order] <= self.alpha / (k - np.arange(k))
        n_rej = k if ok.all() else int(np.argmin(ok))
        rejected = order[:n_rej]
        return {"flagged": np.sort(rejected[rejected < d]), "coordinate_p_values": pvals[:d]}


def gaussianity(
    key, w: Float[ArrayLike, "m d"], *, num_projections: int = 16, alpha: float = 0.05
) -> Detection:
    """KS tests of every coordinate and `num_projections` random projections of `w`.

    **Arguments:**

    - `key`: PRNG key for the projection directions.
    - `w`: weights `(m, d)`, rows = hidden units; needs `m >= 8`.
    - `num_projections`: random unit projections tested besides the coordinates.
    - `alpha`: family-wise level (Bonferroni/Holm over all `d + num_projections` tests).

    **Returns:** a [`Detection`][] with statistic = the largest $D_m$; `found["flagged"]` lists
    the coordinates Holm's procedure rejects at `alpha`. A thin wrapper over [`Gaussianity`][].
    """
    key = as_key(key)
    alpha = check_alpha(alpha)
    w = check_weights(w, min_rows=8)
    num_projections = check_int_range(num_projections, "num_projections", low=0)
    return Gaussianity(num_projections=num_projections, alpha=alpha)(w, key=key)
