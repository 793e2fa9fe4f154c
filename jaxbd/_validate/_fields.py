"""Fields of a model or key, checked in `__check_init__` (so also on loading a file).

Static fields are numbers known on the host; array fields are checked for dtype and shape
always, and for NaN/inf only when concrete (under `jit`/`vmap` a field is traced).
"""

import jax
import jax.core
import jax.numpy as jnp
import numpy as np

from ._numbers import check_positive, is_concrete


def check_static_number(value, name: str, *, allow_zero: bool = False) -> None:
    """A static field (for `__check_init__`): a real number > 0 (>= 0), never a str/bool/array."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be a number {bound}, got {value!r}.")
    check_positive(value, name, allow_zero=allow_zero)


def static_number(value, name: str, *, allow_zero: bool = False) -> float:
    """An argument that becomes a static field, as a float: concrete 0-d arrays are accepted,
    tracers refused, then [`check_static_number`][]."""
    if isinstance(value, jax.core.Tracer):
        raise ValueError(
            f"`{name}` must be a concrete number (it becomes a static field of a model or a "
            "key); do not pass it through jit/vmap."
        )
    if isinstance(value, (jax.Array, np.ndarray)) and value.ndim == 0:
        value = value.item() if jnp.issubdtype(value.dtype, jnp.number) else value
    check_static_number(value, name, allow_zero=allow_zero)
    return float(value)


def check_array_field(a, name: str, *, ndim: int | None = None) -> None:
    """An array field (for `__check_init__`, also run on loading a file): real floating, `ndim`
    dimensions if given, finite when concrete (under `jit`/`vmap` only dtype and shape)."""
    dtype = getattr(a, "dtype", None)
    if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(
            f"`{name}` must be a real floating array, got {type(a).__name__} of dtype {dtype}."
        )
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"`{name}` must have {ndim} dimension(s), got shape {a.shape}.")
    if is_concrete(a) and isinstance(a, (jax.Array, np.ndarray)):
        if not np.all(np.isfinite(np.asarray(a))):
            raise ValueError(f"`{name}` contains NaN or inf values.")
