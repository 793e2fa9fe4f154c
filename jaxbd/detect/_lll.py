"""The LLL attack's host core, shared by `lattice.py` (all columns) and `sparse_lattice.py`
(the columns of each candidate support): argument checks and a search batched over a stack of
sample matrices. See `lattice.py` for the method (Song, Zadik & Bruna 2021, §5)."""

import math

import numpy as np

from jaxbd._optional import fpylll
from jaxbd._validate import check_int_range, check_range, is_concrete, positive_numbers


def _periodogram64(proj: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """`_weights.periodogram` in float64 on the host, over the last axis of `proj` `(..., h)`."""
    c = np.mean(np.cos(2 * np.pi * proj), axis=-1)
    s = np.mean(np.sin(2 * np.pi * proj), axis=-1)
    e1 = np.exp(-2 * math.pi**2 * radius**2)
    vc = np.maximum((1 + e1**4) / 2 - e1**2, 1e-300)
    vs = np.maximum((1 - e1**4) / 2, 1e-300)
    return proj.shape[-1] * ((c - e1) ** 2 / vc + s**2 / vs)


def check_scales(scales) -> tuple[float, ...]:
    """The ladder of lattice scales: a non-empty sequence of finite numbers `> 0`."""
    out = positive_numbers(scales, "scales")
    if not out:
        raise ValueError("`scales` is empty.")
    return out


def _lll_first(basis: np.ndarray) -> np.ndarray:
    LLL, IntegerMatrix = fpylll("LLL", "IntegerMatrix")

    mat = IntegerMatrix.from_matrix(basis.astype(np.int64).tolist())
    LLL.reduction(mat)
    return np.asarray([mat[0, j] for j in range(mat.ncols)], dtype=np.float64)


def check_shift(shift) -> tuple[float, int]:
    """`shift` a multiple of 1/2; returns it and the multiplier 1 (integer) or 2 (half-integer)."""
    if isinstance(shift, (str, bytes)) or np.ndim(shift) != 0 or not is_concrete(shift):
        raise ValueError(f"`shift` must be a number (a multiple of 1/2), got {shift!r}.")
    shift = float(check_range(shift, "shift"))
    mult = 2.0 * shift
    if abs(mult - round(mult)) > 1e-12:
        raise ValueError(f"`shift` must be a multiple of 1/2, got {shift}.")
    return shift, 1 if round(mult) % 2 == 0 else 2


def lll_search(lat, held, scales, *, shift: float = 0.5) -> dict:
    r"""The LLL attack on a stack of sample matrices: one candidate secret per matrix.

    **Arguments:** `lat` `(s, n, k)` lattice rows and `held` `(s, h, k)` held-out rows of `s`
    problems (float64), `scales` the ladder of $M$, `shift` the pancake offset.

    **Returns:** a dict of arrays over the `s` problems: `statistic` (the best held-out
    periodogram over the ladder), `omega` `(s, k)`, `scale`, `residual` (largest distance of
    $\langle g, \hat\omega\rangle$ to $\mathbb Z + $ `shift` on the held-out rows). The SVDs,
    least squares and periodograms are batched over the stack (NumPy); LLL (fpylll) runs once
    per problem and scale on the host.
    """
    shift, mult = check_shift(shift)
    scales = check_scales(scales)
    lat, held = np.asarray(lat, np.float64), np.asarray(held, np.float64)
    s, n, k = lat.shape
    comp = np.linalg.svd(lat, full_matrices=True)[0][:, :, k:]  # (s, n, n - k)
    eye = np.broadcast_to(np.eye(n), (s, n, n))
    stats = np.full((len(scales), s), -1.0)
    omegas = np.zeros((len(scales), s, k))
    for a, scale in enumerate(scales):
        bases = np.concatenate([eye, np.round(scale * comp)], axis=2)
        v = np.stack([_lll_first(b)[:n] for b in bases])  # (s, n)
        pinv = np.linalg.pinv(lat)  # (s, k, n)
        omegas[a] = np.einsum("skn,sn->sk", pinv, v / mult)
        radius = np.linalg.norm(omegas[a], axis=1)
        stats[a] = _periodogram64(np.einsum("shk,sk->sh", held, omegas[a]), radius)
    best = np.argmax(stats, axis=0)
    omega = omegas[best, np.arange(s)]
    proj = np.einsum("shk,sk->sh", held, omega) - shift
    return {
        "statistic": stats[best, np.arange(s)],
        "omega": omega,
        "scale": np.asarray(scales)[best],
        "residual": np.max(np.abs(proj - np.round(proj)), axis=1),
    }


def lattice_rows(num_samples, default: int, shape, min_held: int = 16) -> int:
    m, d = shape
    n = default if num_samples is None else check_int_range(num_samples, "num_samples", low=1)
    if n < d + 1:
        raise ValueError(f"`num_samples` must be >= dim + 1 = {d + 1}, got {n}.")
    if m < n + min_held:
        raise ValueError(
            f"`w` has {m} rows; the lattice attack needs num_samples + {min_held} = "
            f"{n + min_held} (lattice rows plus held-out rows)."
        )
    return n
