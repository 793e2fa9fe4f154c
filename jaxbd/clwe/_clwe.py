r"""Continuous LWE samples (BRST Def. 2.3), the assumption behind GKVZ §6."""

import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._validate import as_key
from ._checks import _sampler_args


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
    omega, _, num, beta, dtype = _sampler_args(omega, num, beta, dtype)
    k_y, k_e = jr.split(key)
    y = jr.normal(k_y, (num, omega.shape[0]), dtype)
    e = jnp.asarray(beta, dtype) * jr.normal(k_e, (num,), dtype)
    z = jnp.mod(y @ omega + e, jnp.asarray(1.0, dtype))
    return y, jnp.where(z >= 1, jnp.zeros_like(z), z)  # mod may round up to exactly 1
