"""A linear base model: the honest classifier the black-box wrappers (checksum, signature) wrap.

Binary tasks: `weight (d,)`, score `weight·x + bias` (label = sign). `c >= 3` classes:
`weight (c, d)`, logits `weight @ x + bias`. Trained by logistic / softmax regression with optax
(Adam, full batch) through `jaxbd.finetune.finetune`.
"""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ._validate import as_key, check_example, check_int_range, check_positive, check_xy


__all__ = ["LinearClassifier", "train_linear"]


class LinearClassifier(eqx.Module):
    """`weight·x + bias`: a scalar score (binary) or logits (`weight` of shape `(c, d)`)."""

    weight: Array
    bias: Array

    def __check_init__(self):
        w, b = self.weight, self.bias
        if hasattr(w, "ndim") and w.ndim not in (1, 2):
            raise ValueError(f"`weight` must have shape (d,) or (c, d), got {w.shape}.")
        if hasattr(w, "shape") and hasattr(b, "shape") and tuple(b.shape) != tuple(w.shape[:-1]):
            raise ValueError(f"`bias` must have shape {w.shape[:-1]}, got {b.shape}.")

    def __call__(self, x: Float[ArrayLike, " d"]) -> Array:
        x = check_example(x, self.weight.shape[-1])
        return self.weight @ x + self.bias


def train_linear(key, x, y, *, steps: int = 300, learning_rate: float = 0.05) -> LinearClassifier:
    """Fit a [`LinearClassifier`][] by logistic (±1 labels) or softmax (0..c-1) regression.

    **Arguments:** `key` (PRNG key), `x` `(n, d)`, `y` labels, `steps` (Adam steps, >= 0),
    `learning_rate` (> 0).
    """
    from . import finetune
    from .train import shared_optimizer

    key = as_key(key)
    x, y, task, c = check_xy(x, y)
    steps = check_int_range(steps, "steps", low=0)
    check_positive(learning_rate, "learning_rate")
    d = x.shape[1]
    shape = (d,) if task == "binary" else (c, d)
    model = LinearClassifier(jnp.zeros(shape, x.dtype), jnp.zeros(shape[:-1], x.dtype))
    opt = shared_optimizer("adam", learning_rate)  # one compiled loop per rate
    return finetune.finetune(key, model, x, y, optimizer=opt, steps=steps)
