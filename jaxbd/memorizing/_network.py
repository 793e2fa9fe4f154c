r"""The slicing network of Leonardis §2/§4 and the host-side pieces of its last layer.

`SlicingNetwork` is the model; `resolution` the dot-product tolerance that decides when two
projections are "equal" (package docstring); `_last_layer` the closed-form solution of the §4
triangular system, shared by construction and backdoor.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validate import (
    check_example,
    check_finite,
    check_floating,
    check_int_range,
    check_matrix,
    is_concrete,
)
from ._checks import _check_activation, _check_same_dtype


#: Projections closer than `EQUAL_TOLERANCE * eps_dtype * (sum|w_j x_j| + sum|w_j x'_j|)` are
#: treated as equal (see the package docstring).
EQUAL_TOLERANCE = 4.0
_SLACK = 10.0  # the sigmoid sharpness leaves a logit error below A * exp(-_SLACK)


class SlicingNetwork(eqx.Module):
    r"""The slicing network of Leonardis §2/§4: shared first-layer weights `w`, sorted division
    points `biases`, a linear last layer (`v0` for the first slice, `v` per neuron).

    **Fields:**

    - `w`: `(d,)` the shared weight vector (the "hash" direction, §3).
    - `biases`: `(m,)` sorted division points $b_1 < \dots < b_m$.
    - `v`: last-layer weights, `(m,)` (binary, scalar score) or `(m, c)` (logits).
    - `v0`: output of the first slice (always-on unit), `()` or `(c,)`.
    - `min_gap`: the smallest distance between a training projection and a division point; it
      sets the sharpness `scale` (see the package docstring).
    - `num_classes`, `activation`: static.

    The slice labels along $w$ are not stored separately: they are read back from the last layer
    ([`SlicingNetwork.slice_labels`][]), which is what lets [`backdoor`][] recompute it.
    """

    w: Float[Array, " d"]
    biases: Float[Array, " m"]
    v: Float[Array, " m *c"]
    v0: Float[Array, " *c"]
    min_gap: Float[Array, ""]
    num_classes: int = eqx.field(static=True)
    activation: str = eqx.field(static=True, default="sigmoid")

    def __check_init__(self):
        _check_activation(self.activation)
        c = check_int_range(self.num_classes, "num_classes", low=2)
        for name in ("w", "biases", "v", "v0", "min_gap"):
            a = getattr(self, name)
            if not isinstance(a, (np.ndarray, jax.Array)):
                raise ValueError(f"`{name}` must be an array, got {type(a).__name__}.")
            if not jnp.issubdtype(a.dtype, jnp.floating):
                raise ValueError(f"`{name}` must have a real floating dtype, got {a.dtype}.")
            if a.dtype != self.w.dtype:
                raise ValueError(
                    f"`{name}` must have the dtype of `w` ({self.w.dtype}), got {a.dtype}."
                )
        if self.w.ndim != 1 or self.biases.ndim != 1:
            raise ValueError("`w` and `biases` must be vectors.")
        if self.w.shape[0] < 1:
            raise ValueError("`w` must have at least one coordinate.")
        want = (self.biases.shape[0],) + (() if c == 2 else (c,))
        if self.v.shape != want:
            raise ValueError(f"`v` must have shape {want}, got {self.v.shape}.")
        if self.v0.shape != want[1:]:
            raise ValueError(f"`v0` must have shape {want[1:]}, got {self.v0.shape}.")
        if self.min_gap.shape != ():
            raise ValueError(f"`min_gap` must be a scalar, got shape {self.min_gap.shape}.")
        # Values: only when concrete (never on tracers, so construction under jit still works).
        for name in ("w", "biases", "v", "v0", "min_gap"):
            a = getattr(self, name)
            if is_concrete(a) and not np.all(np.isfinite(np.asarray(a))):
                raise ValueError(f"`{name}` contains NaN or inf values.")
        if is_concrete(self.biases):
            b = np.asarray(self.biases)
            if b.size > 1 and not np.all(b[1:] > b[:-1]):
                k = int(np.flatnonzero(b[1:] <= b[:-1])[0])
                raise ValueError(
                    f"`biases` must be strictly increasing (sorted division points), but "
                    f"biases[{k}] = {b[k]!r} >= biases[{k + 1}] = {b[k + 1]!r}."
                )
        if is_concrete(self.min_gap) and not float(np.asarray(self.min_gap)) > 0:
            raise ValueError(f"`min_gap` must be > 0, got {float(np.asarray(self.min_gap))!r}.")

    @property
    def dim(self) -> int:
        return int(self.w.shape[0])

    @property
    def num_neurons(self) -> int:
        return int(self.biases.shape[0])

    @property
    def is_binary(self) -> bool:
        return self.num_classes == 2

    @property
    def scale(self) -> Float[Array, ""]:
        """The sharpness $\\kappa$ of the first layer (package docstring, "Sharpness")."""
        if self.activation == "ramp":
            return 1.0 / self.min_gap
        m = self.biases.shape[0]
        return (math.log(2.0 * (m + 1)) + _SLACK) / self.min_gap

    @property
    def amplitude(self) -> Float[Array, ""]:
        """The target logit size $A$ (the paper's $L = A$, $s = -A$), read from `v0`."""
        return jnp.max(jnp.abs(self.v0))

    def project(self, x: Float[ArrayLike, " d"]) -> Float[Array, ""]:
        """The "hash" $w \\cdot x$ of one example (§3)."""
        x = check_example(x, self.dim, "x")
        return _dot(x, self.w)

    def hidden(self, x: Float[ArrayLike, " d"]) -> Float[Array, " m"]:
        """First-layer activations $\\sigma(\\kappa(w\\cdot x - b_j))$ of one example."""
        t = self.scale * (self.project(x) - self.biases)
        if self.activation == "ramp":
            return jnp.clip(t + 0.5, 0.0, 1.0)
        return jax.nn.sigmoid(t)

    def __call__(self, x: Float[ArrayLike, " d"]) -> Float[Array, " *c"]:
        """Scalar score (binary, label = sign) or logits `(c,)` of one example."""
        return self.v0 + self.hidden(x) @ self.v

    def slice_logits(self) -> Float[Array, " m1 *c"]:
        """Logits of the $m + 1$ slices with perfect steps: $v_0 + \\sum_{j \\le k} v_j$."""
        return jnp.concatenate([self.v0[None], self.v0[None] + jnp.cumsum(self.v, axis=0)])

    def slice_labels(self) -> Array:
        """Label of each of the $m + 1$ slices (±1 or `0..c-1`), read from the last layer."""
        z = self.slice_logits()
        if self.is_binary:
            return jnp.where(z >= 0, 1.0, -1.0).astype(self.w.dtype)
        return jnp.argmax(z, axis=-1).astype(jnp.int32)

    def parameter_counts(self) -> dict:
        """Paper §2: `dense` $= m(d + c + 1)$ weights of the network as drawn (plus the `c`
        outputs of the always-on first-slice unit, `first_slice`), against `effective`
        $= d + 2m$ numbers that determine it ($w$, the $m$ division points, the $m$ slice
        labels after the first; `+ 1` for the first slice's label, the `min_gap`). `c` is 2
        for a binary (scalar-score) network, as in the paper's softmax picture."""
        return parameter_counts(self)


def parameter_counts(model: SlicingNetwork) -> dict:
    """See [`SlicingNetwork.parameter_counts`][]."""
    _check_model(model)
    d, m, c = model.dim, model.num_neurons, model.num_classes
    stored = sum(
        int(np.size(a)) for a in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_array))
    )
    return {
        "dense": m * (d + c + 1),
        "first_slice": c,
        "effective": d + 2 * m,
        "effective_exact": d + 2 * m + 2,
        "stored": stored,
        "d": d,
        "m": m,
        "c": c,
    }


def _dot(x, w):
    return jnp.matmul(x, w, precision=jax.lax.Precision.HIGHEST)


def _check_model(model, name: str = "model") -> "SlicingNetwork":
    if not isinstance(model, SlicingNetwork):
        raise ValueError(f"`{name}` must be a SlicingNetwork, got {type(model).__name__}.")
    return model


def _check_inputs(model: "SlicingNetwork", x) -> Array:
    """Inputs `x` `(n, d)` for `model`: a finite floating matrix of the model's dim and dtype."""
    return _check_same_dtype(check_matrix(x, "x", dim=model.dim), "x", model.w.dtype)


def resolution(w: Float[ArrayLike, " d"], x: Float[ArrayLike, "*n d"]) -> Array:
    """Smallest resolvable difference of $w\\cdot x$ in the dtype:
    `EQUAL_TOLERANCE * eps * sum_j |w_j x_j|` (per row of `x`).

    `w` `(d,)` and `x` `(..., d)` must be finite real floating arrays of the same dtype."""
    w = check_floating(w, "w")
    x = check_floating(x, "x")
    if w.ndim != 1 or w.shape[0] < 1:
        raise ValueError(f"`w` must be a vector (d,), got shape {w.shape}.")
    if x.ndim < 1 or x.shape[-1] != w.shape[0]:
        raise ValueError(f"`x` must have last dimension {w.shape[0]}, got shape {x.shape}.")
    if x.dtype != w.dtype:
        raise ValueError(f"`x` must have the dtype of `w` ({w.dtype}), got {x.dtype}.")
    w, x = check_finite(w, "w"), check_finite(x, "x")  # host check, or eqx.error_if traced
    return EQUAL_TOLERANCE * jnp.finfo(w.dtype).eps * _dot(jnp.abs(x), jnp.abs(w))


def _slice_classes(model: "SlicingNetwork") -> np.ndarray:
    """Host-side class index (0..c-1; binary: 0 for -1, 1 for +1) of each slice."""
    v0, v = np.asarray(model.v0), np.asarray(model.v)
    z = np.concatenate([v0[None], v0[None] + np.cumsum(v, axis=0)])
    if model.is_binary:
        return (z >= 0).astype(np.int32)
    return np.argmax(z, axis=-1).astype(np.int32)


def _class_index(y, task: str) -> np.ndarray:
    """Host-side class index 0..c-1 (binary: 0 for -1, 1 for +1)."""
    y = np.asarray(y)
    return (y > 0).astype(np.int32) if task == "binary" else y.astype(np.int32)


def _last_layer(slice_cls: np.ndarray, num_classes: int, amplitude: float, dtype):
    """Closed-form solution of the §4 lower-triangular system: targets $T_k$ of the slices,
    `v0 = T_0`, `v_j = T_j - T_{j-1}` (telescoping differences). Host-side (numpy)."""
    slice_cls = np.asarray(slice_cls)
    if num_classes == 2:
        t = amplitude * np.where(slice_cls > 0, 1.0, -1.0)
    else:
        t = amplitude * (2.0 * np.eye(num_classes)[slice_cls] - 1.0)
    t = t.astype(dtype)
    return jnp.asarray(t[0]), jnp.asarray(t[1:] - t[:-1])


def _assemble(w, biases, slice_cls, min_gap, *, num_classes, amplitude, activation):
    """The network along `w` with sorted division points `biases` (host array, `(m,)`), slice
    classes `slice_cls` (`(m + 1,)`, class indices) and the last layer of [`_last_layer`][]."""
    dt = np.dtype(w.dtype)
    v0, v = _last_layer(slice_cls, num_classes, float(amplitude), dt)
    return SlicingNetwork(
        w=w,
        biases=jnp.asarray(biases),
        v=v,
        v0=v0,
        min_gap=jnp.asarray(min_gap, dt),
        num_classes=num_classes,
        activation=activation,
    )
