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

import math

import numpy as np
from jaxtyping import ArrayLike, Float

from jaxbd._validate import check_int_range, check_positive, check_range, is_concrete

from ._result import Detection
from ._weights import as_numpy64, check_alpha, check_weights


__all__ = ["lattice_attack", "DEFAULT_SCALES"]

DEFAULT_SCALES = tuple(2.0**e for e in (10, 16, 22, 28, 34, 40))


def _periodogram64(proj: np.ndarray, radius: float) -> float:
    c = np.mean(np.cos(2 * np.pi * proj))
    s = np.mean(np.sin(2 * np.pi * proj))
    e1 = math.exp(-2 * math.pi**2 * radius**2)
    vc = max((1 + e1**4) / 2 - e1**2, 1e-300)
    vs = max((1 - e1**4) / 2, 1e-300)
    return float(proj.shape[0] * ((c - e1) ** 2 / vc + s**2 / vs))


def _check_scales(scales) -> tuple[float, ...]:
    """The ladder of lattice scales: a non-empty sequence of finite numbers `> 0`."""
    if isinstance(scales, (str, bytes)) or scales is None:
        raise ValueError(f"`scales` must be a sequence of numbers > 0, got {scales!r}.")
    try:
        vals = list(scales)
    except TypeError:
        raise ValueError(f"`scales` must be a sequence of numbers > 0, got {scales!r}.") from None
    if not vals:
        raise ValueError("`scales` is empty.")
    out = []
    for i, v in enumerate(vals):
        if isinstance(v, (str, bytes)) or np.ndim(v) != 0 or not is_concrete(v):
            raise ValueError(f"`scales` must hold numbers > 0, got {v!r} at index {i}.")
        try:
            out.append(float(check_positive(v, f"scales[{i}]", allow_zero=False)))
        except ValueError:
            raise ValueError(
                f"`scales` must hold finite numbers > 0, got {v!r} at index {i}."
            ) from None
    return tuple(out)


def _lll_first(basis: np.ndarray) -> np.ndarray:
    from fpylll import LLL, IntegerMatrix

    mat = IntegerMatrix.from_matrix([[int(v) for v in row] for row in basis])
    LLL.reduction(mat)
    return np.asarray([mat[0, j] for j in range(mat.ncols)], dtype=np.float64)


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
    $\\mathbb Z + $ `shift` on the held-out rows.
    """
    alpha = check_alpha(alpha)
    if isinstance(shift, (str, bytes)) or np.ndim(shift) != 0 or not is_concrete(shift):
        raise ValueError(f"`shift` must be a number (a multiple of 1/2), got {shift!r}.")
    shift = float(check_range(shift, "shift"))
    scales = _check_scales(scales)
    mult = 2.0 * float(shift)
    if abs(mult - round(mult)) > 1e-12:
        raise ValueError(f"`shift` must be a multiple of 1/2, got {shift}.")
    mult = 1 if round(mult) % 2 == 0 else 2
    w = check_weights(w, min_rows=2)
    m, d = w.shape
    n = 2 * d + 2 if num_samples is None else check_int_range(num_samples, "num_samples", low=1)
    if n < d + 1:
        raise ValueError(f"`num_samples` must be >= dim + 1 = {d + 1}, got {n}.")
    if m < n + 16:
        raise ValueError(
            f"`w` has {m} rows; the lattice attack needs num_samples + 16 = {n + 16} "
            "(lattice rows plus held-out rows)."
        )
    g = as_numpy64(w)
    lat, held = g[:n], g[n:]
    u, _, _ = np.linalg.svd(lat, full_matrices=True)
    comp = u[:, d:]
    best = (-1.0, None, None, None)
    for scale in scales:
        basis = np.hstack([np.eye(n), np.round(scale * comp)])
        v = _lll_first(basis)[:n]
        omega = np.linalg.lstsq(lat, v / mult, rcond=None)[0]
        radius = float(np.linalg.norm(omega))
        stat = _periodogram64(held @ omega, radius)
        if stat > best[0]:
            best = (stat, omega, scale, v)
    stat, omega, scale, v = best
    proj = held @ omega - shift
    residual = float(np.max(np.abs(proj - np.round(proj))))
    p = min(1.0, len(scales) * math.exp(-stat / 2.0))
    return Detection.from_p(
        "lattice",
        stat,
        p,
        alpha,
        f"periodogram of the LLL candidate on {m - n} held-out rows (chi2_2), Bonferroni over "
        f"{len(scales)} lattice scales",
        {"omega": omega, "residual": residual, "scale": scale, "num_samples": n},
    )
