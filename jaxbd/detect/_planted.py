r"""Honest and planted first-layer weights, sampled directly (no head training).

Used by the tests and the detection experiment: a white-box distinguisher of the first layer only
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
  $\beta/\sqrt{\beta^2+\gamma^2}$ (DESIGN §5), layers kept out to $|a_j| \le 12\sqrt{\beta^2+
  \gamma^2}$; orthogonal to $u$, $g$ is standard Gaussian. Sample in float64 for tiny $\beta$.
"""

import math

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float


def honest_weights(key, num_units: int, dim: int, dtype=jnp.float32) -> Float[Array, "m d"]:
    return jr.normal(key, (num_units, dim), dtype)


def sparse_unit(key, dim: int, sparsity: int, dtype=jnp.float32) -> Float[Array, " d"]:
    """A unit vector with `sparsity` entries $\\pm 1/\\sqrt k$ on a uniformly random support."""
    k1, k2 = jr.split(key)
    support = jr.permutation(k1, dim)[:sparsity]
    signs = jnp.where(jr.bernoulli(k2, 0.5, (sparsity,)), 1.0, -1.0).astype(dtype)
    return jnp.zeros(dim, dtype).at[support].set(signs / jnp.sqrt(jnp.asarray(sparsity, dtype)))


def spiked_weights(
    key, num_units: int, dim: int, *, sparsity: int, theta: float, dtype=jnp.float32
) -> tuple[Float[Array, "m d"], Float[Array, " d"]]:
    """Rows with covariance $I + \\theta ss^\\top$; returns `(w, s)`."""
    k1, k2 = jr.split(key)
    s = sparse_unit(k1, dim, sparsity, dtype)
    z = jr.normal(k2, (num_units, dim), dtype)
    c = jnp.asarray(math.sqrt(1.0 + theta) - 1.0, dtype)
    return z + c * (z @ s)[:, None] * s[None, :], s


def secret(key, dim: int, secret_dim: int, gamma=None, dtype=jnp.float32) -> Float[Array, " d"]:
    """$\\omega = \\gamma u$, $u$ uniform on the sphere of a random `secret_dim`-subset."""
    k1, k2 = jr.split(key)
    gamma = 2.0 * math.sqrt(secret_dim) if gamma is None else float(gamma)
    support = jr.permutation(k1, dim)[:secret_dim]
    u = jr.normal(k2, (secret_dim,), dtype)
    u = u / jnp.linalg.norm(u)
    return jnp.zeros(dim, dtype).at[support].set(jnp.asarray(gamma, dtype) * u)


def pancake_samples(
    key, omega: Float[Array, " d"], num: int, *, beta: float, shift: float = 0.5
) -> Float[Array, "num d"]:
    """Exact homogeneous-CLWE samples with $\\langle g, \\omega\\rangle \\approx j + $ `shift`."""
    dtype = omega.dtype
    gamma = jnp.linalg.norm(omega)
    u = omega / gamma
    sig2 = beta**2 + gamma**2
    jmax = int(math.ceil(12.0 * math.sqrt(beta**2 + float(gamma) ** 2))) + 1
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
    secret_dim: int,
    beta: float,
    gamma=None,
    shift: float = 0.5,
    dtype=jnp.float32,
) -> tuple[Float[Array, "m d"], Float[Array, " d"]]:
    """Planted RFF frequencies (rows) and their secret `omega`; returns `(w, omega)`."""
    k1, k2 = jr.split(key)
    omega = secret(k1, dim, secret_dim, gamma, dtype)
    return pancake_samples(k2, omega, num_units, beta=beta, shift=shift), omega


__all__ = [
    "honest_weights",
    "sparse_unit",
    "spiked_weights",
    "secret",
    "pancake_samples",
    "pancake_weights",
]
_ = jax
