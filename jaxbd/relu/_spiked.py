r"""The sparse-PCA spiked ensemble of GKVZ Def. A.1: a unit sparse secret $s$ and exact samples
of $N(0, I_d + \theta s s^\top)$ (Sample-Backdoor-ReLU, Alg. 9)."""

import functools

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._validate import as_key, check_int_range, check_positive, check_scalar, float_dtype
from ._model import _unit_vector


def sample_sparse_secret(
    key: PRNGKeyArray, dim: int, sparsity: int, *, dtype=jnp.float32
) -> Float[Array, " dim"]:
    r"""A unit `sparsity`-sparse secret $s$ (GKVZ Def. A.1: "a $d^\alpha$-sparse vector of unit
    norm"): uniformly random support of size $k$, entries $\pm 1/\sqrt{k}$ with random signs.

    **Raises:** `ValueError` unless `1 <= sparsity <= dim`, for a `key` that is not a PRNG key
    and for a non-floating `dtype`.
    """
    key = as_key(key)
    dim = check_int_range(dim, "dim", low=1)
    sparsity = check_int_range(sparsity, "sparsity", low=1, high=dim)
    return _secret(key, dim, sparsity, float_dtype(dtype))


@functools.partial(jax.jit, static_argnums=(1, 3))
def _secret(key, dim, sparsity, dtype):
    k_support, k_sign = jr.split(key)
    ranks = jnp.argsort(jnp.argsort(jr.uniform(k_support, (dim,))))
    on_support = ranks < sparsity
    signs = jnp.where(jr.bernoulli(k_sign, 0.5, (dim,)), 1.0, -1.0).astype(dtype)
    return jnp.where(on_support, signs / jnp.sqrt(jnp.asarray(sparsity, dtype)), 0.0).astype(dtype)


def spiked_gaussian(
    key: PRNGKeyArray, s: Float[ArrayLike, " d"], num: int, *, theta
) -> Float[Array, "num d"]:
    r"""`num` exact samples of $N(0, I_d + \theta s s^\top)$ for a unit vector `s` (GKVZ Def. A.1).

    With $z \sim N(0, I_d)$, $g = z + (\sqrt{1+\theta} - 1)(s^\top z)\, s$: the component of $z$
    along $s$ is scaled by $\sqrt{1+\theta}$ and the rest is unchanged, so
    $\mathrm{Cov}(g) = I + ((1+\theta) - 1) s s^\top$ — no Cholesky factor. With `theta = 0` the
    samples equal `jax.random.normal(key, (num, d))` bit for bit (this couples honest and
    backdoored models drawn from the same key).

    `theta` may be traced (jit / vmap over `theta` or `key`); `num` is static.

    **Raises:** `ValueError` (or, for traced values, a run-time error) for `theta < 0` or not
    finite, a non-vector, non-floating or non-finite `s`, `||s|| != 1` beyond a relative 1e-3,
    and a `key` that is not a PRNG key.
    """
    key = as_key(key)
    s = _unit_vector(s, "s")
    num = check_int_range(num, "num", low=0)
    theta = check_positive(check_scalar(theta, "theta"), "theta", allow_zero=True)
    return _spiked(key, s, jnp.asarray(theta, s.dtype), num)


@functools.partial(jax.jit, static_argnums=3)
def _spiked(key, s, theta, num):
    z = jr.normal(key, (num, s.shape[0]), s.dtype)
    return z + ((jnp.sqrt(1 + theta) - 1) * (z @ s))[:, None] * s[None, :]
