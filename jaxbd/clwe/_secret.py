r"""Sparse CLWE secrets (GKVZ Lemma 6.2) and the hardness regime $\gamma \ge 2\sqrt{k}$
(BRST Thm 1.1)."""

import functools
import math
import warnings

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._validate import (
    as_key,
    check_int_range,
    check_positive,
    check_scalar,
    float_dtype,
    is_concrete,
)


class HardnessWarning(UserWarning):
    """A parameter lies outside the regime where CLWE is known to be hard (γ < 2 sqrt(k))."""


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
    dtype = float_dtype(dtype)
    if gamma is None:
        gamma = 2.0 * math.sqrt(support)
    else:
        gamma = check_positive(check_scalar(gamma, "gamma"), "gamma")
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
