r"""The exact law of the pancake projection $t = \langle g, u\rangle$ (a Gaussian mixture over
the layers $a_k = k + s$) and its static table size (see the package docstring, "Exact sampling"
and "Static table size")."""

import math

import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike

from .._validate import (
    check_finite,
    check_floating,
    check_positive,
    check_range,
    check_scalar,
    float_dtype,
    is_concrete,
    runtime_check,
)


# Mass of a Gaussian beyond this many standard deviations is < 1e-32 (below float64 resolution).
_TAIL_SIGMAS = 12.0

# Largest `max_gamma` accepted: the layer table then holds 2.4e7 entries (about 100 MB in
# float32); d = 10^6 dense secrets need max_gamma = 8 sqrt(d) = 8000.
_MAX_GAMMA_LIMIT = 1e6


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
    check_positive(check_scalar(max_gamma, "max_gamma"), "max_gamma")
    if float(max_gamma) > _MAX_GAMMA_LIMIT:
        raise ValueError(
            f"`max_gamma` = {float(max_gamma):.4g} is too large (at most {_MAX_GAMMA_LIMIT:g}: "
            f"the layer table would hold {2 * _TAIL_SIGMAS * float(max_gamma):.3g} entries)."
        )
    return float(max_gamma)


def _check_shift(shift) -> float:
    if isinstance(shift, (str, bytes)) or not is_concrete(shift):
        raise ValueError(f"`shift` must be a concrete (static) number, got {shift!r}.")
    check_range(check_scalar(shift, "shift"), "shift")
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
    dtype = float_dtype(dtype)
    max_gamma = _check_max_gamma(max_gamma)
    shift = _check_shift(shift)
    gamma = check_positive(check_scalar(gamma, "gamma"), "gamma")
    beta = check_positive(check_scalar(beta, "beta"), "beta")
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
        gamma = runtime_check(
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


def distance_to_layers(values: ArrayLike, *, shift: float = 0.5) -> Array:
    r"""$\mathrm{dist}(v, \mathbb{Z} + s)$ elementwise (in $[0, 1/2]$).

    `values` must be finite and floating (integers would truncate the shift); `shift` a finite
    number.
    """
    values = check_finite(check_floating(values, "values"), "values")
    shift = check_range(check_scalar(shift, "shift"), "shift")
    r = values - jnp.asarray(shift, values.dtype)
    return jnp.abs(r - jnp.round(r))
