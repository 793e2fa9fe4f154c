r"""Honest and planted first-layer weights, sampled directly (no head training) — public.

Used by the tests and the detection experiment (and open to any auditor who wants honest and
planted matrices at given parameters): a white-box distinguisher of the first layer only
sees these matrices, so sampling them directly gives the same detection power as training full
models, at a fraction of the cost.

- `honest_weights`: rows $N(0, I_d)$ (GKVZ Alg. 3 Train-RFF features, Alg. 8 Sample-Random-ReLU).
- `spiked_weights`: rows $z + (\sqrt{1+\theta} - 1)(s^\top z)s$, covariance $I + \theta ss^\top$
  (GKVZ Def. A.1 / Alg. 9), $s$ unit with `sparsity` non-zeros $\pm 1/\sqrt k$ on a random
  support.
- `pancake_weights`: exact homogeneous CLWE ("Gaussian pancakes", GKVZ Lemma 6.2 / 6.5 via
  [BRST21]) with secret $\omega = \gamma u$, $u$ uniform on the unit sphere of a random
  `secret_dim`-subset of coordinates, $\gamma = 2\sqrt{k}$ by default. Along $u$ the projection
  $t = \langle g, u\rangle$ is the Gaussian mixture over layers $a_j = j + $ `shift` with weights
  $\propto e^{-a_j^2/(2(\beta^2+\gamma^2))}$, means $\gamma a_j/(\beta^2+\gamma^2)$ and std
  $\beta/\sqrt{\beta^2+\gamma^2}$ (the sampler of `jaxbd.clwe.pancakes`), layers kept out to $|a_j| \le 12\sqrt{\beta^2+
  \gamma^2}$; orthogonal to $u$, $g$ is standard Gaussian. Sample in float64 for tiny $\beta$.
"""

import functools
import math

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Float, Int

from jaxbd._validate import as_key, check_int_range
from jaxbd.sharding import sharded_map, to_host


def _shape(num_units, dim) -> tuple[int, int]:
    return check_int_range(num_units, "num_units", low=1), check_int_range(dim, "dim", low=1)


def honest_weights(key, num_units: int, dim: int, dtype=jnp.float32) -> Float[Array, "m d"]:
    """Rows $N(0, I_d)$: the honest first layer (GKVZ Alg. 3 / Alg. 8)."""
    return jr.normal(as_key(key), _shape(num_units, dim), dtype)


def _support_mask(key, dim: int, size) -> Array:
    """A uniformly random subset of `size` coordinates (`size` may be traced)."""
    ranks = jnp.argsort(jr.uniform(key, (dim,)))
    return ranks < jnp.asarray(size, ranks.dtype)


def sparse_unit(key, dim: int, sparsity, dtype=jnp.float32) -> Float[Array, " d"]:
    """A unit vector with `sparsity` entries $\\pm 1/\\sqrt k$ on a uniformly random support."""
    k1, k2 = jr.split(key)
    mask = _support_mask(k1, dim, sparsity)
    signs = jnp.where(jr.bernoulli(k2, 0.5, (dim,)), 1.0, -1.0).astype(dtype)
    k = jnp.asarray(sparsity, dtype)
    return jnp.where(mask, signs / jnp.sqrt(k), jnp.zeros((), dtype))


def spiked_weights(
    key,
    num_units: int,
    dim: int,
    *,
    sparsity: int | Int[ArrayLike, ""],
    theta: float | Float[ArrayLike, ""],
    dtype=jnp.float32,
) -> tuple[Float[Array, "m d"], Float[Array, " d"]]:
    """Rows with covariance $I + \\theta ss^\\top$; returns `(w, s)` (`sparsity` and `theta` may
    be traced: `spiked_batch` maps over them)."""
    num_units, dim = _shape(num_units, dim)
    k1, k2 = jr.split(as_key(key))
    s = sparse_unit(k1, dim, sparsity, dtype)
    z = jr.normal(k2, (num_units, dim), dtype)
    c = (jnp.sqrt(1.0 + jnp.asarray(theta, dtype)) - 1.0).astype(dtype)
    return z + c * (z @ s)[:, None] * s[None, :], s


def secret(key, dim: int, secret_dim, gamma=None, dtype=jnp.float32) -> Float[Array, " d"]:
    """$\\omega = \\gamma u$, $u$ uniform on the sphere of a random `secret_dim`-subset."""
    k1, k2 = jr.split(key)
    k = jnp.asarray(secret_dim, dtype)
    gamma = 2.0 * jnp.sqrt(k) if gamma is None else jnp.asarray(gamma, dtype)
    mask = _support_mask(k1, dim, secret_dim)
    u = jnp.where(mask, jr.normal(k2, (dim,), dtype), jnp.zeros((), dtype))
    return (gamma * u / jnp.linalg.norm(u)).astype(dtype)


def pancake_samples(
    key,
    omega: Float[Array, " d"],
    num: int,
    *,
    beta,
    shift: float = 0.5,
    max_gamma: float | None = None,
) -> Float[Array, "num d"]:
    """Exact homogeneous-CLWE samples with $\\langle g, \\omega\\rangle \\approx j + $ `shift`.

    `max_gamma` (static) bounds $\\|\\omega\\|$ for the layer table; default: the concrete norm
    of `omega` (pass it when `omega` is traced, e.g. under `vmap`).
    """
    dtype = omega.dtype
    gamma = jnp.linalg.norm(omega)
    u = omega / gamma
    sig2 = beta**2 + gamma**2
    gmax = float(gamma) if max_gamma is None else float(max_gamma)
    jmax = int(math.ceil(12.0 * (gmax + 1.0))) + 1  # >= 12 sqrt(beta^2 + gamma^2) for beta <= 1
    layers = jnp.arange(-jmax, jmax + 1, dtype=dtype) + jnp.asarray(shift, dtype)
    logits = -(layers**2) / (2 * sig2)
    k1, k2, k3 = jr.split(key, 3)
    a = layers[jr.categorical(k1, logits, shape=(num,))]
    t = gamma * a / sig2 + (beta / jnp.sqrt(sig2)) * jr.normal(k2, (num,), dtype)
    z = jr.normal(k3, (num, omega.shape[0]), dtype)
    return z + (t - z @ u)[:, None] * u[None, :]


def pancake_weights(
    key,
    num_units: int,
    dim: int,
    *,
    secret_dim,
    beta,
    gamma=None,
    shift: float = 0.5,
    dtype=jnp.float32,
    max_gamma: float | None = None,
) -> tuple[Float[Array, "m d"], Float[Array, " d"]]:
    """Planted RFF frequencies (rows) and their secret `omega`; returns `(w, omega)`.

    `secret_dim`, `beta` and `gamma` may be traced if `max_gamma` (static) bounds the norm.
    """
    num_units, dim = _shape(num_units, dim)
    k1, k2 = jr.split(as_key(key))
    if max_gamma is None:
        max_gamma = 2.0 * math.sqrt(secret_dim) if gamma is None else float(gamma)
    omega = secret(k1, dim, secret_dim, gamma, dtype)
    w = pancake_samples(k2, omega, num_units, beta=beta, shift=shift, max_gamma=max_gamma)
    return w, omega


# Batched samplers for the detection sweeps: one compiled (jitted) call per shape, the batch of models
# split over every device by `jaxbd.sharding.sharded_map` (jit(vmap) on one device, same
# numbers). Per-example functions are cached per static shape so that `sharded_map`'s compile
# cache (keyed by the function's identity) is hit across heatmap cells; the cell parameters
# (`theta`, `sparsity`, `beta`, `secret_dim`) are broadcast batched arguments, hence traced.


@functools.cache
def _spiked_one(num_units: int, dim: int, dtype):
    def one(key, theta, sparsity):
        return spiked_weights(key, num_units, dim, sparsity=sparsity, theta=theta, dtype=dtype)[0]

    return one


@functools.cache
def _pancake_one(num_units: int, dim: int, shift: float, dtype):
    def one(key, beta, secret_dim):
        return pancake_weights(
            key,
            num_units,
            dim,
            secret_dim=secret_dim,
            beta=beta,
            shift=shift,
            dtype=dtype,
            max_gamma=2.0 * math.sqrt(dim),
        )

    return one


@functools.cache
def _honest_one(num_units: int, dim: int, dtype):
    return lambda key: honest_weights(key, num_units, dim, dtype)


def _broadcast(keys, value, dtype) -> Array:
    return jnp.full((keys.shape[0],), value, dtype)


def spiked_batch(keys, theta, sparsity, *, num_units: int, dim: int, dtype=jnp.float32):
    """[`spiked_weights`][] for each key, sharded over all devices (`theta`, `sparsity` may
    vary between calls without recompiling). Under several processes every process gets the
    whole stack."""
    return to_host(
        _spiked_batch(keys, theta, sparsity, num_units=num_units, dim=dim, dtype=jnp.dtype(dtype))
    )


@functools.partial(jax.jit, static_argnames=("num_units", "dim", "dtype"))
def _spiked_batch(keys, theta, sparsity, *, num_units: int, dim: int, dtype):
    return sharded_map(
        _spiked_one(num_units, dim, dtype),
        keys,
        _broadcast(keys, theta, dtype),
        _broadcast(keys, sparsity, jnp.int32),
    )


def pancake_batch(
    keys, beta, secret_dim, *, num_units: int, dim: int, shift=0.5, dtype=jnp.float32
):
    """[`pancake_weights`][] for each key, sharded over all devices; `beta <= 1` and
    `secret_dim` may vary without recompiling. Returns `(w, omega)` stacked (whole in every
    process under several processes)."""
    return to_host(
        _pancake_batch(
            keys, beta, secret_dim, num_units=num_units, dim=dim, shift=shift,
            dtype=jnp.dtype(dtype),
        )
    )  # fmt: skip


@functools.partial(jax.jit, static_argnames=("num_units", "dim", "shift", "dtype"))
def _pancake_batch(keys, beta, secret_dim, *, num_units: int, dim: int, shift, dtype):
    return sharded_map(
        _pancake_one(num_units, dim, float(shift), dtype),
        keys,
        _broadcast(keys, beta, dtype),
        _broadcast(keys, secret_dim, jnp.int32),
    )


def honest_batch(keys, *, num_units: int, dim: int, dtype=jnp.float32):
    """[`honest_weights`][] for each key, sharded over all devices (whole in every process)."""
    return to_host(_honest_batch(keys, num_units=num_units, dim=dim, dtype=jnp.dtype(dtype)))


@functools.partial(jax.jit, static_argnames=("num_units", "dim", "dtype"))
def _honest_batch(keys, *, num_units: int, dim: int, dtype):
    return sharded_map(_honest_one(num_units, dim, dtype), keys)


__all__ = [
    "spiked_batch",
    "pancake_batch",
    "honest_batch",
    "honest_weights",
    "sparse_unit",
    "spiked_weights",
    "secret",
    "pancake_samples",
    "pancake_weights",
]
