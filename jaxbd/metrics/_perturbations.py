"""Perturbation sizes (ℓ0, ℓ2, ℓ∞, the nearest-neighbour yardstick) and the random-perturbation
control of the same ℓ0 and ℓ2 (DESIGN.md §4)."""

import functools

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._validate import as_key, check_int_range, check_matrix, is_concrete
from ._checks import _same_shape


def perturbation_norms(x: Float[ArrayLike, "n d"], x_prime: Float[ArrayLike, "n d"]) -> dict:
    """Per-example ℓ0 (exact non-zero count), ℓ2 and ℓ∞ of `x_prime - x` (jittable: NaN/inf
    are refused with `eqx.error_if` under `jit`)."""
    _same_shape(x, x_prime, "x", "x_prime")
    x = check_matrix(x, "x")
    x_prime = check_matrix(x_prime, "x_prime")
    delta = x_prime - x
    return {
        "l0": jnp.sum(delta != 0, axis=-1),
        "l2": jnp.linalg.norm(delta, axis=-1),
        "linf": jnp.max(jnp.abs(delta), axis=-1),
    }


def median_nn_distance(x: Float[ArrayLike, "n d"], *, batch_size: int = 256) -> float:
    """Median over points of the ℓ2 distance to the nearest *other* point of `x`.

    The honest yardstick for "a slight perturbation": a perturbation larger than this moves an
    input further than the typical gap between two data points. Computed in row blocks
    (`lax.map` with `batch_size`), so memory is `O(batch_size · n)`. The answer is `0.0` when
    more than half of the points have an exact duplicate (a true value, but no yardstick:
    [`evaluate_backdoor`][] refuses it).
    """
    x = check_matrix(x, "x")
    if not is_concrete(x):
        raise ValueError("`x` must be a concrete array (the result is a Python float).")
    batch_size = check_int_range(batch_size, "batch_size", low=1)
    n = x.shape[0]
    if n < 2:
        raise ValueError("`x` needs at least two examples for a nearest-neighbour distance.")
    return float(_median_nn(x, min(batch_size, n)))


@functools.partial(jax.jit, static_argnums=1)
def _median_nn(x, batch_size):
    """One compiled program: row blocks under `lax.map`, then the median (run eagerly, the
    remainder block of `lax.map` and each step around it would compile on its own)."""
    sq = jnp.sum(x * x, axis=1)
    idx = jnp.arange(x.shape[0])

    def row(i):
        d2 = sq[i] + sq - 2.0 * (x @ x[i])
        d2 = jnp.where(idx == i, jnp.inf, d2)
        return jnp.sqrt(jnp.maximum(jnp.min(d2), 0.0))

    return jnp.median(jax.lax.map(row, idx, batch_size=batch_size))


def random_perturbation(
    key: PRNGKeyArray, x: Float[ArrayLike, "n d"], x_prime: Float[ArrayLike, "n d"]
) -> Float[Array, "n d"]:
    """The random-perturbation control: for each row, a perturbation of `x` with the same ℓ0
    (number of changed coordinates, on a uniformly random support) and the same ℓ2 norm as
    `x_prime - x`, in a uniformly random direction on that support. Jittable (NaN/inf refused
    with `eqx.error_if` under `jit`)."""
    key = as_key(key)
    _same_shape(x, x_prime, "x", "x_prime")
    x = check_matrix(x, "x")
    x_prime = check_matrix(x_prime, "x_prime")
    return _random_perturbation(key, x, x_prime)


@jax.jit
def _random_perturbation(key, x, x_prime):
    delta = x_prime - x
    l0 = jnp.sum(delta != 0, axis=-1)
    l2 = jnp.linalg.norm(delta, axis=-1)

    def one(k, xi, k0, r):
        k1, k2 = jr.split(k)
        ranks = jnp.argsort(jr.uniform(k1, xi.shape))
        mask = jnp.zeros(xi.shape, bool).at[ranks].set(jnp.arange(xi.shape[0]) < k0)
        v = jnp.where(mask, jr.normal(k2, xi.shape, xi.dtype), 0.0)
        norm = jnp.linalg.norm(v)
        return xi + jnp.where(norm > 0, r * v / jnp.where(norm > 0, norm, 1.0), 0.0)

    return jax.vmap(one)(jr.split(key, x.shape[0]), x, l0, l2)
