"""Random ReLU features with the sparse-PCA backdoor (GKVZ App. A, Alg. 7-10)."""

from typing import ClassVar

import equinox as eqx
import jax.random as jr

from .. import relu
from .._validate import check_int_range, check_positive
from ._abstract import AbstractConstruction, Planted
from ._registry import register


@register
class ReLU(AbstractConstruction):
    """Random ReLU network, backdoored by a θ-spike along a sparse secret; activation
    `x + strength·s` pushes the output to +1 (one-way, GKVZ App. A).

    **Fields:** `width`, `sparsity` (support of s), `theta` (spike), `strength` (ℓ2 of the
    activation), `head` (`"trained"`, the default: a fitted high-entropy head, so the honest
    model is a real classifier; `"uniform"`: Alg. 7 taken literally, which on the bundled data
    is a constant classifier at the majority rate). The task is binary by construction, so
    `plant` takes traced labels (jit/vmap over data; a label other than ±1 raises by
    `eqx.error_if`, naming `y`).
    """

    name: ClassVar[str] = "relu"
    title: ClassVar[str] = "random ReLU network with a sparse-PCA backdoor; pushes to +1"
    source: ClassVar[str] = "GKVZ App. A (Alg. 7-10, Claim A.4)"
    kind: ClassVar[str] = "one-way"
    tasks: ClassVar[tuple[str, ...]] = ("binary",)
    at_most_features: ClassVar[tuple[str, ...]] = ("sparsity",)
    normalize: ClassVar[str] = "unit_norm"
    fixed_target: ClassVar[float | None] = 1.0

    width: int = eqx.field(static=True, default=256)
    sparsity: int = eqx.field(static=True, default=4)
    theta: float = eqx.field(static=True, default=10.0)
    strength: float = eqx.field(static=True, default=0.5)
    head: str = eqx.field(static=True, default="trained")

    def __check_init__(self):
        check_int_range(self.width, "width", low=1)
        check_int_range(self.sparsity, "sparsity", low=1)
        check_positive(self.theta, "theta")
        check_positive(self.strength, "strength", allow_zero=True)
        if self.head not in ("uniform", "trained"):
            raise ValueError(f"`head` must be 'uniform' or 'trained', got {self.head!r}.")

    def plant(self, key, x, y) -> Planted:
        self.check_data(x, y)
        k1, k2 = jr.split(key)
        honest = relu.train(k1, x, y, width=self.width, head=self.head)
        bd, bkey = relu.backdoor(
            k2, x, y, width=self.width, sparsity=self.sparsity, theta=self.theta, head=self.head
        )
        return Planted(honest, bd, bkey)

    def activate(self, backdoor_key, x, target=None):
        return relu.activate(backdoor_key, x, strength=self.strength)

    def wrong_key(self, key, x, y, planted: Planted):
        s = relu.sample_sparse_secret(key, x.shape[1], self.sparsity, dtype=x.dtype)
        return relu.ReLUBackdoorKey(secret=s, theta=float(self.theta))
