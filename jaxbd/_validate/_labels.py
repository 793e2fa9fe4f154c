"""Labels and targets of a task: ±1 (binary, scalar score) or 0..c-1 (multi-class)."""

import math

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._arrays import check_matrix
from ._integers import check_int_range
from ._numbers import is_concrete
from ._runtime import runtime_check


def check_labels(
    y,
    x,
    *,
    name: str = "y",
    num_classes: int | None = None,
    training: bool = True,
    traced: bool = False,
) -> tuple[Array, str, int]:
    """Validate labels against `x` and infer the task.

    Concrete labels are checked on the host (`ValueError`). Traced labels (under `jit`/`vmap`)
    are refused unless the caller can take them (`traced=True`: code that traces, not host-level
    code such as the metrics); they cannot decide the task, so `num_classes` must then be given
    (the task is static: a construction's or a `Dataset`'s `num_classes`), and their values are
    checked with `eqx.error_if` (a run-time error naming `name`): a bad label never gives a
    silent answer.

    Returns `(y, task, num_classes)`, where `task` is `"binary"` (labels exactly ±1, returned as
    floats) or `"multiclass"` (integer labels `0..c-1`, `c >= 3`, returned as int32).

    With `training=True` (fitting a model) at least two classes must be present and a
    multi-class label set must be exactly `{0, ..., c-1}` (labels `{0, 1, 5}` would build a
    6-class head with three empty classes). With `num_classes` given (the model's task: 2 for a
    scalar-score model), every label must belong to it: `{0, 1}` labels for a binary model
    are refused (binary labels are -1/+1), and so is a label `>= num_classes`.
    """
    if num_classes is not None:
        num_classes = check_int_range(num_classes, "num_classes", low=2)
    y = jnp.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"`{name}` must be a vector of labels, got shape {y.shape}.")
    if y.shape[0] != x.shape[0]:
        raise ValueError(
            f"`x` and `{name}` have different lengths: {x.shape[0]} examples, {y.shape[0]} labels."
        )
    if not is_concrete(y):
        if not traced:
            raise ValueError(f"`{name}` must be a concrete array (labels decide the task).")
        return _check_traced_labels(y, x, name, num_classes, training)
    y_np = np.asarray(y)
    if np.issubdtype(y_np.dtype, np.floating) and not np.all(np.isfinite(y_np)):
        raise ValueError(f"`{name}` contains NaN or inf values.")
    if y_np.shape[0] < 1:
        raise ValueError(f"`{name}` holds no labels.")
    if np.iscomplexobj(y_np) or y_np.dtype == np.bool_ or y_np.dtype.kind not in "iuf":
        raise ValueError(f"`{name}` must hold real numeric labels, got dtype {y_np.dtype}.")
    values = np.unique(y_np)
    shown = values[:10].tolist()
    fdtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float32
    if not np.all(values == np.round(values)):
        raise ValueError(
            f"`{name}` must hold ±1 (binary) or 0..c-1 (multi-class) labels, got {shown}."
        )
    vals = set(int(v) for v in values.tolist())
    if training and num_classes is None and vals == {1}:
        raise ValueError(f"`{name}` holds a single class ({shown}); need both -1 and +1.")
    if num_classes == 2 or (num_classes is None and vals <= {-1, 1} and -1 in vals):
        if not vals <= {-1, 1}:
            raise ValueError(
                f"`{name}` must hold -1/+1 labels for a binary (scalar-score) task, got {shown}."
            )
        if training and len(vals) < 2:
            raise ValueError(f"`{name}` holds a single class ({shown}); need both -1 and +1.")
        return jnp.asarray(y_np, dtype=fdtype), "binary", 2
    if min(vals) < 0:
        raise ValueError(
            f"`{name}` must hold ±1 (binary) or 0..c-1 (multi-class) labels, got {shown}."
        )
    if num_classes is not None:
        if max(vals) >= num_classes:
            raise ValueError(
                f"`{name}` holds label {max(vals)} but the model has {num_classes} classes "
                f"(labels 0..{num_classes - 1})."
            )
        c = int(num_classes)
    else:
        c = max(vals) + 1
        if c < 3:
            raise ValueError(f"`{name}` looks binary ({shown}) but binary labels must be -1/+1.")
        if training and len(vals) != c:  # (values are distinct ints in 0..c-1: count them)
            missing = [k for k in range(min(c, 10**6)) if k not in vals][:10]
            raise ValueError(
                f"`{name}` must hold every class 0..{c - 1} (multi-class labels), but classes "
                f"{missing} never occur (labels seen: {shown})."
            )
    if training and len(vals) < 2:
        raise ValueError(f"`{name}` holds a single class ({shown}); need at least two.")
    return jnp.asarray(y_np.astype(np.int64), dtype=jnp.int32), "multiclass", c


def _check_traced_labels(y, x, name, num_classes, training):
    """[`check_labels`][] for traced `y`: the task from `num_classes`, values by `eqx.error_if`."""
    if num_classes is None:
        raise ValueError(
            f"`{name}` is traced (under jit/vmap), so its values cannot decide the task: give "
            "`num_classes` (2 for -1/+1 labels, c >= 3 for labels 0..c-1)."
        )
    c = num_classes
    if y.dtype == jnp.bool_ or not (
        jnp.issubdtype(y.dtype, jnp.floating) or jnp.issubdtype(y.dtype, jnp.integer)
    ):
        raise ValueError(f"`{name}` must hold real numeric labels, got dtype {y.dtype}.")
    if y.shape[0] < 1:
        raise ValueError(f"`{name}` holds no labels.")
    fdtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float32
    if c == 2:
        ok = jnp.all((y == 1) | (y == -1))  # NaN fails both comparisons
        y = runtime_check(
            y, ~ok, f"`{name}` must hold -1/+1 labels for a binary (scalar-score) task."
        )
        if training:
            both = jnp.any(y == 1) & jnp.any(y == -1)
            y = runtime_check(y, ~both, f"`{name}` holds a single class; need both -1 and +1.")
        return y.astype(fdtype), "binary", 2
    ok = jnp.all((y >= 0) & (y < c) & (y == jnp.floor(y)))  # NaN fails `y >= 0`
    y = runtime_check(y, ~ok, f"`{name}` must hold integer labels 0..{c - 1} (multi-class task).")
    if training:
        y = runtime_check(
            y, jnp.all(y == y[0]), f"`{name}` holds a single class; need at least two."
        )
    return y.astype(jnp.int32), "multiclass", c


def check_xy(
    x, y, *, num_classes: int | None = None, traced: bool = False
) -> tuple[Array, Array, str, int]:
    """Validate a training set; returns `(x, y, task, num_classes)`.

    `traced=True` accepts traced labels ([`check_labels`][]); they need `num_classes` (the
    task, when known without the labels)."""
    x = check_matrix(x, "x")
    y, task, c = check_labels(y, x, num_classes=num_classes, traced=traced)
    return x, y, task, c


def check_target(target, num_classes: int, name: str = "target"):
    """`target` must be one label of a task with `num_classes` classes: -1 or +1 when
    `num_classes == 2` (scalar-score models), an integer `0..c-1` otherwise. Host check for
    concrete values, `eqx.error_if` for traced ones; returns the checked array (use it)."""
    labels = "-1 or +1" if num_classes == 2 else f"0..{num_classes - 1}"
    what = f"`{name}` must be a label of the base model's task ({labels})"
    if isinstance(target, (str, bytes, bool, np.bool_)) or target is None:
        raise ValueError(f"{what}, got {target!r}.")
    try:
        t = jnp.asarray(target)
    except (TypeError, ValueError):
        raise ValueError(f"{what}, got {target!r}.") from None
    if t.shape != ():
        raise ValueError(f"`{name}` must be one label (a scalar), got shape {t.shape}.")
    if not (jnp.issubdtype(t.dtype, jnp.floating) or jnp.issubdtype(t.dtype, jnp.integer)):
        raise ValueError(f"{what}, a real number, got dtype {t.dtype}.")
    if is_concrete(t):
        v = float(np.asarray(t))
        finite = math.isfinite(v)  # round() overflows on inf and fails on NaN
        ok = (
            v in (-1.0, 1.0)
            if num_classes == 2
            else (finite and v == round(v) and 0 <= v < num_classes)
        )
        if not ok:
            raise ValueError(f"{what}, got {target!r}.")
        return t
    if num_classes == 2:
        ok = (t == 1) | (t == -1)
    else:
        ok = (t >= 0) & (t < num_classes) & (t == t // 1)
    return runtime_check(t, ~ok, what + ".")
