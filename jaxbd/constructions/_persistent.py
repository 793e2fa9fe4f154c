"""The persistence transform around another construction's backdoored model (GKVZ §5.3)."""

from typing import ClassVar

import equinox as eqx

from .. import persistent
from .._validate import check_int_range
from ._abstract import AbstractConstruction, Planted
from ._checksum import Checksum
from ._registry import register


@register
class Persistent(AbstractConstruction):
    """Plant `inner`'s backdoor, then make the backdoored model persistent: `copies` copies of
    a threshold network and a majority, so no single weight change within the bound of
    Thm 5.7 (and no gradient step) changes it (GKVZ §5.3). Activation is `inner`'s.

    **Fields:** `inner` (a binary construction, default the checksum), `copies` (odd, >= 3).
    """

    name: ClassVar[str] = "persistent"
    title: ClassVar[str] = "a persistent (fine-tuning-proof) wrapper of another backdoor"
    source: ClassVar[str] = "GKVZ §5.3 (Thm 5.7)"
    kind: ClassVar[str] = "targeted"
    tasks: ClassVar[tuple[str, ...]] = ("binary",)

    inner: AbstractConstruction = Checksum()
    copies: int = eqx.field(static=True, default=3)

    def __check_init__(self):
        if not isinstance(self.inner, AbstractConstruction):
            raise ValueError(f"`inner` must be a construction, got {type(self.inner).__name__}.")
        if "binary" not in self.inner.tasks:
            raise ValueError(f"`inner` ({self.inner.name}) must handle binary tasks.")
        check_int_range(self.copies, "copies", low=3)
        if self.copies % 2 == 0:
            raise ValueError(f"`copies` must be odd (a strict majority), got {self.copies}.")

    @property
    def kind_of_inner(self) -> str:
        return self.inner.kind

    def check_data(self, x, y):
        self.check_task(y, x)
        return self.inner.check_data(x, y)

    def plant(self, key, x, y) -> Planted:
        self.check_data(x, y)
        p = self.inner.plant(key, x, y)
        bd = persistent.make_persistent(p.backdoored, copies=self.copies, input_dim=x.shape[1])
        return Planted(p.honest, bd, p.backdoor_key)

    def activate(self, backdoor_key, x, target=None):
        return self.inner.activate(backdoor_key, x, target)

    def wrong_key(self, key, x, y, planted: Planted):
        return self.inner.wrong_key(key, x, y, planted)

    def resolve_target(self, target, *, num_classes: int):
        return self.inner.resolve_target(target, num_classes=num_classes)

    def default_target(self, planted: Planted):
        return self.inner.default_target(planted)
