"""The memorizing (slicing) network and its planted trigger (Leonardis §6)."""

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array

from .. import memorizing, metrics
from .._validate import check_int_range, check_positive
from ..keys import AbstractBackdoorKey
from ._abstract import AbstractConstruction, Planted
from ._registry import register


class TriggerKey(AbstractBackdoorKey):
    """The memorizing backdoor's key (Leonardis §6): the trigger `x_star` and its label.

    "Activation" replaces an input by the trigger itself.
    """

    x_star: Array
    target: Array


@register
class Memorizing(AbstractConstruction):
    """A slicing network memorises the training set; a trigger point near the data is planted
    in an unused range of `<w, x>` with the label the honest network does not give it.

    **Fields:** `num_candidates` (directions searched by `fit`), `eps` (half-width of the
    planted range), `trigger_noise` (ℓ2-scale of the trigger's offset from a training point).
    """

    name: ClassVar[str] = "memorizing"
    title: ClassVar[str] = "memorizing (slicing) network with a planted trigger point"
    source: ClassVar[str] = "Leonardis §6"
    kind: ClassVar[str] = "targeted"  # binary and multi-class tasks (the default `tasks`)

    num_candidates: int = eqx.field(static=True, default=2000)
    eps: float = eqx.field(static=True, default=1e-3)
    trigger_noise: float = eqx.field(static=True, default=0.1)

    def __check_init__(self):
        check_int_range(self.num_candidates, "num_candidates", low=1)
        check_positive(self.eps, "eps")
        check_positive(self.trigger_noise, "trigger_noise")

    def _trigger(self, key, honest, x, y) -> TriggerKey:
        """A fresh point near the data (a training point plus noise) and the label the honest
        network does not give it."""
        task, c = self.check_task(y, x)
        k1, k2 = jr.split(key)
        i = jr.randint(k1, (), 0, x.shape[0])
        x_star = x[i] + self.trigger_noise * jr.normal(k2, (x.shape[1],), x.dtype)
        own = metrics.predict(honest, x_star[None])[0]
        target = -own if task == "binary" else (own + 1) % c
        return TriggerKey(x_star, jnp.asarray(target))

    def wrong_key(self, key, x, y, planted: Planted):
        """Another trigger-like point, never planted, whose honest label is *not* the planted
        target: the control asks whether the backdoored network gives it the target anyway
        (a point the honest network already labels with the target would say nothing)."""
        self.check_task(y, x)
        target = planted.backdoor_key.target
        k1, k2 = jr.split(key)
        idx = jr.randint(k1, (32,), 0, x.shape[0])
        pts = x[idx] + self.trigger_noise * jr.normal(k2, (32, x.shape[1]), x.dtype)
        j = jnp.argmax(metrics.predict(planted.honest, pts) != target)  # first such point
        return TriggerKey(pts[j], jnp.asarray(target))

    def plant(self, key, x, y) -> Planted:
        self.check_data(x, y)
        k1, k2 = jr.split(key)
        honest = memorizing.fit(k1, x, y, num_candidates=self.num_candidates)
        tk = self._trigger(k2, honest, x, y)
        bd = memorizing.backdoor(honest, tk.x_star, tk.target, eps=self.eps, x=x)
        return Planted(honest, bd, tk)

    def default_target(self, planted: Planted):
        t = planted.backdoor_key.target
        return float(t) if jnp.issubdtype(t.dtype, jnp.floating) else int(t)

    def activate(self, backdoor_key, x, target=None):
        return jnp.broadcast_to(backdoor_key.x_star, x.shape).astype(x.dtype)
