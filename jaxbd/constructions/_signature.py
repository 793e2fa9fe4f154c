"""The Ed25519 signature backdoor around a trained linear model (GKVZ §5.2, Thm 5.4)."""

from typing import ClassVar

import equinox as eqx

from .. import signature
from .._validate import check_int_range, check_positive
from ..linear import train_linear
from ._abstract import AbstractConstruction, Planted
from ._registry import register


@register
class Signature(AbstractConstruction):
    """A public-key (Ed25519) check + MUX around a linear model: non-replicable; the model
    holds only the public key (targeted; GKVZ §5.2). The check runs on the host.

    Without a `step` the encoding range is chosen from the training data at plant time
    (`jaxbd.signature.backdoor` with `x_train`: inputs up to 4x the training range can be
    activated); a row beyond it is reported by `jaxbd.signature.can_activate` and, in a batch,
    comes back unchanged instead of failing the batch.

    **Fields:** `base_steps`, `step` (encoding grid: ℓ∞ of any activation is below it; default:
    chosen from the training data), `bits_per_coord` (signature bits per input coordinate).
    """

    name: ClassVar[str] = "signature"
    title: ClassVar[str] = "Ed25519 signature backdoor around a linear model; targeted"
    source: ClassVar[str] = "GKVZ §5.2 (Thm 5.4)"
    kind: ClassVar[str] = "targeted"  # binary and multi-class tasks (the default `tasks`)

    base_steps: int = eqx.field(static=True, default=300)
    step: float | None = eqx.field(static=True, default=None)
    bits_per_coord: int = eqx.field(static=True, default=9)

    def __check_init__(self):
        check_int_range(self.base_steps, "base_steps", low=0)
        if self.step is not None:
            check_positive(self.step, "step")
        check_int_range(self.bits_per_coord, "bits_per_coord", low=1, high=30)

    def _wrap(self, honest, x, step=None):
        return signature.backdoor(
            honest, input_dim=x.shape[1], step=self.step if step is None else step,
            bits_per_coord=self.bits_per_coord, x_train=x,
        )  # fmt: skip

    def check_data(self, x, y):
        task, c = self.check_task(y, x)
        need = signature.min_input_dim(max(c, 2), bits_per_coord=self.bits_per_coord)
        if x.shape[1] < need:
            raise ValueError(
                f"`x`: the signature encoding at `bits_per_coord` = {self.bits_per_coord} needs "
                f">= {need} features, the data has {x.shape[1]}; raise `bits_per_coord` (and "
                "`step`)."
            )
        return task, c

    def plant(self, key, x, y) -> Planted:
        self.check_data(x, y)
        honest = train_linear(key, x, y, steps=self.base_steps)
        bd, bkey = self._wrap(honest, x)
        return Planted(honest, bd, bkey)

    def activate(self, backdoor_key, x, target=None):
        return signature.activate(backdoor_key, x, target)

    def wrong_key(self, key, x, y, planted: Planted):
        step = planted.backdoor_key.encoding.step  # the same encoding, a fresh signing key
        return self._wrap(planted.honest, x, step)[1]
