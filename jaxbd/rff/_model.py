r"""The RFF classifier $\langle w, \Phi(x)\rangle$ (GKVZ Alg. 1–3) and the secret of
Backdoor-RFF (Alg. 5), with the argument checks that take them."""

import equinox as eqx
import jax
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validate import (
    check_array_field,
    check_example,
    check_instance,
    check_matrix,
    check_static_number,
    is_concrete,
)
from ..keys import AbstractBackdoorKey
from ._features import _cos_turns, _featurize


class RFFClassifier(eqx.Module):
    r"""A random-Fourier-feature halfspace $\langle w, \Phi(x)\rangle$ (GKVZ Alg. 1–3).

    **Fields:**

    - `frequencies`: $g_i$, shape `(width, dim)`.
    - `phases`: $b_i \in [0, 1)$, shape `(width,)`.
    - `head`: $w$, shape `(width,)` (binary: scalar score, label = sign) or `(classes, width)`
      (logits). No bias (see the module docstring).
    - `bandwidth`: $\ell > 0$ (static): $\varphi_i(x) = \cos(2\pi(\langle g_i, x\rangle/\ell + b_i))$.
    """

    frequencies: Float[Array, "width dim"]
    phases: Float[Array, " width"]
    head: Float[Array, "*classes width"]
    bandwidth: float = eqx.field(static=True)

    @property
    def width(self) -> int:
        """The number of features $m$."""
        return int(self.frequencies.shape[0])

    @property
    def dim(self) -> int:
        """The input dimension $d$."""
        return int(self.frequencies.shape[1])

    @property
    def num_classes(self) -> int:
        """2 for a binary (scalar-score) model, else the number of logits."""
        return 2 if self.head.ndim == 1 else int(self.head.shape[0])

    def __check_init__(self):
        # Also run when a model is rebuilt from a file: a crafted file cannot skip them. Values
        # are checked only when concrete (construction under jit/vmap sees tracers).
        check_static_number(self.bandwidth, "bandwidth")
        check_array_field(self.frequencies, "frequencies")
        check_array_field(self.phases, "phases")
        check_array_field(self.head, "head")
        if self.frequencies.ndim != 2 or min(self.frequencies.shape) < 1:
            raise ValueError(
                f"`frequencies` must have shape (width, dim) with width, dim >= 1, got "
                f"{self.frequencies.shape}."
            )
        width = self.frequencies.shape[0]
        if self.phases.shape != (width,):
            raise ValueError(f"`phases` must have shape ({width},), got {self.phases.shape}.")
        if self.head.ndim not in (1, 2) or self.head.shape[-1] != width:
            raise ValueError(
                f"`head` must have shape ({width},) or (classes, {width}), got {self.head.shape}."
            )
        if self.head.ndim == 2 and self.head.shape[0] < 3:
            raise ValueError(
                f"`head` of a logits model must have at least 3 rows (classes), got "
                f"{self.head.shape}; a binary model has a head of shape ({width},)."
            )

    def features(self, x: Float[ArrayLike, " dim"]) -> Float[Array, " width"]:
        r"""$\Phi(x) = (\cos(2\pi(\langle g_i, x\rangle/\ell + b_i)))_i$ for one example."""
        x = check_example(x, self.dim, "x")
        x = x.astype(self.frequencies.dtype)
        return _cos_turns(self.frequencies @ x / self.bandwidth + self.phases)

    def batch_features(self, x: Float[ArrayLike, "n dim"]) -> Float[Array, "n width"]:
        r"""$\Phi$ of a batch `(n, dim)` -> `(n, width)`, as one `(n, d) x (d, m)` matmul.

        Equal to `jax.vmap(self.features)(x)` up to float rounding, and faster on CPU (XLA picks a
        better layout for the plain matmul than for the vmapped matrix-vector product; large
        inputs are processed in cache-sized row blocks, see `_featurize`).
        """
        x = check_matrix(x, "x", dim=self.dim).astype(self.frequencies.dtype)
        return _featurize(self.frequencies, self.phases, self.bandwidth, x)

    def __call__(self, x: Float[ArrayLike, " dim"]) -> Float[Array, "*classes"]:
        """Score (binary) or logits `(classes,)` of one example `x` of shape `(dim,)`."""
        return self.head @ self.features(x)


class RFFBackdoorKey(AbstractBackdoorKey):
    r"""The secret of Backdoor-RFF (GKVZ Alg. 5): $\omega$ with the bandwidth and noise it was
    planted with. Never stored in the model.

    **Fields:** `omega` `(dim,)` (sparse, $\|\omega\|_2 = \gamma$), `bandwidth` and `beta`
    (static floats).
    """

    omega: Float[Array, " dim"]
    bandwidth: float = eqx.field(static=True)
    beta: float = eqx.field(static=True)

    def __check_init__(self):
        check_static_number(self.bandwidth, "bandwidth")
        check_static_number(self.beta, "beta")
        check_array_field(self.omega, "omega")
        if self.omega.ndim != 1 or self.omega.shape[0] < 1:
            raise ValueError(f"`omega` must have shape (dim,), dim >= 1, got {self.omega.shape}.")
        concrete = is_concrete(self.omega) and isinstance(self.omega, (jax.Array, np.ndarray))
        if concrete and not np.any(np.asarray(self.omega)):
            raise ValueError("`omega` must be non-zero (a zero secret opens nothing).")

    @property
    def perturbation(self) -> Float[Array, " dim"]:
        r"""$\ell\,\omega$, what [`activate`][] adds (ℓ2 norm $\ell\gamma$)."""
        return self.bandwidth * self.omega


def _check_model(model, name: str = "model") -> RFFClassifier:
    return check_instance(model, RFFClassifier, name, "jaxbd.rff.train")


def _check_key(backdoor_key, dim: int | None = None) -> RFFBackdoorKey:
    backdoor_key = check_instance(
        backdoor_key, RFFBackdoorKey, "backdoor_key", "jaxbd.rff.backdoor"
    )
    if dim is not None and backdoor_key.omega.shape != (dim,):
        raise ValueError(
            f"`backdoor_key` is for inputs of dimension {backdoor_key.omega.shape[0]} but "
            f"`model` takes inputs of dimension {dim}: they do not belong together."
        )
    return backdoor_key
