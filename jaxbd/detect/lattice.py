r"""Lattice distinguisher: LLL recovers the CLWE secret when the noise $\beta$ is tiny.

Song, Zadik & Bruna (NeurIPS 2021, "On the cryptographic hardness of learning single periodic
neurons", §5) and Zadik, Song, Wein & Bruna (COLT 2022, "Lattice-based methods surpass
sum-of-squares in clustering") show that homogeneous CLWE with (exponentially) small noise is
solved in polynomial time by lattice basis reduction. For pancakes with shift $\tfrac12$ (GKVZ
Lemma 6.2), the $n$ samples $G$ (rows $g_i$) satisfy $2G\omega = v + 2\varepsilon$ with $v$ an
*odd integer* vector and $|\varepsilon_i| \lesssim \beta$: the integer vector $v$ lies within
$O(\beta)$ of the $d$-dimensional column space of $G$. With $C$ an orthonormal basis of
$\mathrm{col}(G)^\perp$ ($n \times (n-d)$), the lattice spanned by the rows of
$[I_n \mid \lfloor M C\rceil]$ contains $(v, \lfloor MC\rceil^\top v)$ of norm
$\approx 2\gamma\sqrt n$, while a generic vector has norm $\approx M^{(n-d)/n}$; LLL (fpylll)
finds $v$ when $M^{(n-d)/n} \gg 2^{n/4}\gamma\sqrt n$ and $M\beta\sqrt{n} \ll \gamma$. We try a
ladder of scales $M$, set $\hat\omega = \mathrm{lstsq}(G, v/2)$ for each reduced first vector, and
test $\hat\omega$ on **held-out** rows with the standardised periodogram (`_weights.periodogram`,
$\chi^2_2$ since $\hat\omega$ is independent of them). **Calibration:** Bonferroni over the
ladder, $p = \min(1, |\text{ladder}|\,e^{-T/2})$. Runs on the host in float64 (the weights are
converted; float32 weights carry ~1e-7 relative rounding, itself a noise floor).
"""

from typing import ClassVar

import numpy as np
from jaxtyping import ArrayLike, Float

from jaxbd._validate import check_int_range

from ._abstract import AbstractDistinguisher, register
from ._lll import check_scales, check_shift, lattice_rows, lll_search
from ._result import Detection
from ._weights import as_numpy64, check_alpha, check_weights


__all__ = ["LatticeAttack", "lattice_attack", "DEFAULT_SCALES"]

DEFAULT_SCALES = tuple(2.0**e for e in (10, 16, 22, 28, 34, 40))


@register
class LatticeAttack(AbstractDistinguisher):
    """LLL recovery of a (dense or sparse) pancake secret at tiny noise, tested on held-out
    rows; Bonferroni over the ladder of scales. A host computation (fpylll): `traced = False`.
    **Fields:** `shift`, `num_samples` (lattice rows, default $2d + 2$), `scales`, `alpha`."""

    shift: float = 0.5
    num_samples: int | None = None
    scales: tuple[float, ...] = DEFAULT_SCALES
    alpha: float = 0.05

    name: ClassVar[str] = "lattice"
    source: ClassVar[str] = "Song, Zadik & Bruna (2021) §5; GKVZ Lemma 6.2 (pancakes)"
    traced: ClassVar[bool] = False

    def __check_init__(self):
        check_shift(self.shift)
        check_scales(self.scales)
        if self.num_samples is not None:
            check_int_range(self.num_samples, "num_samples", low=1)

    def prepare(self, key, shape):
        return lattice_rows(self.num_samples, 2 * shape[1] + 2, shape)

    def evaluate(self, w, prepared):
        g = as_numpy64(w)
        r = lll_search(g[None, :prepared], g[None, prepared:], self.scales, shift=self.shift)
        found = {
            "omega": r["omega"][0],
            "residual": float(r["residual"][0]),
            "scale": float(r["scale"][0]),
            "num_samples": prepared,
        }
        return float(r["statistic"][0]), found

    def statistic(self, w, prepared):
        return self.evaluate(w, prepared)[0]

    def p_value(self, statistic, shape, prepared):
        return np.minimum(1.0, len(self.scales) * np.exp(-np.asarray(statistic, np.float64) / 2))

    def calibration(self, shape, prepared):
        return (
            f"periodogram of the LLL candidate on {shape[0] - prepared} held-out rows (chi2_2), "
            f"Bonferroni over {len(self.scales)} lattice scales"
        )


def lattice_attack(
    w: Float[ArrayLike, "m d"],
    *,
    shift: float = 0.5,
    num_samples: int | None = None,
    scales: tuple[float, ...] = DEFAULT_SCALES,
    alpha: float = 0.05,
) -> Detection:
    """LLL attack on (sparse or dense) pancakes with tiny noise; recovers the secret.

    **Arguments:**

    - `w`: weights `(m, d)`, rows = RFF frequencies in units where $\\langle g, \\omega\\rangle
      \\in \\mathbb Z + $ `shift` (so divide by nothing: pass the frequencies the secret acts on).
    - `shift`: the pancake offset (0 for hCLWE, 1/2 for GKVZ); `2 * shift` must be an integer.
    - `num_samples`: rows used for the lattice (default $2d + 2$); the rest (at least 16) are
      held out for the test.
    - `scales`: the ladder of scales $M$.

    **Returns:** a [`Detection`][]; `found["omega"]` is the recovered secret (up to sign) and
    `found["residual"]` the largest distance of $\\langle g, \\hat\\omega\\rangle$ to
    $\\mathbb Z + $ `shift` on the held-out rows. A thin wrapper over [`LatticeAttack`][].
    """
    alpha = check_alpha(alpha)
    shift = check_shift(shift)[0]
    scales = check_scales(scales)
    w = check_weights(w, min_rows=2)
    n = lattice_rows(num_samples, 2 * w.shape[1] + 2, w.shape)
    return LatticeAttack(shift=shift, num_samples=n, scales=scales, alpha=alpha)(w)
