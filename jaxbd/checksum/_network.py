r"""The checksum as a network of perceptrons (GKVZ Figure 1, Lemma B.1; package docstring)."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._validate import check_array_field


def _step(z: Array) -> Array:
    """Perceptron activation $[z \\ge 0] \\in \\{0, 1\\}$ (zero gradient everywhere)."""
    return jnp.where(z >= 0, 1.0, 0.0).astype(z.dtype)


class ThresholdLayer(eqx.Module):
    r"""A layer of perceptrons $z \mapsto [W z - b \ge 0]$ (GKVZ §3.1, Lemma B.1).

    `weight` is `(out, in)`; a `diagonal` layer holds a vector `(n,)` and computes
    $[w_j z_j - b_j \ge 0]$ (one single-input perceptron per coordinate).
    """

    weight: Float[Array | np.ndarray, "..."]
    bias: Float[Array | np.ndarray, " out"]
    diagonal: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        if not isinstance(self.diagonal, (bool, np.bool_)):
            raise ValueError(f"`diagonal` must be True or False, got {self.diagonal!r}.")
        for name in ("weight", "bias"):  # real floating, finite when concrete
            check_array_field(getattr(self, name), name)
        if self.bias.ndim != 1:
            raise ValueError(f"`bias` must be a vector (out,), got shape {self.bias.shape}.")
        want = "(n,) like `bias`" if self.diagonal else "(out, in) with out = len(bias)"
        ok = (
            self.weight.shape == self.bias.shape
            if self.diagonal
            else self.weight.ndim == 2 and self.weight.shape[0] == self.bias.shape[0]
        )
        if not ok:
            raise ValueError(
                f"`weight` must have shape {want}, got {self.weight.shape} (bias "
                f"{self.bias.shape}, diagonal={self.diagonal})."
            )

    @property
    def in_size(self) -> int:
        return int(self.weight.shape[-1])

    @property
    def out_size(self) -> int:
        return int(self.bias.shape[0])

    def __call__(self, z: Float[Array, " n"]) -> Float[Array, " out"]:
        w, b = jnp.asarray(self.weight, z.dtype), jnp.asarray(self.bias, z.dtype)
        return _step((w * z if self.diagonal else w @ z) - b)


def _build_network(blocks, v, out, d, dtype) -> tuple[ThresholdLayer, ...]:
    """The four perceptron layers of Figure 1 (weights built host-side once)."""
    n = len(blocks)
    # 1. signs: s_j = [x_j >= 0].
    l1 = ThresholdLayer(jnp.ones((d,), dtype), jnp.zeros((d,), dtype), diagonal=True)
    # 2. counts c_{i,r} = [sum_{I_i} s >= r + 1]; last unit repeats s_out.
    rows = d  # (d - 1) count units + 1 repeat gate
    w2 = np.zeros((rows, d))
    b2 = np.zeros(rows)
    w3 = np.zeros((n + 1, rows))
    b3 = np.zeros(n + 1)
    u = 0
    for i, idx in enumerate(blocks):
        sign = 1.0 if v[i] == 1 else -1.0
        for r in range(len(idx)):
            w2[u, idx] = 1.0
            b2[u] = r + 1
            # 3. [parity_i = v_i], parity_i = sum_r (-1)^r c_{i,r}.
            w3[i, u] = sign * (-1.0) ** r
            u += 1
        b3[i] = 1.0 if v[i] == 1 else 0.0
    w2[u, out] = 1.0
    b2[u] = 1.0
    w3[n, u] = 1.0
    b3[n] = 1.0
    # 4. AND of the n equalities; second unit repeats s_out.
    w4 = np.zeros((2, n + 1))
    w4[0, :n] = 1.0
    w4[1, n] = 1.0
    b4 = np.array([float(n), 1.0])
    mk = lambda w, b: ThresholdLayer(jnp.asarray(w, dtype), jnp.asarray(b, dtype))
    return (l1, mk(w2, b2), mk(w3, b3), mk(w4, b4))
