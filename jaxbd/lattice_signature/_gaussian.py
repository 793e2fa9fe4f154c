r"""Discrete Gaussian sampling on the host (numpy, float64): the pieces of MP12's sampler.

Convention: $\rho_s(x) = \exp(-\pi \|x\|^2 / s^2)$ ("parameter" $s$, standard deviation
$s/\sqrt{2\pi}$); $D_{\mathbb{Z}, s, c}$ is the discrete Gaussian on $\mathbb{Z}$ centred at $c$.

- [`round_gaussian`][]: $D_{\mathbb{Z}, r, c}$ for a vector of centres, by inverse CDF over the
  window $c \pm T$, $T = \lceil r\sqrt{\lambda \ln 2 / \pi}\rceil + 1$ (the mass outside is
  below $2^{-\lambda}$ relative to the total), probabilities in float64.
- [`continuous_to_discrete`][]: Peikert 2010 (Thm 3.1) convolution — a continuous Gaussian of
  parameter $\sqrt{s^2 - r^2}$ rounded by $D_{\mathbb{Z} - y, r}$ is within $O(\varepsilon)$ of
  $D_{\mathbb{Z}, s}$ when $r \ge \eta_\varepsilon(\mathbb{Z})$.
- [`gadget_sample`][]: $D_{\Lambda_v^\perp(G), s_G}$ for $G = I_n \otimes (1, b, \dots,
  b^{\ell-1})$, $q = b^\ell$, digit by digit (MP12 §4.2; randomized nearest plane on the basis
  with $\tilde S = bI$): $x_j \leftarrow D_{b\mathbb{Z} + (v \bmod b), s_G}$, $v \leftarrow (v -
  x_j)/b$.

**What is not exact.** Float64 probabilities make each draw within about $2^{-45}$ (statistical
distance) of the exact distribution; the tail cut adds $2^{-\lambda}$; the code is not constant
time (its timing depends on the sampled values — a side channel this research code does not
address).
"""

import math

import numpy as np


__all__ = ["round_gaussian", "continuous_to_discrete", "gadget_sample", "TAIL_SECURITY"]

TAIL_SECURITY = 100  # λ of the tail cut


def round_gaussian(rng: np.random.Generator, centres, r: float) -> np.ndarray:
    """One draw of $D_{\\mathbb{Z}, r, c}$ per centre `c` (any shape); int64."""
    c = np.asarray(centres, np.float64)
    t = int(math.ceil(r * math.sqrt(TAIL_SECURITY * math.log(2) / math.pi))) + 1
    base = np.floor(c).astype(np.int64)
    cand = base[..., None] + np.arange(-t, t + 2, dtype=np.int64)
    logp = -math.pi * (cand - c[..., None]) ** 2 / (r * r)
    p = np.exp(logp - logp.max(axis=-1, keepdims=True))
    cdf = np.cumsum(p, axis=-1)
    u = rng.random(c.shape) * cdf[..., -1]
    idx = np.minimum((cdf < u[..., None]).sum(axis=-1), cand.shape[-1] - 1)
    return np.take_along_axis(cand, idx[..., None], axis=-1)[..., 0]


def continuous_to_discrete(rng: np.random.Generator, shape, s: float, r: float) -> np.ndarray:
    """$D_{\\mathbb{Z}^{shape}, s}$ by Peikert's convolution (module docstring); needs s > r."""
    if not s > r:
        raise ValueError(f"`s` ({s}) must exceed the rounding width `r` ({r}).")
    y = rng.standard_normal(shape) * math.sqrt((s * s - r * r) / (2 * math.pi))
    return round_gaussian(rng, y, r)


def gadget_sample(
    rng: np.random.Generator, v, *, base: int, digits: int, s_g: float
) -> np.ndarray:
    """$z \\sim D_{\\Lambda^\\perp_v(G), s_G}$: `v` is `(n,)` in $[0, q)$, `z` is `(n * digits,)`,
    column `i * digits + j` the digit `j` of row `i`, so that $Gz \\equiv v \\pmod{b^\\ell}$."""
    v = np.asarray(v, np.int64).copy()
    z = np.empty((v.shape[0], digits), np.int64)
    for j in range(digits):
        c = np.mod(v, base)
        y = round_gaussian(rng, -c / base, s_g / base)
        x = c + base * y
        z[:, j] = x
        v = (v - x) // base  # exact: v - x is a multiple of base
    return z.reshape(-1)
