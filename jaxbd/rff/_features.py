r"""The feature map of GKVZ Alg. 2: $\cos(2\pi\theta)$ by range reduction, and the batched
featurization $\cos(2\pi(x G^\top/\ell + b))$ (see the package docstring, "Cosine")."""

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._validate import check_finite, check_floating


# Taylor coefficients of cos(x) = sum_j (-1)^j x^(2j) / (2j)!, truncated so that the remainder on
# [0, pi/2] is below the dtype's resolution: (pi/2)^14/14! < 7e-9, (pi/2)^22/22! < 2e-17.
_COS_COEFFS = tuple((-1) ** j / math.factorial(2 * j) for j in range(11))


def cos_turns(theta: ArrayLike) -> Array:
    r"""$\cos(2\pi\theta)$ elementwise, by exact range reduction and a polynomial.

    $r = \theta - \mathrm{round}(\theta) \in [-1/2, 1/2]$ is exact in floating point; with
    $s = |r|$ folded to $[0, 1/4]$ by $\cos(2\pi s) = -\cos(2\pi(1/2 - s))$, $\cos(2\pi s)$ is
    the Taylor polynomial of degree 12 (float32; remainder $< 7\cdot 10^{-9}$) or 20 (float64;
    $< 2\cdot 10^{-17}$) at $x = 2\pi s \le \pi/2$. Measured error: $\le 2\cdot 10^{-7}$ (float32),
    $\le 10^{-15}$ (float64) against `numpy.cos(2 pi theta)` in float64 of the same $\theta$.
    Differentiable (the derivative of $\mathrm{round}$ is 0 almost everywhere).

    **Raises:** `ValueError` for a non-floating `theta` (integers would make every value 1);
    NaN/inf values raise `ValueError` (or, traced, a run-time error).
    """
    return _cos_turns(check_finite(check_floating(theta, "theta"), "theta"))


def _cos_turns(theta: Array) -> Array:
    # `cos_turns` without its checks: the featurization's inputs are checked by its callers.
    r = theta - jnp.round(theta)
    s = jnp.abs(r)
    flip = s > 0.25
    s = jnp.where(flip, 0.5 - s, s)
    x = (2 * math.pi) * s
    x2 = x * x
    ncoef = 11 if jnp.finfo(theta.dtype).bits >= 64 else 7
    p = jnp.full_like(x2, _COS_COEFFS[ncoef - 1])
    for c in reversed(_COS_COEFFS[: ncoef - 1]):
        p = p * x2 + c
    return jnp.where(flip, -p, p)


# Row blocks of the CPU featurization: about 2^21 outputs (8 MB in float32) per block, so each
# block's matmul output is still in cache when the cosine reads it (see `_featurize`).
_BLOCK_OUTPUTS = 2**21
_BLOCK_MIN_DIM = 256


def _featurize(frequencies, phases, bandwidth, x):
    r"""$\cos(2\pi(x G^\top/\ell + b))$ for a batch `x` `(n, d)`: one matmul and [`cos_turns`][].

    On CPU with `d >= 256` (a compute-bound matmul) the rows are processed in blocks of about
    $2^{21}$ outputs (`lax.map` over blocks, the last one zero-padded), so the matmul's output
    block is still in cache when the cosine reads it instead of making a round trip through
    memory: at n = 20k, d = 784, width = 4096 the whole featurization then takes 0.96x the time
    of the bare unblocked matmul (`benchmarks/bench_rff.py`). For small
    `d` the matmul is cheap and blocking only serialises work (measured slower), and on
    accelerators one large matmul is best, so both take the plain path. The values agree up to
    float rounding (the matmul kernel may order its sums differently for a smaller block).
    """
    n, d = x.shape
    width = frequencies.shape[0]
    one = lambda rows: _cos_turns(rows @ frequencies.T / bandwidth + phases[None, :])  # noqa: E731
    rows = max(1, _BLOCK_OUTPUTS // max(width, 1))
    if jax.default_backend() != "cpu" or d < _BLOCK_MIN_DIM or n <= rows:
        return one(x)
    num = -(-n // rows)
    rows = -(-n // num)  # balance the blocks: the padding is less than one row per block
    xp = jnp.pad(x, ((0, num * rows - n), (0, 0))).reshape(num, rows, d)
    return jax.lax.map(one, xp).reshape(num * rows, width)[:n]
