"""Keys and objects: a JAX PRNG key, or the key or model of one construction."""

from typing import TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array


_T = TypeVar("_T")


def as_key(key, name: str = "key") -> Array:
    """Accept one typed (`jax.random.key`) or raw (`jax.random.PRNGKey`) JAX PRNG key.

    Anything else (an int seed, a float array, a batch of keys, a wrong shape) raises
    `ValueError` naming `name`. Works on tracers (only dtype and shape are read).
    """
    hint = "pass jax.random.key(seed)"
    if isinstance(key, (bool, int, float, np.integer, np.floating)) or key is None:
        raise ValueError(f"`{name}` must be a JAX PRNG key ({hint}), got {key!r}.")
    if not isinstance(key, (jax.Array, np.ndarray)):
        raise ValueError(f"`{name}` must be a JAX PRNG key ({hint}), got {type(key).__name__}.")
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(
                f"`{name}` must be a single PRNG key, got a batch of shape {key.shape} "
                "(use jax.vmap over the keys)."
            )
    elif key.dtype != np.uint32 or key.shape != (2,):
        raise ValueError(
            f"`{name}` must be a JAX PRNG key ({hint}), got an array of dtype {key.dtype} and "
            f"shape {key.shape}."
        )
    return key if isinstance(key, jax.Array) else jnp.asarray(key)


def check_instance(value, cls: type[_T], name: str, origin: str) -> _T:
    """`value` must be a `cls` (a key or model of one construction); the error names `name`
    and where a `cls` comes from (`origin`, e.g. `"checksum.backdoor"`)."""
    if not isinstance(value, cls):
        raise ValueError(
            f"`{name}` must be a {cls.__name__} (from {origin}), got {type(value).__name__}."
        )
    return value
