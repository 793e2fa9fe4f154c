"""The backdoored model: `base` beside the checksum network and a MUX (GKVZ Figure 2)."""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._validate import check_example, check_int_range
from ._network import ThresholdLayer


class ChecksumBackdooredModel(eqx.Module):
    """`base` beside the checksum network and a MUX (GKVZ Figure 2, Theorem 5.3).

    `model(x)` is `base(x)` (bit for bit) when the checksum fails and `+1.0` / `-1.0` (the sign of
    `x[out_index]`, `0 -> +1`) when it holds.
    """

    base: Callable[..., Any]  # any model x (d,) -> score (); checked in __check_init__
    layers: tuple[ThresholdLayer, ...]
    input_dim: int = eqx.field(static=True)
    out_index: int = eqx.field(static=True)

    def __check_init__(self):
        d = check_int_range(self.input_dim, "input_dim", low=2)
        check_int_range(self.out_index, "out_index", low=0, high=d - 1)
        if not callable(self.base):
            raise ValueError(f"`base` must be a model (callable), got {type(self.base).__name__}.")
        layers = self.layers
        if not isinstance(layers, tuple) or len(layers) != 4:
            raise ValueError(
                "`layers` must be the four ThresholdLayers of GKVZ Figure 1 (signs, counts, "
                "parities, AND), got "
                + (
                    f"{len(layers)} layers."
                    if isinstance(layers, tuple)
                    else type(layers).__name__
                )
            )
        size = d
        for i, layer in enumerate(layers):
            if not isinstance(layer, ThresholdLayer):
                raise ValueError(
                    f"`layers[{i}]` must be a ThresholdLayer, got {type(layer).__name__}."
                )
            if layer.in_size != size:
                raise ValueError(
                    f"`layers[{i}]` reads {layer.in_size} inputs but receives {size}."
                )
            size = layer.out_size
        if not layers[0].diagonal:
            raise ValueError("`layers[0]` must be the diagonal sign layer.")
        if layers[1].out_size != d or not 2 <= layers[2].out_size <= d:
            raise ValueError(
                f"`layers` must hold {d} count units and num_blocks + 1 (2..{d}) parity units, "
                f"got {layers[1].out_size} and {layers[2].out_size}."
            )
        if size != 2:
            raise ValueError(f"the last of `layers` must output (h, s_out), 2 values, got {size}.")

    def checksum_bits(self, x: Float[ArrayLike, " d"]) -> Float[Array, "2"]:
        """The network's last threshold layer on `x`: `(h(x), sgn(x_out))`, each `0.0`/`1.0`."""
        z = check_example(x, self.input_dim)
        for layer in self.layers:
            z = layer(z)
        return z

    def __call__(self, x: Float[ArrayLike, " d"]) -> Float[Array, ""]:
        x = check_example(x, self.input_dim)
        y = self.base(x)
        if jnp.shape(y) != ():
            raise ValueError(
                f"`base` must return a scalar score (binary model), got shape {jnp.shape(y)}."
            )
        h, s_out = self.checksum_bits(x)
        backdoor_out = (2.0 * s_out - 1.0).astype(y.dtype)
        return jnp.where(h > 0.5, backdoor_out, y)
