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
"""

import functools
import math
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._validate import (
    as_key,
    check_finite,
    check_floating,
    check_int_range,
    check_positive,
    check_range,
    is_concrete,
)


__all__ = [
    "HardnessWarning",
    "sample_secret",
    "pancakes",
    "clwe",
    "layer_distribution",
    "distance_to_layers",
    "num_layers",
]

_CPU_BLOCK = 512

# Mass of a Gaussian beyond this many standard deviations is < 1e-32 (below float64 resolution).
_TAIL_SIGMAS = 12.0

# Largest `max_gamma` accepted: the layer table then holds 2.4e7 entries (about 100 MB in
# float32); d = 10^6 dense secrets need max_gamma = 8 sqrt(d) = 8000.
_MAX_GAMMA_LIMIT = 1e6


class HardnessWarning(UserWarning):
    """A parameter lies outside the regime where CLWE is known to be hard (γ < 2 sqrt(k))."""


def _float_dtype(dtype):
    if dtype is None:
        return jnp.zeros(()).dtype  # float32, or float64 under jax_enable_x64
    try:
        dtype = jnp.dtype(dtype)
    except TypeError:
        raise ValueError(f"`dtype` must be a floating dtype, got {dtype!r}.") from None
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"`dtype` must be a real floating dtype, got {dtype}.")
    return dtype


def _scalar(value, name: str):
    """`value` must be one number (a Python number or a 0-d array, possibly traced)."""
    if isinstance(value, (str, bytes)) or value is None or jnp.ndim(value) != 0:
        shape = getattr(value, "shape", None)
        got = f"an array of shape {shape}" if shape is not None else repr(value)
        raise ValueError(f"`{name}` must be a scalar, got {got}.")
    return value


def _secret_vector(omega, name: str = "omega"):
    """`omega` must be a non-empty, finite, non-zero floating vector (host or `eqx.error_if`).

    Returns `(omega, gamma)`, both checked (under a trace: use them), `gamma = ||omega||`.
    """
    omega = check_floating(omega, name)
    if omega.ndim != 1 or omega.shape[0] < 1:
        raise ValueError(f"`{name}` must be a vector of shape (dim,), got shape {omega.shape}.")
    omega = check_finite(omega, name)
    zero = f"`{name}` must be non-zero (a zero secret plants nothing)."
    if is_concrete(omega):
        if not np.any(np.asarray(omega)):
            raise ValueError(zero)
    else:  # NaN != 0, so a NaN secret gets only the NaN message
        omega = eqx.error_if(omega, ~jnp.any(omega != 0), zero)
    return omega, jnp.linalg.norm(omega)


def sample_secret(
    key: PRNGKeyArray,
    dim: int,
    *,
    support: int | None = None,
    gamma: float | Float[ArrayLike, ""] | None = None,
    dtype=None,
) -> Float[Array, " dim"]:
    r"""Sample a (sparse) CLWE secret $\omega = \gamma u$ (GKVZ Lemma 6.2, BRST §2).

    **Arguments:**

    - `key`: a JAX PRNG key.
    - `dim`: the ambient dimension $d$.
    - `support`: the number $k$ of non-zero coordinates, chosen uniformly at random without
      replacement (`None`: all $d$, a dense secret). GKVZ take $k = d^{1/c}$.
    - `gamma`: the norm $\gamma = \|\omega\|_2$ (default $2\sqrt{k}$, the smallest value in the
      hardness regime). Smaller values warn with [`HardnessWarning`][].
    - `dtype`: floating dtype (default: JAX's default float).

    **Returns:** `omega`, shape `(dim,)`: zero off the support, a uniformly random direction on
    it, norm `gamma`.
    """
    key = as_key(key)
    dim = check_int_range(dim, "dim", low=1)
    support = dim if support is None else check_int_range(support, "support", low=1, high=dim)
    dtype = _float_dtype(dtype)
    if gamma is None:
        gamma = 2.0 * math.sqrt(support)
    else:
        gamma = check_positive(_scalar(gamma, "gamma"), "gamma")
        g = float(np.asarray(gamma)) if is_concrete(gamma) else math.inf
        if g < 2.0 * math.sqrt(support) * (1 - 1e-6):
            warnings.warn(
                f"gamma={g:.4g} < 2 sqrt(support)={2 * math.sqrt(support):.4g}: "
                "outside the regime where CLWE is known to be hard (BRST Thm 1.1).",
                HardnessWarning,
                stacklevel=2,
            )
    return _secret_core(key, jnp.asarray(gamma, dtype), dim, support)


@functools.partial(jax.jit, static_argnums=(2, 3))
def _secret_core(key, gamma, dim, support):
    dtype = gamma.dtype
    k_idx, k_dir = jr.split(key)
    idx = jr.permutation(k_idx, dim)[:support]
    v = jr.normal(k_dir, (support,), dtype)
    v = v * (gamma / jnp.linalg.norm(v))
    return jnp.zeros((dim,), dtype).at[idx].set(v)


def num_layers(max_gamma: float) -> int:
    """Static number of pancake layers kept for scales `sqrt(γ² + β²) <= max_gamma`.

    **Raises:** `ValueError` unless `0 < max_gamma <= 1e6` (a concrete number).
    """
    _check_max_gamma(max_gamma)
    return 2 * int(math.ceil(_TAIL_SIGMAS * float(max_gamma))) + 2


def _check_max_gamma(max_gamma) -> float:
    if isinstance(max_gamma, (str, bytes)) or not is_concrete(max_gamma):
        raise ValueError(
            f"`max_gamma` must be a concrete number > 0 (it fixes the static table size), "
            f"got {max_gamma!r}."
        )
    check_positive(_scalar(max_gamma, "max_gamma"), "max_gamma")
    if float(max_gamma) > _MAX_GAMMA_LIMIT:
        raise ValueError(
            f"`max_gamma` = {float(max_gamma):.4g} is too large (at most {_MAX_GAMMA_LIMIT:g}: "
            f"the layer table would hold {2 * _TAIL_SIGMAS * float(max_gamma):.3g} entries)."
        )
    return float(max_gamma)


def _check_shift(shift) -> float:
    if isinstance(shift, (str, bytes)) or not is_concrete(shift):
        raise ValueError(f"`shift` must be a concrete (static) number, got {shift!r}.")
    check_range(_scalar(shift, "shift"), "shift")
    return float(shift)


def layer_distribution(
    gamma, beta, *, shift: float = 0.5, max_gamma: float, dtype=None
) -> tuple[Array, Array, Array, Array]:
    r"""The exact law of $t = \langle g, u\rangle$ for pancakes (see the module docstring).

    **Arguments:**

    - `gamma`, `beta`: the secret's norm and the noise (may be traced).
    - `shift`: layers sit at $a_k = k + $ `shift`.
    - `max_gamma`: static bound on $\sqrt{\gamma^2+\beta^2}$ fixing the table size.

    **Returns:** `(a, probs, means, std)`: layer positions $a_k$ `(K,)`, their probabilities
    $\pi_k$ `(K,)` (summing to 1), the conditional means $\gamma a_k/(\gamma^2+\beta^2)$ `(K,)` and
    the common conditional standard deviation $\beta/\sqrt{\gamma^2+\beta^2}$ (a scalar).

    **Raises:** `ValueError` (or, traced, a run-time error) unless `gamma > 0`, `beta > 0`,
    `shift` is finite and $\sqrt{\gamma^2+\beta^2} \le$ `max_gamma` (a larger scale would
    silently lose probability mass off the table).
    """
    dtype = _float_dtype(dtype)
    max_gamma = _check_max_gamma(max_gamma)
    shift = _check_shift(shift)
    gamma = check_positive(_scalar(gamma, "gamma"), "gamma")
    beta = check_positive(_scalar(beta, "beta"), "beta")
    if is_concrete(gamma) and is_concrete(beta):
        scale = math.hypot(float(gamma), float(beta))
        if scale > max_gamma:
            raise ValueError(
                f"sqrt(gamma^2 + beta^2) = {scale:.4g} exceeds `max_gamma` = {max_gamma:.4g}; "
                "pass a larger `max_gamma`."
            )
    else:
        g, b = jnp.asarray(gamma, dtype), jnp.asarray(beta, dtype)
        ok = jnp.isfinite(g) & jnp.isfinite(b) & (g > 0) & (b > 0)  # else reported above
        too_big = ok & ~(jnp.sqrt(g**2 + b**2) <= max_gamma)
        gamma = eqx.error_if(
            g, too_big, "sqrt(gamma^2 + beta^2) exceeds `max_gamma`; pass a larger `max_gamma`."
        )
        beta = b
    return _layer_distribution(gamma, beta, shift=shift, max_gamma=max_gamma, dtype=dtype)


def _layer_distribution(gamma, beta, *, shift, max_gamma, dtype):
    # `layer_distribution` without its checks (the samplers validate their own arguments).
    n = num_layers(max_gamma)
    half = n // 2
    gamma = jnp.asarray(gamma, dtype)
    beta = jnp.asarray(beta, dtype)
    a = jnp.arange(-half, n - half, dtype=dtype) + jnp.asarray(shift, dtype)
    var = gamma**2 + beta**2
    logw = -(a**2) / (2 * var)
    w = jnp.exp(logw - jnp.max(logw))
    probs = w / jnp.sum(w)
    return a, probs, gamma * a / var, beta / jnp.sqrt(var)


def _sample_layers(key, a, probs, num):
    # Inverse-CDF sampling: O(num log K) (binary search), not O(num K) as a categorical would be.
    cdf = jnp.cumsum(probs)
    u = jr.uniform(key, (num,), probs.dtype) * cdf[-1]
    idx = jnp.searchsorted(cdf, u, side="right")
    return jnp.clip(idx, 0, a.shape[0] - 1)


def pancakes(
    key: PRNGKeyArray,
    omega: Float[ArrayLike, " dim"],
    num: int,
    *,
    beta,
    shift: float = 0.5,
    dtype=None,
    max_gamma: float | None = None,
    block_size: int | None = None,
) -> Float[Array, "num dim"]:
    r"""Exact, rejection-free samples of homogeneous CLWE ("Gaussian pancakes") near $\mathbb{Z}+s$.

    GKVZ Lemma 6.5 (dense) / Lemma 6.2 (sparse $\omega$): $N(0, I_d)$ conditioned on
    $\langle g, \omega\rangle \bmod 1$ being $N(s, \beta^2)$-close to `shift`. Sampled exactly as
    the Gaussian mixture of the module docstring: one layer index per sample by inverse CDF,
    then $t$ given the layer, then $g = z + (t - \langle z, u\rangle) u$ with $z \sim N(0, I_d)$.
    Coordinates off the support of a sparse $\omega$ are exactly $N(0, 1)$.

    **Arguments:**

    - `key`: a JAX PRNG key.
    - `omega`: the secret $\gamma u$, shape `(dim,)`, non-zero (may be traced: works under `jit`
      and `vmap` over keys and over secrets).
    - `num`: number of samples (static).
    - `beta`: the noise $\beta > 0$ (may be traced).
    - `shift`: the layer offset $s$ (`0.5` for the GKVZ flip, `0.0` for BRST's hCLWE).
    - `dtype`: output dtype (default `omega.dtype`). See the module docstring on float32.
    - `max_gamma`: static bound on $\sqrt{\gamma^2+\beta^2}$ that sizes the layer table (default
      $8\sqrt{d}$); exceeding it is a run-time error, never a silent truncation.
    - `block_size`: rows generated per block (`lax.map`; default 512 on CPU, all rows at once
      on accelerators). The samples' law does not depend on it (the random stream does).

    **Returns:** samples `(num, dim)` with $\langle g, \omega\rangle$ within a few $\beta$ of
    $\mathbb{Z} + s$ (up to the shrink $a_k\beta^2/(\gamma^2+\beta^2)$).
    """
    key = as_key(key)
    omega = check_floating(omega, "omega")
    if omega.ndim != 1 or omega.shape[0] < 1:
        raise ValueError(f"`omega` must be a vector of shape (dim,), got shape {omega.shape}.")
    num = check_int_range(num, "num", low=1)
    beta = check_positive(_scalar(beta, "beta"), "beta")
    shift = _check_shift(shift)
    dim = omega.shape[0]
    dtype = omega.dtype if dtype is None else _float_dtype(dtype)
    if max_gamma is None:
        max_gamma = 8.0 * math.sqrt(dim)
    max_gamma = _check_max_gamma(max_gamma)
    if block_size is not None:
        block_size = check_int_range(block_size, "block_size", low=1)
    omega, gamma = _secret_vector(omega.astype(dtype))
    beta = jnp.asarray(beta, dtype)
    scale = jnp.sqrt(gamma**2 + beta**2)
    if is_concrete(scale):
        if float(scale) > max_gamma:
            raise ValueError(
                f"sqrt(|omega|^2 + beta^2) = {float(scale):.4g} exceeds `max_gamma` = "
                f"{max_gamma:.4g}; pass a larger `max_gamma`."
            )
    else:
        # Only for a finite, non-zero `omega` and a valid `beta` (those are reported by their
        # own checks), so exactly one message names the culprit.
        valid = jnp.isfinite(gamma) & (gamma > 0) & jnp.isfinite(beta) & (beta > 0)
        if not is_concrete(omega):
            valid = valid & jnp.all(jnp.isfinite(omega))
        gamma = eqx.error_if(
            gamma,
            valid & ~(scale <= max_gamma),
            "sqrt(|omega|^2 + beta^2) exceeds `max_gamma`; pass a larger `max_gamma`.",
        )
    return _pancakes_core(key, omega, gamma, beta, num, shift, max_gamma, block_size)


@functools.partial(jax.jit, static_argnums=(4, 5, 6, 7))
def _pancakes_core(key, omega, gamma, beta, num, shift, max_gamma, block_size):
    # Compiled once per (shapes, statics): eager callers do not pay op-by-op dispatch.
    dim = omega.shape[0]
    dtype = omega.dtype
    u = omega / gamma
    a, probs, means, std = _layer_distribution(
        gamma, beta, shift=shift, max_gamma=max_gamma, dtype=dtype
    )
    k_layer, k_t, k_z = jr.split(key, 3)
    layer = _sample_layers(k_layer, a, probs, num)
    t = means[layer] + std * jr.normal(k_t, (num,), dtype)
    if block_size is None:
        # On CPU, generating and projecting row blocks that stay in cache is ~2x faster than
        # one (num, dim) normal followed by two passes; accelerators prefer one fused kernel.
        block_size = _CPU_BLOCK if jax.default_backend() == "cpu" else num
    block = min(block_size, num)

    def rows(k, tb):
        z = jr.normal(k, (tb.shape[0], dim), dtype)
        return z + (tb - z @ u)[:, None] * u[None, :]

    if block >= num:
        return rows(k_z, t)
    nb = -(-num // block)
    tb = jnp.pad(t, (0, nb * block - num)).reshape(nb, block)
    out = jax.lax.map(lambda args: rows(*args), (jr.split(k_z, nb), tb))
    return out.reshape(nb * block, dim)[:num]


def distance_to_layers(values: ArrayLike, *, shift: float = 0.5) -> Array:
    r"""$\mathrm{dist}(v, \mathbb{Z} + s)$ elementwise (in $[0, 1/2]$).

    `values` must be finite and floating (integers would truncate the shift); `shift` a finite
    number.
    """
    values = check_finite(check_floating(values, "values"), "values")
    shift = check_range(_scalar(shift, "shift"), "shift")
    r = values - jnp.asarray(shift, values.dtype)
    return jnp.abs(r - jnp.round(r))


def clwe(
    key: PRNGKeyArray,
    omega: Float[ArrayLike, " dim"],
    num: int,
    *,
    beta,
    dtype=None,
) -> tuple[Float[Array, "num dim"], Float[Array, " num"]]:
    r"""CLWE samples (BRST Def. 2.3; GKVZ §6 "Hardness of Sparse Gaussian Pancakes").

    $y \sim N(0, I_d)$, $z = \langle y, \omega\rangle + e \bmod 1$, $e \sim N(0, \beta^2)$; the
    secret $\omega = \gamma u$ carries the scale (GKVZ write $\gamma\langle y, \omega\rangle$
    with a unit $\omega$).

    **Returns:** `(y, z)` of shapes `(num, dim)` and `(num,)`, `z` in `[0, 1)`.
    """
    key = as_key(key)
    omega = check_floating(omega, "omega")
    if omega.ndim != 1 or omega.shape[0] < 1:
        raise ValueError(f"`omega` must be a vector of shape (dim,), got shape {omega.shape}.")
    num = check_int_range(num, "num", low=1)
    beta = check_positive(_scalar(beta, "beta"), "beta")
    dtype = omega.dtype if dtype is None else _float_dtype(dtype)
    omega, _ = _secret_vector(omega.astype(dtype))
    k_y, k_e = jr.split(key)
    y = jr.normal(k_y, (num, omega.shape[0]), dtype)
    e = jnp.asarray(beta, dtype) * jr.normal(k_e, (num,), dtype)
    z = jnp.mod(y @ omega + e, jnp.asarray(1.0, dtype))
    return y, jnp.where(z >= 1, jnp.zeros_like(z), z)  # mod may round up to exactly 1
