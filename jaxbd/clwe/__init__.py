r"""Continuous LWE, homogeneous CLWE ("Gaussian pancakes") and sparse secrets.

The hardness assumption behind the white-box RFF backdoor of Goldwasser–Kim–Vaikuntanathan–Zamir
("Planting Undetectable Backdoors", GKVZ §6, Lemmas 6.2 and 6.5), from Bruna–Regev–Song–Tang
("Continuous LWE", STOC 2021):

- **CLWE** ([`clwe`][]): $y \sim N(0, I_d)$, $z = \langle y, \omega\rangle + e \bmod 1$,
  $e \sim N(0, \beta^2)$ (the secret $\omega = \gamma u$ carries the scale $\gamma$).
- **Homogeneous CLWE / Gaussian pancakes** ([`pancakes`][]): $N(0, I_d)$ conditioned on
  $\langle g, \omega\rangle$ being within $\sim\beta$ of $\mathbb{Z} + s$. GKVZ condition on
  $s = 1/2$ (Lemma 6.5: "conditioning on $z = 1/2$ rather than $z = 0$"), which is what makes
  Activate-RFF flip every feature; $s = 0$ is BRST's hCLWE.
- **Sparse secrets** ([`sample_secret`][]): GKVZ Lemma 6.2 embeds a dense secret of dimension
  $k$ into $k$ random coordinates of $\mathbb{R}^d$; the coordinates off the support are plain
  $N(0, 1)$. Hardness needs $\gamma \ge 2\sqrt{k}$ (BRST Thm 1.1, GKVZ Thm 6.4).

**Exact sampling.** Pancakes are *not* sampled by rejection. With $u = \omega/\gamma$, the
density of $g$ is $\propto N(g; 0, I)\sum_k \exp(-(\gamma\langle g,u\rangle - a_k)^2/(2\beta^2))$,
$a_k = k + s$. Completing the square, the projection $t = \langle g, u\rangle$ is the Gaussian
mixture

$$t \sim \sum_k \pi_k\, N\!\Big(\frac{\gamma a_k}{\gamma^2+\beta^2},
\frac{\beta^2}{\gamma^2+\beta^2}\Big),\qquad
\pi_k \propto \exp\!\Big(-\frac{a_k^2}{2(\gamma^2+\beta^2)}\Big),$$

and the part of $g$ orthogonal to $u$ is an independent standard Gaussian. So
$\langle g, \omega\rangle = \gamma t = a_k - a_k\beta^2/(\gamma^2+\beta^2) + \varepsilon$ with
$\varepsilon \sim N(0, \gamma^2\beta^2/(\gamma^2+\beta^2))$: within $\sim\beta$ of
$\mathbb{Z} + s$ up to the deterministic shrink $a_k\beta^2/(\gamma^2+\beta^2)$ (negligible for
small $\beta$). The layer index is drawn by inverse CDF (`searchsorted` on the cumulative
weights, $O(n \log K)$), then one Gaussian per sample; the cost is one `normal(num, dim)` plus
one projection and one update, done in cache-sized row blocks on CPU (measured faster than a
single unblocked `jax.random.normal` of the same shape: `benchmarks/bench_pancakes.py`).

**Static table size.** Under `jit`/`vmap` the secret is traced, so the number of layers must be
static. It is derived from `max_gamma` (default $8\sqrt{d}$): layers
$|a_k| \le 12\,\texttt{max\_gamma}$ are kept (the mass beyond $12\sigma$, $\sigma =
\sqrt{\gamma^2+\beta^2}$, is $< 10^{-32}$, below float64 resolution). A run-time check
(`eqx.error_if`) fails when $\sigma$ exceeds `max_gamma`; nothing is silently truncated.

**Precision.** $\langle g, \omega\rangle$ reaches $\sim 16\sqrt{d}$ for dense secrets, where
float32 rounding is $\sim 10^{-5}$: in float32 the distance of $\langle g, \omega\rangle$ to
$\mathbb{Z}+s$ is resolved only to about $10^{-6}\,|\langle g,\omega\rangle|$, so use float64
(`jax.enable_x64`) for $\beta \lesssim 10^{-4}$. The layer table is built in the sampling dtype;
in float32 its cumulative weights carry relative errors $\lesssim 10^{-6}$.

The package is split by idea behind this one public surface: `_secret` (sparse secrets and the
hardness regime), `_layers` (the exact law of the layers and its static table), `_pancakes`
(hCLWE samples), `_clwe` (CLWE samples) and `_checks` (the samplers' shared argument checks).
"""

from ._clwe import clwe as clwe
from ._layers import (
    distance_to_layers as distance_to_layers,
    layer_distribution as layer_distribution,
    num_layers as num_layers,
)
from ._pancakes import pancakes as pancakes
from ._secret import HardnessWarning as HardnessWarning, sample_secret as sample_secret


__all__ = [
    "HardnessWarning",
    "sample_secret",
    "pancakes",
    "clwe",
    "layer_distribution",
    "distance_to_layers",
    "num_layers",
]
