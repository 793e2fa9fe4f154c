"""Numbers, concrete or traced: a host `ValueError` when concrete, a run-time check under a trace
(`_runtime.runtime_check`: `eqx.error_if`, or `checkify` inside the library's own programs).

The traced forms return the checked value, which the caller must use (that is how
`eqx.error_if` attaches the check).
"""

import math
from typing import Any, TypeVar, cast

import jax
import jax.core
import jax.numpy as jnp
import numpy as np

from ._runtime import runtime_check


_T = TypeVar("_T")


def is_concrete(x) -> bool:
    """True when `x` holds a value (not a tracer), so host-side checks are possible."""
    return not isinstance(x, jax.core.Tracer)


def _host_float(value, not_real: str, not_number: str) -> float:
    """A concrete `value` as a Python float: a bool or complex `value` raises `ValueError`
    with `not_real`, one that `float` cannot read with `not_number` (each + `, got {value!r}.`)."""
    if isinstance(value, (bool, np.bool_)) or np.iscomplexobj(np.asarray(value)):
        raise ValueError(f"{not_real}, got {value!r}.")
    try:
        return float(np.asarray(value))
    except (TypeError, ValueError):
        raise ValueError(f"{not_number}, got {value!r}.") from None


def check_positive(value: _T, name: str, *, allow_zero: bool = False) -> _T:
    """`value` must be a finite real number > 0 (or >= 0); host check or `eqx.error_if`.

    Returns `value` (under a trace, the checked value: use it).
    """
    bound = ">= 0" if allow_zero else "> 0"
    what = f"`{name}` must be a finite number {bound}"
    if not is_concrete(value):
        v = jnp.asarray(value)
        if not jnp.issubdtype(v.dtype, jnp.floating) and not jnp.issubdtype(v.dtype, jnp.integer):
            raise ValueError(f"`{name}` must be a real number, got dtype {v.dtype}.")
        bad = ~jnp.isfinite(v) | (v < 0) | ((v == 0) & (not allow_zero))
        return runtime_check(value, bad, what + ".")
    v = _host_float(value, f"`{name}` must be a real number {bound}", what)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{what}, got {value!r}.")
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
        return runtime_check(value, bad, what + ".")
    v = _host_float(value, what, what)
    ok = math.isfinite(v)
    if ok and low is not None:
        ok = v > low if low_open else v >= low
    if ok and high is not None:
        ok = v < high if high_open else v <= high
    if not ok:
        raise ValueError(f"{what}, got {value!r}.")
    return value


def check_scalar(value: _T, name: str) -> _T:
    """`value` must be one number (a Python number or a 0-d array, possibly traced)."""
    if isinstance(value, (str, bytes)) or value is None or jnp.ndim(cast(Any, value)) != 0:
        shape = getattr(value, "shape", None)
        got = f"an array of shape {shape}" if shape is not None else repr(value)
        raise ValueError(f"`{name}` must be a scalar, got {got}.")
    return value


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


def positive_numbers(values, name: str, *, allow_zero: bool = False) -> tuple[float, ...]:
    """A sequence of concrete finite numbers `> 0` (or `>= 0`) as floats, each checked by
    [`check_positive`][]; the error names `name` and the index of the first bad entry."""
    bound = ">= 0" if allow_zero else "> 0"
    if isinstance(values, (str, bytes)) or values is None:
        raise ValueError(f"`{name}` must be a sequence of numbers {bound}, got {values!r}.")
    try:
        vals = list(values)
    except TypeError:
        raise ValueError(
            f"`{name}` must be a sequence of numbers {bound}, got {values!r}."
        ) from None
    out = []
    for i, v in enumerate(vals):
        if not is_concrete(v):
            raise ValueError(f"`{name}` must hold concrete numbers (index {i} is traced).")
        if isinstance(v, (str, bytes)) or np.ndim(v) != 0:
            raise ValueError(f"`{name}` must hold numbers {bound}, got {v!r} at index {i}.")
        try:
            out.append(float(check_positive(v, f"{name}[{i}]", allow_zero=allow_zero)))
        except ValueError:
            raise ValueError(
                f"`{name}` must hold finite numbers {bound}, got {v!r} at index {i}."
            ) from None
    return tuple(out)
