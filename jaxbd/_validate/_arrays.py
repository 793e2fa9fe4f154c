"""Arrays: real floating dtype (never a silent cast), finite values, shapes of data."""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._numbers import is_concrete
from ._runtime import runtime_check


def check_floating(x, name: str) -> Array:
    """`x` must be a real floating array: integer, boolean and complex inputs are refused.

    (A silent cast would truncate an int key, or drop an imaginary part.) Returns `jnp.asarray(x)`.
    """
    if isinstance(x, (str, bytes)) or x is None:
        raise ValueError(f"`{name}` must be a floating array, got {type(x).__name__}.")
    try:
        x = jnp.asarray(x)
    except (TypeError, ValueError) as e:
        raise ValueError(f"`{name}` must be a floating array: {e}") from None
    if not jnp.issubdtype(x.dtype, jnp.floating):
        kind = "complex" if jnp.issubdtype(x.dtype, jnp.complexfloating) else str(x.dtype)
        raise ValueError(
            f"`{name}` must have a real floating dtype, got {kind} ({x.dtype}); "
            "cast it explicitly, e.g. x.astype(jnp.float32)."
        )
    return x


def check_host_floating(x, name: str) -> np.ndarray:
    """[`check_floating`][] on the host: `x` as a numpy array of its own floating dtype (float64
    stays float64 whatever `jax_enable_x64` says, and nothing moves to a device)."""
    try:
        a = None if isinstance(x, (str, bytes)) else np.asarray(x)
    except (TypeError, ValueError):
        a = None
    if a is None or not jnp.issubdtype(a.dtype, jnp.floating):
        check_floating(x, name)  # raises the error naming `name`
        raise ValueError(f"`{name}` must be a real floating array, got {type(x).__name__}.")
    return a


def float_dtype(dtype, name: str = "dtype") -> np.dtype:
    """`dtype` as a real floating dtype (`None`: JAX's default float, float64 under x64)."""
    if dtype is None:
        return jnp.zeros(()).dtype
    try:
        dtype = jnp.dtype(dtype)
    except TypeError:
        raise ValueError(f"`{name}` must be a floating dtype, got {dtype!r}.") from None
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"`{name}` must be a real floating dtype, got {dtype}.")
    return dtype


def check_finite(x, name: str) -> Array:
    """Reject NaN/inf in `x`: `ValueError` for concrete arrays, `eqx.error_if` under jit.

    Returns `x` (use the result, as `eqx.error_if` requires).
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        return x
    if is_concrete(x):
        # numpy, not jnp: inside a `jit` trace even concrete (closed-over) arrays would be traced.
        if not np.all(np.isfinite(np.asarray(x))):
            raise ValueError(f"`{name}` contains NaN or inf values.")
        return x
    return runtime_check(x, ~jnp.isfinite(x), f"`{name}` contains NaN or inf values.")


def check_matrix(x, name: str, *, dim: int | None = None) -> Array:
    """`x` must be a finite floating matrix `(n, d)`, `n, d >= 1` (with `d == dim` if given)."""
    x = check_floating(x, name)
    if x.ndim != 2:
        raise ValueError(f"`{name}` must have shape (num_examples, dim), got shape {x.shape}.")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"`{name}` must have {dim} columns, got shape {x.shape}.")
    if x.shape[0] < 1:
        raise ValueError(f"`{name}` holds no examples (shape {x.shape}).")
    if x.shape[1] < 1:
        raise ValueError(f"`{name}` has no features (shape {x.shape}).")
    return check_finite(x, name)


def check_example(x, dim: int, name: str = "x") -> Array:
    """`x` must be one finite floating example of shape `(dim,)` (host or `eqx.error_if`).

    Shape and dtype raise at call/trace time; NaN/inf raise on the host or, under a trace,
    when the program runs. Returns the checked `x` (use it).
    """
    x = check_floating(x, name)
    if x.shape != (dim,):
        raise ValueError(
            f"`{name}` must be one example of shape ({dim},), got shape {x.shape}; "
            "batch with jax.vmap."
        )
    return check_finite(x, name)


def output_shape(model, example, name: str = "model"):
    """`jax.eval_shape(model, example)`; a model that cannot take `example` raises `ValueError`
    naming `name` (a jaxtyping `TypeCheckError`, already clear, passes through)."""
    try:
        return jax.eval_shape(model, example)
    except (ValueError, TypeError) as e:
        if type(e).__name__ == "TypeCheckError":
            raise
        raise ValueError(
            f"`{name}` cannot be applied to one example of shape {jnp.shape(example)}: {e}"
        ) from e
