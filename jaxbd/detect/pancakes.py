r"""Pancakes distinguisher: periodicity of the weights along candidate sparse secrets.

Backdoor-RFF (GKVZ §6, Alg. 4–5) draws its frequencies from sparse Gaussian pancakes
(Lemma 6.2): for the secret $\omega$ ($k$-sparse, $\|\omega\| = \gamma = 2\sqrt k$),
$\langle g, \omega\rangle$ lies within ~$\beta$ of $\mathbb Z + \tfrac12$. Hence the Fourier
coefficient $\phi(\hat\omega) = \frac1m\sum_i e^{2\pi i\langle g_i, \hat\omega\rangle}$ is
$\approx -e^{-2\pi^2\beta^2}$ at $\hat\omega = \omega$ and $O(m^{-1/2})$ for honest weights, and
it stays large for $\|\hat\omega - \omega\| \lesssim 0.3$ (the factor $e^{-2\pi^2\|\delta\|^2}$).

The search: every support $S$ of size `support_size` (all $\binom dk$ of them — the "toy"
regime; hardness in Lemma 6.2 comes from $k = d^{1/c}$ growing) and, within $S$, `num_directions`
candidate directions of norm `gamma` (evenly spaced angles for $k = 2$, $\pm$ for $k = 1$,
uniform random points otherwise; default count covers the sphere of radius $\gamma$ at spacing
0.3, i.e. $\propto (\gamma/0.3)^{k-1}$ — exponential in $k$, which is the point). The statistic is
the largest standardised periodogram (`_weights.periodogram`, asymptotically $\chi^2_2$ for each
fixed candidate). **Calibration: a union bound** over the $N$ candidates,
$p = \min(1, N e^{-T/2})$ — valid (conservative: the candidates are correlated), so the
false-positive rate is at most `alpha`. Cost $\binom dk \cdot N \cdot m \cdot k$; refused above
`max_candidates`.
"""

import itertools
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from jaxbd._validate import as_key, check_int_range, check_positive, is_concrete

from ._abstract import AbstractDistinguisher, register
from ._result import Detection
from ._weights import (
    check_alpha,
    check_weights,
    host_statistic,
    periodogram,
    traced_weights,
    unit_vectors,
)


__all__ = ["Pancakes", "pancakes", "pancake_statistics", "candidate_directions", "all_supports"]


def all_supports(dim: int, size: int) -> np.ndarray:
    """Every `size`-subset of `range(dim)`, as an int array `(C(dim, size), size)`."""
    dim = check_int_range(dim, "dim", low=1)
    size = check_int_range(size, "size", low=1, high=dim)
    return np.asarray(list(itertools.combinations(range(dim), size)), dtype=np.int32).reshape(
        -1, size
    )


def default_num_directions(size: int, gamma: float, spacing: float = 0.3) -> int:
    """Candidate directions covering the sphere of radius `gamma` in `R^size` at `spacing`."""
    size = check_int_range(size, "size", low=1)
    gamma = _number(gamma, "gamma")
    spacing = _number(spacing, "spacing")
    if size == 1:
        return 1
    if size == 2:
        return int(math.ceil(math.pi * gamma / spacing))  # half circle (phi(-w) = conj phi(w))
    area = 2 * math.pi ** (size / 2) / math.gamma(size / 2) * gamma ** (size - 1)
    return int(math.ceil(2.0 * area / spacing ** (size - 1)))


def _number(value, name: str) -> float:
    """A concrete finite number `> 0`."""
    if isinstance(value, (str, bytes)) or value is None or not is_concrete(value):
        raise ValueError(f"`{name}` must be a concrete number > 0, got {value!r}.")
    if np.ndim(value) != 0:
        raise ValueError(f"`{name}` must be a number > 0, got shape {np.shape(value)}.")
    return float(check_positive(value, name))


def candidate_directions(key, size: int, num: int, dtype=jnp.float32) -> Float[Array, "n k"]:
    """Unit directions in `R^size`: `[1]`, a half circle, or uniform random points."""
    key = as_key(key)
    size = check_int_range(size, "size", low=1)
    num = check_int_range(num, "num", low=1)
    if size == 1:
        return jnp.ones((1, 1), dtype)
    if size == 2:
        ang = jnp.arange(num, dtype=dtype) * jnp.asarray(math.pi / num, dtype)
        return jnp.stack([jnp.cos(ang), jnp.sin(ang)], axis=1)
    return unit_vectors(key, num, size, dtype)


def pancake_statistics(
    w: Float[ArrayLike, "m d"],
    supports: Int[ArrayLike, "s k"],
    directions: Float[ArrayLike, "n k"],
    gamma: float,
    batch_size: int = 8,
    chunk: int = 2048,
) -> Float[Array, " s"]:
    """Largest periodogram over `directions * gamma` within each support (jit/vmap-able).

    Directions are processed in chunks of `chunk` (memory `m * chunk` per support).
    """
    w = traced_weights(w)
    directions = traced_weights(directions, "directions")
    supports = jnp.asarray(supports)
    if supports.ndim != 2 or not jnp.issubdtype(supports.dtype, jnp.integer):
        raise ValueError(
            f"`supports` must be an integer array (num_supports, k), got {supports.dtype} of "
            f"shape {supports.shape}."
        )
    if supports.shape[1] != directions.shape[1]:
        raise ValueError(
            f"`supports` has {supports.shape[1]} coordinates per support but `directions` has "
            f"{directions.shape[1]}."
        )
    batch_size = check_int_range(batch_size, "batch_size", low=1)
    chunk = check_int_range(chunk, "chunk", low=1)
    g = jnp.asarray(gamma, w.dtype)
    n = directions.shape[0]
    c = min(chunk, n)
    pad = (-n) % c
    dirs = directions.astype(w.dtype) * g
    dirs = jnp.concatenate([dirs, jnp.broadcast_to(dirs[:1], (pad, dirs.shape[1]))], axis=0)
    dirs = dirs.reshape(-1, c, dirs.shape[1])  # (chunks, c, k)

    def one(support):
        ws = w[:, support]

        def chunk_max(cand):
            proj = ws @ cand.T  # (m, c)
            return jnp.max(jax.vmap(periodogram, in_axes=(1, None))(proj, g))

        return jnp.max(jax.lax.map(chunk_max, dirs))

    return jax.lax.map(one, supports, batch_size=batch_size)


def _check_support_size(support_size, dim: int) -> int:
    if (
        isinstance(support_size, (bool, np.bool_))
        or not isinstance(support_size, (int, np.integer))
        or not 1 <= support_size <= dim
    ):
        raise ValueError(f"`support_size` must be an integer in [1, {dim}], got {support_size!r}.")
    return int(support_size)


@register
class Pancakes(AbstractDistinguisher):
    """Periodicity along every `support_size`-sparse candidate secret (union bound over the
    candidates). `prepare` enumerates the supports and draws the directions. **Fields:**
    `support_size`, `gamma` (default $2\\sqrt k$), `num_directions` (default: a 0.3-cover),
    `max_candidates`, `alpha`."""

    support_size: int = 1
    gamma: float | None = None
    num_directions: int | None = None
    max_candidates: int = 4_000_000
    alpha: float = 0.05

    def __check_init__(self):
        check_int_range(self.support_size, "support_size", low=1)
        if self.gamma is not None:
            _number(self.gamma, "gamma")
        if self.num_directions is not None:
            check_int_range(self.num_directions, "num_directions", low=1)
        check_int_range(self.max_candidates, "max_candidates", low=1)

    def prepare(self, key, shape):
        d = shape[1]
        k = _check_support_size(self.support_size, d)
        gamma = 2.0 * math.sqrt(k) if self.gamma is None else float(self.gamma)
        n_dir = (
            default_num_directions(k, gamma)
            if self.num_directions is None
            else int(self.num_directions)
        )
        n_sup = math.comb(d, k)
        if n_sup * n_dir > self.max_candidates:
            raise ValueError(
                f"the search needs {n_sup} supports x {n_dir} directions = {n_sup * n_dir} "
                f"candidates > `max_candidates`={self.max_candidates}: support_size={k} in "
                f"dim={d} is outside the enumerable (toy) regime."
            )
        supports = jnp.asarray(all_supports(d, k))
        return supports, candidate_directions(as_key(key), k, n_dir), gamma

    name: ClassVar[str] = "pancakes"
    source: ClassVar[str] = "GKVZ §6, Lemma 6.2 (sparse pancakes; enumeration is the toy regime)"
    min_rows: ClassVar[int] = 8

    def statistic(self, w, prepared):
        supports, dirs, gamma = prepared
        return jnp.max(pancake_statistics(w, supports, dirs, gamma))

    def p_value(self, statistic, shape, prepared):
        supports, dirs, _ = prepared
        total = supports.shape[0] * dirs.shape[0]
        return np.minimum(1.0, total * np.exp(-host_statistic(statistic) / 2.0))

    def calibration(self, shape, prepared):
        supports, dirs, _ = prepared
        return (
            f"union bound over {supports.shape[0] * dirs.shape[0]} candidates "
            f"({supports.shape[0]} supports x {dirs.shape[0]} directions), chi2_2 tail per "
            "candidate"
        )

    def evaluate(self, w, prepared):
        supports, dirs, gamma = prepared
        stats = np.asarray(_per_support(w, supports, dirs.astype(w.dtype), gamma))
        best = int(np.argmax(stats))
        sup = np.asarray(supports[best])
        # Recover the best direction within the best support.
        proj = np.asarray(w[:, sup] @ (dirs.astype(w.dtype) * gamma).T, dtype=np.float64)
        phi = np.abs(np.mean(np.exp(2j * np.pi * proj), axis=0))
        j = int(np.argmax(phi))
        omega = np.zeros(w.shape[1])
        omega[sup] = gamma * np.asarray(dirs[j], dtype=np.float64)
        found = {"support": sup, "omega": omega, "abs_phi": float(phi[j])}
        return float(stats[best]), found


_per_support = jax.jit(pancake_statistics, static_argnums=(3,))


def pancakes(
    key,
    w: Float[ArrayLike, "m d"],
    *,
    support_size: int,
    gamma: float | None = None,
    num_directions: int | None = None,
    alpha: float = 0.05,
    max_candidates: int = 4_000_000,
) -> Detection:
    """Search every `support_size`-sparse candidate secret of norm `gamma` for periodicity.

    **Arguments:**

    - `key`: PRNG key for the random candidate directions (`support_size >= 3`).
    - `w`: weights `(m, d)` (RFF frequencies in units where the secret has norm `gamma`).
    - `support_size`: $k$, the secret's sparsity the auditor guesses (GKVZ `secret_dim`).
    - `gamma`: the secret's norm (default $2\\sqrt k$, Lemma 6.2).
    - `num_directions`: candidates per support (default: a 0.3-cover of the sphere).
    - `max_candidates`: refuse searches with more (support, direction) pairs than this.

    **Returns:** a [`Detection`][]; `found` holds the best `support`, the best candidate
    `omega` (in `R^d`) and its `|phi|`. A thin wrapper over [`Pancakes`][].
    """
    key = as_key(key)
    alpha = check_alpha(alpha)
    w = check_weights(w, min_rows=8)
    k = _check_support_size(support_size, w.shape[1])
    if gamma is not None:
        gamma = _number(gamma, "gamma")
    max_candidates = check_int_range(max_candidates, "max_candidates", low=1)
    if num_directions is not None:
        num_directions = check_int_range(num_directions, "num_directions", low=1)
    dist = Pancakes(
        support_size=k,
        gamma=gamma,
        num_directions=num_directions,
        max_candidates=max_candidates,
        alpha=alpha,
    )
    return dist(w, key=key)
