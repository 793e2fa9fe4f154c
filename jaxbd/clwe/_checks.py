"""Argument checks shared by the CLWE samplers (`pancakes`, `clwe`): the secret and its noise."""

import jax.numpy as jnp
import numpy as np

from .._validate import (
    check_finite,
    check_floating,
    check_int_range,
    check_positive,
    check_scalar,
    float_dtype,
    is_concrete,
    runtime_check,
)


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
        omega = runtime_check(omega, ~jnp.any(omega != 0), zero)
    return omega, jnp.linalg.norm(omega)


def _sampler_args(omega, num, beta, dtype):
    """The checked arguments of a sampler: `(omega, gamma, num, beta, dtype)`.

    `omega` is cast to `dtype` (default its own) and checked by `_secret_vector` (under a
    trace: use the returned `omega` and `gamma = ||omega||`).
    """
    omega = check_floating(omega, "omega")
    if omega.ndim != 1 or omega.shape[0] < 1:
        raise ValueError(f"`omega` must be a vector of shape (dim,), got shape {omega.shape}.")
    num = check_int_range(num, "num", low=1)
    beta = check_positive(check_scalar(beta, "beta"), "beta")
    dtype = omega.dtype if dtype is None else float_dtype(dtype)
    omega, gamma = _secret_vector(omega.astype(dtype))
    return omega, gamma, num, beta, dtype
