r"""Homogeneous CLWE ("Gaussian pancakes", GKVZ Lemmas 6.2 and 6.5), sampled exactly by the
Gaussian mixture of the package docstring ("Exact sampling"), never by rejection."""

import functools
import math

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._validate import as_key, check_int_range, is_concrete, runtime_check
from ._checks import _sampler_args
from ._layers import _check_max_gamma, _check_shift, _layer_distribution, _sample_layers


_CPU_BLOCK = 512


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
    omega, gamma, num, beta, dtype = _sampler_args(omega, num, beta, dtype)
    shift = _check_shift(shift)
    dim = omega.shape[0]
    if max_gamma is None:
        max_gamma = 8.0 * math.sqrt(dim)
    max_gamma = _check_max_gamma(max_gamma)
    if block_size is not None:
        block_size = check_int_range(block_size, "block_size", low=1)
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
        gamma = runtime_check(
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
