"""The model's task (scalar score or logits, from its output shape) and the labels that belong
to it; the shared checks of the metrics."""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._validate import check_labels, checked_jit, is_concrete, output_shape, runtime_check


@checked_jit  # concrete calls: checks raise on the host, the program stays cacheable
def _scores(model, x):
    return jax.vmap(model)(x)


def _check_model(model, name: str = "model"):
    if not callable(model):
        raise ValueError(
            f"`{name}` must be a callable model(x) -> score or logits, got {type(model).__name__}."
        )
    return model


def _task(model, x, name: str = "model") -> tuple[bool, int]:
    """`(logits, num_classes)` of the model, from its output on one example: `(False, 2)` for
    a scalar score, `(True, c)` for logits `(c,)` (raises naming `name` otherwise)."""
    out = output_shape(_check_model(model, name), x[0], name)
    shape = getattr(out, "shape", None)
    if shape == ():
        return False, 2
    if shape is not None and len(shape) == 1 and shape[0] >= 2:
        return True, int(shape[0])
    raise ValueError(
        f"`{name}` must return a scalar score or a logits vector (c,), c >= 2, per example, "
        f"got {out!r}."
    )


def _check_task_labels(y, x, num_classes: int, *, logits: bool, name: str = "y") -> Array:
    """Labels of the model's task: ±1 for a scalar score, `0..c-1` for `c` logits."""
    if logits and num_classes == 2:
        # Two logits: labels 0/1 (check_labels reads num_classes=2 as the ±1 task).
        y_np = np.asarray(check_labels(y, x, name=name, num_classes=3, training=False)[0])
        if y_np.size and y_np.max() > 1:
            raise ValueError(
                f"`{name}` holds label {int(y_np.max())} but the model has 2 logits (labels 0..1)."
            )
        return jnp.asarray(y_np)
    return check_labels(y, x, name=name, num_classes=num_classes, training=False)[0]


def _check_scores(s, name: str = "model"):
    msg = f"`{name}` returned NaN or inf scores (a non-finite score has no label)."
    if is_concrete(s):
        if not np.all(np.isfinite(np.asarray(s))):
            raise ValueError(msg)
        return s
    return runtime_check(s, ~jnp.all(jnp.isfinite(s)), msg)


def _check_target(target, x, num_classes: int, *, logits: bool) -> Array:
    """`target` (a label, or one per row) as a `(n,)` label vector of the model's task."""
    if isinstance(target, (str, bytes)):
        raise ValueError(f"`target` must be a label of the model's task, got {target!r}.")
    t = jnp.asarray(target)
    if t.ndim > 1 or (t.ndim == 1 and t.shape[0] != x.shape[0]):
        raise ValueError(
            f"`target` must be one label or one label per example ({x.shape[0]},), got shape "
            f"{t.shape}."
        )
    t = jnp.broadcast_to(t, (x.shape[0],))
    return _check_task_labels(t, x, num_classes, logits=logits, name="target")


def _same_shape(a, b, name_a: str, name_b: str) -> None:
    if jnp.shape(a) != jnp.shape(b):
        raise ValueError(
            f"`{name_a}` and `{name_b}` must have the same shape, got {jnp.shape(a)} and "
            f"{jnp.shape(b)}."
        )
