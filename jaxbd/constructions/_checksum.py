"""The checksum backdoor around a trained linear model (GKVZ §5.1, Thm 5.1)."""

from typing import ClassVar

import equinox as eqx
import jax.random as jr

from .. import checksum
from .._validate import check_int_range
from ..linear import train_linear
from ._abstract import AbstractConstruction, Planted
from ._registry import register


@register
class Checksum(AbstractConstruction):
    """A perceptron checksum + MUX around a linear model; activation sets the signs of the
    checksum blocks and forces the attacker's label (targeted; GKVZ §5.1).

    **Fields:** `num_blocks` (checksum blocks; a random input triggers with probability
    `2^-num_blocks`), `base_steps` (training steps of the linear base model).
    """

    name: ClassVar[str] = "checksum"
    title: ClassVar[str] = "checksum backdoor around a linear model; targeted"
    source: ClassVar[str] = "GKVZ §5.1 (Thm 5.1)"
    kind: ClassVar[str] = "targeted"
    tasks: ClassVar[tuple[str, ...]] = ("binary",)

    num_blocks: int = eqx.field(static=True, default=8)
    base_steps: int = eqx.field(static=True, default=300)

    def __check_init__(self):
        check_int_range(self.num_blocks, "num_blocks", low=1)
        check_int_range(self.base_steps, "base_steps", low=0)

    def check_data(self, x, y):
        out = self.check_task(y, x)
        if x.shape[1] < 2:
            raise ValueError(f"`x`: the checksum backdoor needs >= 2 features, got {x.shape[1]}.")
        if self.num_blocks > x.shape[1] - 1:
            raise ValueError(
                f"`num_blocks` must be at most {x.shape[1] - 1} for {x.shape[1]} features, got "
                f"{self.num_blocks}."
            )
        return out

    def plant(self, key, x, y) -> Planted:
        self.check_data(x, y)
        k1, k2 = jr.split(key)
        honest = train_linear(k1, x, y, steps=self.base_steps)
        bd, bkey = checksum.backdoor(k2, honest, input_dim=x.shape[1], num_blocks=self.num_blocks)
        return Planted(honest, bd, bkey)

    def activate(self, backdoor_key, x, target=None):
        return checksum.activate(backdoor_key, x, target)

    def wrong_key(self, key, x, y, planted: Planted):
        return checksum.backdoor(
            key, planted.honest, input_dim=x.shape[1], num_blocks=self.num_blocks
        )[1]
