"""Input validation shared by every construction.

Checks on concrete (host) values raise `ValueError` naming the argument. Inside `jit`
the value checks become `eqx.error_if`, whose result must be used.
"""

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array


def is_concrete(x) -> bool:
    """True when `x` holds a value (not a tracer), so host-side checks are possible."""
    return not isinstance(x, jax.core.Tracer)


def check_positive(value, name: str, *, allow_zero: bool = False) -> None:
    """Raise `ValueError` unless the (static) number `value` is finite and > 0 (or >= 0)."""
    if not is_concrete(value):
        return
    v = float(np.asarray(value))
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be a finite number {bound}, got {value!r}.")


def check_int_range(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """Raise `ValueError` unless `value` is an integer within `[low, high]`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"`{name}` must be an integer, got {value!r}.")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"`{name}` must be >= {low}, got {value}.")
    if high is not None and value > high:
        raise ValueError(f"`{name}` must be <= {high}, got {value}.")
    return value


def check_finite(x, name: str):
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
    return eqx.error_if(x, ~jnp.all(jnp.isfinite(x)), f"`{name}` contains NaN or inf values.")


def check_matrix(x, name: str, *, dim: int | None = None) -> Array:
    """`x` must be a finite floating matrix `(n, d)` (with `d == dim` when given)."""
    x = jnp.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"`{name}` must have shape (num_examples, dim), got shape {x.shape}.")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"`{name}` must have a floating dtype, got {x.dtype}.")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"`{name}` must have {dim} columns, got shape {x.shape}.")
    if x.shape[0] < 1:
        raise ValueError(f"`{name}` holds no examples.")
    return check_finite(x, name)


def check_example(x, dim: int, name: str = "x") -> Array:
    """`x` must be one example of shape `(dim,)`; raises at trace time otherwise."""
    x = jnp.asarray(x)
    if x.shape != (dim,):
        raise ValueError(
            f"`{name}` must be one example of shape ({dim},), got shape {x.shape}; "
            "batch with jax.vmap."
        )
    return x


def check_labels(y, x, *, name: str = "y") -> tuple[Array, str, int]:
    """Validate labels against `x` and infer the task.

    Returns `(y, task, num_classes)`, where `task` is `"binary"` (labels exactly ±1, returned as
    floats) or `"multiclass"` (integer labels `0..c-1`, `c >= 3`, returned as int32).
    """
    y = jnp.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"`{name}` must be a vector of labels, got shape {y.shape}.")
    if y.shape[0] != x.shape[0]:
        raise ValueError(
            f"`x` and `{name}` have different lengths: {x.shape[0]} examples, {y.shape[0]} labels."
        )
    if not is_concrete(y):
        raise ValueError(f"`{name}` must be a concrete array (labels decide the task).")
    y_np = np.asarray(y)
    if np.issubdtype(y_np.dtype, np.floating) and not np.all(np.isfinite(y_np)):
        raise ValueError(f"`{name}` contains NaN or inf values.")
    values = np.unique(y_np)
    if np.issubdtype(y_np.dtype, np.floating) and set(values.tolist()) <= {-1.0, 1.0}:
        return jnp.asarray(y_np, dtype=x.dtype), "binary", 2
    if np.issubdtype(y_np.dtype, np.integer) or np.all(y_np == np.round(y_np)):
        yi = y_np.astype(np.int64)
        if set(values.tolist()) <= {-1, 1} and values.min() == -1:
            return jnp.asarray(yi, dtype=x.dtype), "binary", 2
        if yi.min() < 0:
            raise ValueError(
                f"`{name}` must hold ±1 (binary) or 0..c-1 (multi-class) labels, got {values[:10]}."
            )
        c = int(yi.max()) + 1
        if c < 3:
            raise ValueError(
                f"`{name}` looks binary ({values.tolist()}) but binary labels must be -1/+1."
            )
        return jnp.asarray(yi, dtype=jnp.int32), "multiclass", c
    raise ValueError(
        f"`{name}` must hold ±1 (binary) or 0..c-1 (multi-class) labels, got {values[:10]}."
    )


def check_xy(x, y) -> tuple[Array, Array, str, int]:
    """Validate a training set; returns `(x, y, task, num_classes)`."""
    x = check_matrix(x, "x")
    y, task, c = check_labels(y, x)
    return x, y, task, c


def as_key(key, name: str = "key"):
    """Accept a typed or raw JAX PRNG key; reject anything else with a clear message."""
    if isinstance(key, (int, np.integer)):
        raise ValueError(f"`{name}` must be a JAX PRNG key (jax.random.key(seed)), got an int.")
    return key


def sequence_of_ints(values: Sequence[int] | None, name: str) -> tuple[int, ...] | None:
    if values is None:
        return None
    out = tuple(int(v) for v in values)
    if len(set(out)) != len(out):
        raise ValueError(f"`{name}` has repeated entries: {values}.")
    return out
