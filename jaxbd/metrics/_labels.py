"""Predicted labels, clean accuracy and attack success rate (DESIGN.md §4)."""

from collections.abc import Callable

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validate import check_floating, check_matrix, is_concrete
from ._checks import _check_model, _check_scores, _check_target, _check_task_labels, _scores, _task


def predict(model: Callable, x: Float[ArrayLike, "n d"]) -> Array:
    """Labels of a batch: `±1` (sign of a scalar score, `0 -> +1`) or argmax of logits.

    A NaN or inf score raises (naming `model`) instead of being read as a label."""
    _check_model(model)
    x = check_matrix(x, "x")
    s = _scores(model, x)
    # concrete scores: the labels in numpy (jnp here would compile a program per shape)
    xp = np if is_concrete(s) else jnp
    if s.ndim == 1:
        s = _check_scores(s)
        v = xp.asarray(s)
        return jnp.asarray(xp.where(v >= 0, 1.0, -1.0).astype(s.dtype))
    if s.ndim == 2:
        s = _check_scores(s)
        return jnp.asarray(xp.argmax(xp.asarray(s), axis=-1))  # int32 (int64 with x64)
    raise ValueError(
        f"`model` output must be a scalar score or a logits vector per example, got {s.shape[1:]}."
    )


def clean_accuracy(model: Callable, x: Float[ArrayLike, "n d"], y: ArrayLike) -> float:
    """Fraction of `x` whose predicted label equals `y`.

    `y` must hold labels of the model's task (inferred from its output): `-1/+1` for a scalar
    score, `0..c-1` for logits `(c,)`; anything else is a `ValueError` naming `y`.
    """
    pred = predict(model, x)
    x = jnp.asarray(x)
    y_arr = jnp.asarray(y)
    if y_arr.shape != pred.shape:
        raise ValueError(f"`y` must have shape {pred.shape}, got {y_arr.shape}.")
    logits, c = _task(model, x)
    y = _check_task_labels(y, x, c, logits=logits)
    return float(np.mean(np.asarray(pred) == np.asarray(y).astype(pred.dtype)))


def attack_success_rate(
    model: Callable,
    x: Float[ArrayLike, "n d"],
    x_activated: Float[ArrayLike, "n d"],
    *,
    target=None,
    y: ArrayLike | None = None,
) -> float:
    """Attack success rate of `x_activated` against `model`.

    **Arguments:**

    - `x`, `x_activated`: clean inputs and their activated versions, row by row.
    - `target`: the attacker's label (of the model's task: ±1 for a scalar score, `0..c-1` for
      logits). `None` means a *flip* backdoor: success is a label that differs from the
      model's label on the clean input.
    - `y`: true labels (of the model's task); with a `target`, inputs whose true label already
      is the target are left out.

    **Returns:** a fraction in `[0, 1]` (NaN if no input is eligible).
    """
    x = check_matrix(x, "x")
    x_activated = check_floating(x_activated, "x_activated")
    if x.shape != x_activated.shape:
        raise ValueError(
            f"`x` and `x_activated` must have the same shape, got {x.shape} and "
            f"{x_activated.shape}."
        )
    x_activated = check_matrix(x_activated, "x_activated")
    pred_act = predict(model, x_activated)
    if target is None:
        pred = predict(model, x)
        return float(np.mean(np.asarray(pred_act) != np.asarray(pred)))
    logits, c = _task(model, x)
    t_vec = _check_target(target, x, c, logits=logits)
    hit = np.asarray(pred_act) == np.asarray(t_vec).astype(pred_act.dtype)
    if y is not None:
        y_arr = jnp.asarray(y)
        if y_arr.shape != pred_act.shape:
            raise ValueError(f"`y` must have shape {pred_act.shape}, got {y_arr.shape}.")
        y_chk = _check_task_labels(y, x, c, logits=logits)
        keep = np.asarray(y_chk).astype(pred_act.dtype) != np.asarray(t_vec).astype(pred_act.dtype)
        if not keep.any():
            return float("nan")
        return float(np.mean(hit[keep]))
    return float(np.mean(hit))
