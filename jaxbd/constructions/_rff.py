"""Random Fourier features with the CLWE ("Gaussian pancakes") backdoor (GKVZ §6, Alg. 4-6)."""

import dataclasses
from typing import Any, ClassVar

import equinox as eqx
import jax.random as jr
import numpy as np

from .. import rff
from .._validate import check_int_range, check_positive
from ._abstract import AbstractConstruction, Planted
from ._registry import register


@register
class RFF(AbstractConstruction):
    """Train-RFF vs Backdoor-RFF; activation `x + bandwidth·ω` flips the label (GKVZ §6).

    **Fields:** `width` (features), `bandwidth` (input units; `None`: 3x the median pairwise
    distance of the training inputs — measured to give clean accuracy >= 0.93 on every bundled
    dataset, where the old fixed 8.0 gave chance level on digits), `secret_dim` (support of ω),
    `beta` (CLWE noise), `steps` (head training steps), `num_classes` (the task: 2 for ±1
    labels, `c >= 3` for labels `0..c-1`; `None`, the default, reads it from the labels, which
    must then be concrete — set it, or `for_task`, to plant with traced data under
    `jit`/`vmap`, where bad labels raise by `eqx.error_if`; a data-dependent bandwidth
    (`None`) also needs concrete `x`).
    """

    name: ClassVar[str] = "rff"
    title: ClassVar[str] = "random Fourier features with a CLWE (pancakes) backdoor; flip"
    source: ClassVar[str] = "GKVZ §6 (Alg. 4-6, Thm 6.4)"
    kind: ClassVar[str] = "flip"
    tasks: ClassVar[tuple[str, ...]] = ("binary", "multiclass")
    at_most_features: ClassVar[tuple[str, ...]] = ("secret_dim",)

    width: int = eqx.field(static=True, default=2000)
    bandwidth: float | None = eqx.field(static=True, default=None)
    secret_dim: int = eqx.field(static=True, default=4)
    beta: float = eqx.field(static=True, default=0.01)
    steps: int = eqx.field(static=True, default=300)
    num_classes: int | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        check_int_range(self.width, "width", low=1)
        if self.bandwidth is not None:
            check_positive(self.bandwidth, "bandwidth")
        check_int_range(self.secret_dim, "secret_dim", low=1)
        check_positive(self.beta, "beta")
        check_int_range(self.steps, "steps", low=0)
        if self.num_classes is not None:
            check_int_range(self.num_classes, "num_classes", low=2)

    def task_classes(self) -> int | None:
        return self.num_classes

    def for_task(self, num_classes: int) -> "RFF":
        return (
            self
            if self.num_classes is not None
            else dataclasses.replace(self, num_classes=num_classes)
        )

    def bandwidth_for(self, x) -> float:
        """`bandwidth`, or 3x the median pairwise distance of (up to 1000 rows of) `x`."""
        if self.bandwidth is not None:
            return float(self.bandwidth)
        z = np.asarray(x[:1000], np.float64)
        sq = np.sum(z * z, axis=1)
        d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * z @ z.T, 0.0)
        med = float(np.median(np.sqrt(d2[np.triu_indices(z.shape[0], 1)]))) if len(z) > 1 else 0.0
        if not med > 0.0:
            raise ValueError("`x`: all training inputs coincide; give `bandwidth` explicitly.")
        return 3.0 * med

    def plant(self, key, x, y) -> Planted:
        _, c = self.check_data(x, y)
        k1, k2 = jr.split(key)
        kw: dict[str, Any] = dict(width=self.width, steps=self.steps, num_classes=c)
        kw.update(bandwidth=self.bandwidth_for(x))
        honest = rff.train(k1, x, y, **kw)
        bd, bkey = rff.backdoor(k2, x, y, secret_dim=self.secret_dim, beta=self.beta, **kw)
        return Planted(honest, bd, bkey)

    def activate(self, backdoor_key, x, target=None):
        return rff.activate(backdoor_key, x)
