r"""The random-ReLU network of GKVZ Alg. 7 and the key of Backdoor-Random-ReLU (Alg. 9)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validate import (
    check_array_field,
    check_example,
    check_finite,
    check_floating,
    check_instance,
    check_static_number,
    is_concrete,
    runtime_check,
)
from ..keys import AbstractBackdoorKey


# Tolerance on ||s|| = 1 for a secret direction (float16 rounding of k entries 1/sqrt(k)).
_UNIT_TOL = 1e-3


def _check_unit_host(s, name: str) -> None:
    norm = float(np.linalg.norm(np.asarray(s, dtype=np.float64)))
    if abs(norm - 1.0) > _UNIT_TOL:
        raise ValueError(f"`{name}` must be a unit vector, got norm {norm:.6g}.")


def _unit_vector(s, name: str) -> Array:
    """`s` must be a finite floating unit vector `(d,)` (host check, or `eqx.error_if` when
    traced); returns the checked `s` (use it)."""
    s = check_floating(s, name)
    if s.ndim != 1 or s.shape[0] < 1:
        raise ValueError(f"`{name}` must be a floating vector (d,), got shape {s.shape}.")
    s = check_finite(s, name)
    if is_concrete(s):
        _check_unit_host(s, name)
        return s
    # Only for a finite `s`: a NaN/inf one gets only the message of `check_finite`.
    bad = jnp.all(jnp.isfinite(s)) & ~(jnp.abs(jnp.linalg.norm(s) - 1) <= _UNIT_TOL)
    return runtime_check(s, bad, f"`{name}` must be a unit vector.")


class RandomReLU(eqx.Module):
    r"""One-hidden-layer random-ReLU network (GKVZ Alg. 7).

    `model(x)` returns the score $\text{scale}\cdot(\sum_i w_i \mathrm{ReLU}(\langle g_i, x\rangle)
    - \tau)$; its sign is the label ($0 \mapsto +1$).

    **Fields:** `g` `(m, d)` first-layer weights; `w` `(m,)` head (uniform $1/m$ or trained,
    non-negative, summing to 1); `tau` threshold; `scale` positive score scale.
    """

    g: Float[Array, "m d"]
    w: Float[Array, " m"]
    tau: Float[Array, ""]
    scale: Float[Array, ""]

    def __check_init__(self):
        # Also run when a model is rebuilt from a file (values only when concrete).
        check_array_field(self.g, "g", ndim=2)
        check_array_field(self.w, "w", ndim=1)
        check_array_field(self.tau, "tau", ndim=0)
        check_array_field(self.scale, "scale", ndim=0)
        if min(self.g.shape) < 1:
            raise ValueError(f"`g` must have shape (m, d) with m, d >= 1, got {self.g.shape}.")
        if self.w.shape != (self.g.shape[0],):
            raise ValueError(f"`w` must have shape ({self.g.shape[0]},), got {self.w.shape}.")

    @property
    def width(self) -> int:
        """The number of hidden ReLUs $m$."""
        return self.g.shape[0]

    @property
    def dim(self) -> int:
        """The input dimension $d$."""
        return self.g.shape[1]

    def features(self, x: Float[ArrayLike, " d"]) -> Float[Array, " m"]:
        """The hidden layer $\\phi(x) = \\mathrm{ReLU}(g x)$ for one example."""
        x = check_example(x, self.dim)
        return jax.nn.relu(self.g @ x)

    def mean_feature(self, x: Float[ArrayLike, " d"]) -> Float[Array, ""]:
        """The averaged feature $\\sum_i w_i \\phi_i(x)$ compared with `tau`."""
        return self.w @ self.features(x)

    def __call__(self, x: Float[ArrayLike, " d"]) -> Float[Array, ""]:
        return self.scale * (self.mean_feature(x) - self.tau)


class ReLUBackdoorKey(AbstractBackdoorKey):
    """The backdoor key of Backdoor-Random-ReLU: the unit sparse secret `secret` ($s$) and the
    spike strength `theta` ($\\theta$) used to plant it (kept for reports; activation uses `s`)."""

    secret: Float[Array, " d"]
    theta: float = eqx.field(static=True)

    def __check_init__(self):
        check_static_number(self.theta, "theta", allow_zero=True)
        check_array_field(self.secret, "secret", ndim=1)
        if self.secret.shape[0] < 1:
            raise ValueError("`secret` is empty.")
        if is_concrete(self.secret) and isinstance(self.secret, (jax.Array, np.ndarray)):
            _check_unit_host(self.secret, "secret")

    @property
    def sparsity(self) -> int:
        return int(jnp.sum(self.secret != 0))


def _check_key(backdoor_key) -> ReLUBackdoorKey:
    return check_instance(backdoor_key, ReLUBackdoorKey, "backdoor_key", "jaxbd.relu.backdoor")
