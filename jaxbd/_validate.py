"""Input validation shared by every public function: one layer, host and traced.

Every check names the argument it rejects. Static facts (shape, dtype, Python numbers) are
checked on the host at call or trace time and raise `ValueError`. Values are checked on the
host when concrete (`ValueError`) and with `eqx.error_if` when traced (under `jit`/`vmap`:
a `RuntimeError` carrying the same message when the program runs). The traced forms return
the checked value, which the caller must use (that is how `eqx.error_if` attaches the check).
"""

import math
from collections.abc import Sequence
from typing import Any, TypeVar, cast

import equinox as eqx
import jax
import jax.core
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array


_T = TypeVar("_T")


def is_concrete(x) -> bool:
    """True when `x` holds a value (not a tracer), so host-side checks are possible."""
    return not isinstance(x, jax.core.Tracer)


def check_positive(value: _T, name: str, *, allow_zero: bool = False) -> _T:
    """`value` must be a finite real number > 0 (or >= 0); host check or `eqx.error_if`.

    Returns `value` (under a trace, the checked value: use it).
    """
    bound = ">= 0" if allow_zero else "> 0"
    if not is_concrete(value):
        v = jnp.asarray(value)
        if not jnp.issubdtype(v.dtype, jnp.floating) and not jnp.issubdtype(v.dtype, jnp.integer):
            raise ValueError(f"`{name}` must be a real number, got dtype {v.dtype}.")
        bad = ~jnp.isfinite(v) | (v < 0) | ((v == 0) & (not allow_zero))
        return eqx.error_if(value, jnp.any(bad), f"`{name}` must be a finite number {bound}.")
    if isinstance(value, (bool, np.bool_)) or np.iscomplexobj(np.asarray(value)):
        raise ValueError(f"`{name}` must be a real number {bound}, got {value!r}.")
    try:
        v = float(np.asarray(value))
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a finite number {bound}, got {value!r}.") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"`{name}` must be a finite number {bound}, got {value!r}.")
    return value


def check_range(
    value: _T,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> _T:
    """`value` (a number, host or traced) must be finite and within the stated interval.

    Returns `value` (under a trace, the checked value: use it).
    """
    lo = "" if low is None else ("(" if low_open else "[") + f"{low}"
    hi = "" if high is None else f"{high}" + (")" if high_open else "]")
    what = f"`{name}` must be a finite number in {lo or '(-inf'}, {hi or 'inf)'}"
    if not is_concrete(value):
        v = jnp.asarray(value)
        bad = ~jnp.isfinite(v)
        if low is not None:
            bad = bad | ((v <= low) if low_open else (v < low))
        if high is not None:
            bad = bad | ((v >= high) if high_open else (v > high))
        return eqx.error_if(value, jnp.any(bad), what + ".")
    if isinstance(value, (bool, np.bool_)) or np.iscomplexobj(np.asarray(value)):
        raise ValueError(f"{what}, got {value!r}.")
    try:
        v = float(np.asarray(value))
    except (TypeError, ValueError):
        raise ValueError(f"{what}, got {value!r}.") from None
    ok = math.isfinite(v)
    if ok and low is not None:
        ok = v > low if low_open else v >= low
    if ok and high is not None:
        ok = v < high if high_open else v <= high
    if not ok:
        raise ValueError(f"{what}, got {value!r}.")
    return value


def check_int_range(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """Raise `ValueError` unless `value` is an integer within `[low, high]`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"`{name}` must be an integer, got {value!r}.")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"`{name}` must be >= {low}, got {value}.")
    if high is not None and value > high:
        raise ValueError(f"`{name}` must be <= {high}, got {value}.")
    return value


def check_floating(x, name: str) -> Array:
    """`x` must be a real floating array: integer, boolean and complex inputs are refused.

    (A silent cast would truncate an int key, or drop an imaginary part.) Returns `jnp.asarray(x)`.
    """
    if isinstance(x, (str, bytes)) or x is None:
        raise ValueError(f"`{name}` must be a floating array, got {type(x).__name__}.")
    try:
        x = jnp.asarray(x)
    except (TypeError, ValueError) as e:
        raise ValueError(f"`{name}` must be a floating array: {e}") from None
    if not jnp.issubdtype(x.dtype, jnp.floating):
        kind = "complex" if jnp.issubdtype(x.dtype, jnp.complexfloating) else str(x.dtype)
        raise ValueError(
            f"`{name}` must have a real floating dtype, got {kind} ({x.dtype}); "
            "cast it explicitly, e.g. x.astype(jnp.float32)."
        )
    return x


def check_finite(x, name: str) -> Array:
    """Reject NaN/inf in `x`: `ValueError` for concrete arrays, `eqx.error_if` under jit.

    Returns `x` (use the result, as `eqx.error_if` requires).
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        return x
    if is_concrete(x):
        # numpy, not jnp: inside a `jit` trace even concrete (closed-over) arrays would be traced.
        if not np.all(np.isfinite(np.asarray(x))):
            raise ValueError(f"`{name}` contains NaN or inf values.")
        return x
    return eqx.error_if(x, ~jnp.all(jnp.isfinite(x)), f"`{name}` contains NaN or inf values.")


def check_matrix(x, name: str, *, dim: int | None = None) -> Array:
    """`x` must be a finite floating matrix `(n, d)`, `n, d >= 1` (with `d == dim` if given)."""
    x = check_floating(x, name)
    if x.ndim != 2:
        raise ValueError(f"`{name}` must have shape (num_examples, dim), got shape {x.shape}.")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"`{name}` must have {dim} columns, got shape {x.shape}.")
    if x.shape[0] < 1:
        raise ValueError(f"`{name}` holds no examples (shape {x.shape}).")
    if x.shape[1] < 1:
        raise ValueError(f"`{name}` has no features (shape {x.shape}).")
    return check_finite(x, name)


def check_example(x, dim: int, name: str = "x") -> Array:
    """`x` must be one finite floating example of shape `(dim,)` (host or `eqx.error_if`).

    Shape and dtype raise at call/trace time; NaN/inf raise on the host or, under a trace,
    when the program runs. Returns the checked `x` (use it).
    """
    x = check_floating(x, name)
    if x.shape != (dim,):
        raise ValueError(
            f"`{name}` must be one example of shape ({dim},), got shape {x.shape}; "
            "batch with jax.vmap."
        )
    return check_finite(x, name)


def check_labels(
    y, x, *, name: str = "y", num_classes: int | None = None, training: bool = True
) -> tuple[Array, str, int]:
    """Validate labels against `x` and infer the task.

    Returns `(y, task, num_classes)`, where `task` is `"binary"` (labels exactly ±1, returned as
    floats) or `"multiclass"` (integer labels `0..c-1`, `c >= 3`, returned as int32).

    With `training=True` (fitting a model) at least two classes must be present and a
    multi-class label set must be exactly `{0, ..., c-1}` (labels `{0, 1, 5}` would build a
    6-class head with three empty classes). With `num_classes` given (the model's task: 2 for a
    scalar-score model), every label must belong to it: `{0, 1}` labels for a binary model
    are refused (binary labels are -1/+1), and so is a label `>= num_classes`.
    """
    y = jnp.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"`{name}` must be a vector of labels, got shape {y.shape}.")
    if y.shape[0] != x.shape[0]:
        raise ValueError(
            f"`x` and `{name}` have different lengths: {x.shape[0]} examples, {y.shape[0]} labels."
        )
    if not is_concrete(y):
        raise ValueError(f"`{name}` must be a concrete array (labels decide the task).")
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


def check_xy(x, y) -> tuple[Array, Array, str, int]:
    """Validate a training set; returns `(x, y, task, num_classes)`."""
    x = check_matrix(x, "x")
    y, task, c = check_labels(y, x)
    return x, y, task, c


def as_key(key, name: str = "key") -> Array:
    """Accept one typed (`jax.random.key`) or raw (`jax.random.PRNGKey`) JAX PRNG key.

    Anything else (an int seed, a float array, a batch of keys, a wrong shape) raises
    `ValueError` naming `name`. Works on tracers (only dtype and shape are read).
    """
    hint = "pass jax.random.key(seed)"
    if isinstance(key, (bool, int, float, np.integer, np.floating)) or key is None:
        raise ValueError(f"`{name}` must be a JAX PRNG key ({hint}), got {key!r}.")
    if not isinstance(key, (jax.Array, np.ndarray)):
        raise ValueError(f"`{name}` must be a JAX PRNG key ({hint}), got {type(key).__name__}.")
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(
                f"`{name}` must be a single PRNG key, got a batch of shape {key.shape} "
                "(use jax.vmap over the keys)."
            )
    elif key.dtype != np.uint32 or key.shape != (2,):
        raise ValueError(
            f"`{name}` must be a JAX PRNG key ({hint}), got an array of dtype {key.dtype} and "
            f"shape {key.shape}."
        )
    return key if isinstance(key, jax.Array) else jnp.asarray(key)


def sequence_of_ints(values: Sequence[int] | None, name: str) -> tuple[int, ...] | None:
    if values is None:
        return None
    if isinstance(values, (str, bytes)):
        raise ValueError(f"`{name}` must be a sequence of integers, got {values!r}.")
    try:
        out = tuple(check_int_range(v, f"{name}[{i}]") for i, v in enumerate(values))
    except TypeError:
        raise ValueError(f"`{name}` must be a sequence of integers, got {values!r}.") from None
    if len(set(out)) != len(out):
        raise ValueError(f"`{name}` has repeated entries: {values}.")
    return out


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
    return eqx.error_if(t, ~ok, what + ".")


def check_scalar(value: _T, name: str) -> _T:
    """`value` must be one number (a Python number or a 0-d array, possibly traced)."""
    if isinstance(value, (str, bytes)) or value is None or jnp.ndim(cast(Any, value)) != 0:
        shape = getattr(value, "shape", None)
        got = f"an array of shape {shape}" if shape is not None else repr(value)
        raise ValueError(f"`{name}` must be a scalar, got {got}.")
    return value


def float_dtype(dtype, name: str = "dtype") -> np.dtype:
    """`dtype` as a real floating dtype (`None`: JAX's default float, float64 under x64)."""
    if dtype is None:
        return jnp.zeros(()).dtype
    try:
        dtype = jnp.dtype(dtype)
    except TypeError:
        raise ValueError(f"`{name}` must be a floating dtype, got {dtype!r}.") from None
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"`{name}` must be a real floating dtype, got {dtype}.")
    return dtype


def check_static_number(value, name: str, *, allow_zero: bool = False) -> None:
    """A static field (for `__check_init__`): a real number > 0 (>= 0), never a str/bool/array."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be a number {bound}, got {value!r}.")
    check_positive(value, name, allow_zero=allow_zero)


def static_number(value, name: str, *, allow_zero: bool = False) -> float:
    """An argument that becomes a static field, as a float: concrete 0-d arrays are accepted,
    tracers refused, then [`check_static_number`][]."""
    if isinstance(value, jax.core.Tracer):
        raise ValueError(
            f"`{name}` must be a concrete number (it becomes a static field of a model or a "
            "key); do not pass it through jit/vmap."
        )
    if isinstance(value, (jax.Array, np.ndarray)) and value.ndim == 0:
        value = value.item() if jnp.issubdtype(value.dtype, jnp.number) else value
    check_static_number(value, name, allow_zero=allow_zero)
    return float(value)


def check_array_field(a, name: str, *, ndim: int | None = None) -> None:
    """An array field (for `__check_init__`, also run on loading a file): real floating, `ndim`
    dimensions if given, finite when concrete (under `jit`/`vmap` only dtype and shape)."""
    dtype = getattr(a, "dtype", None)
    if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(
            f"`{name}` must be a real floating array, got {type(a).__name__} of dtype {dtype}."
        )
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"`{name}` must have {ndim} dimension(s), got shape {a.shape}.")
    if is_concrete(a) and isinstance(a, (jax.Array, np.ndarray)):
        if not np.all(np.isfinite(np.asarray(a))):
            raise ValueError(f"`{name}` contains NaN or inf values.")


def real_numbers(values, name: str) -> np.ndarray:
    """`values` (number, nested sequence, array) as float64; str/None/bool/complex/object
    refused naming `name`; NaN and inf pass (the caller decides)."""
    try:
        raw = np.asarray(values)
    except (TypeError, ValueError) as e:
        raise ValueError(f"`{name}` must be real numbers: {e}") from None
    if raw.dtype == np.bool_ or raw.dtype.kind not in "iuf":  # also str, bytes, None, complex
        got = repr(values) if raw.ndim == 0 else f"dtype {raw.dtype}"
        raise ValueError(f"`{name}` must be real numbers, got {got}.")
    return raw.astype(np.float64)


def output_shape(model, example, name: str = "model"):
    """`jax.eval_shape(model, example)`; a model that cannot take `example` raises `ValueError`
    naming `name` (a jaxtyping `TypeCheckError`, already clear, passes through)."""
    try:
        return jax.eval_shape(model, example)
    except (ValueError, TypeError) as e:
        if type(e).__name__ == "TypeCheckError":
            raise
        raise ValueError(
            f"`{name}` cannot be applied to one example of shape {jnp.shape(example)}: {e}"
        ) from e


def check_host_floating(x, name: str) -> np.ndarray:
    """[`check_floating`][] on the host: `x` as a numpy array of its own floating dtype (float64
    stays float64 whatever `jax_enable_x64` says, and nothing moves to a device)."""
    try:
        a = None if isinstance(x, (str, bytes)) else np.asarray(x)
    except (TypeError, ValueError):
        a = None
    if a is None or not jnp.issubdtype(a.dtype, jnp.floating):
        check_floating(x, name)  # raises the error naming `name`
        raise ValueError(f"`{name}` must be a real floating array, got {type(x).__name__}.")
    return a


def check_instance(value, cls: type[_T], name: str, origin: str) -> _T:
    """`value` must be a `cls` (a key or model of one construction); the error names `name`
    and where a `cls` comes from (`origin`, e.g. `"checksum.backdoor"`)."""
    if not isinstance(value, cls):
        raise ValueError(
            f"`{name}` must be a {cls.__name__} (from {origin}), got {type(value).__name__}."
        )
    return value
