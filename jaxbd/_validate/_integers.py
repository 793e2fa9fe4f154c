"""Integers and sequences of integers: static values, checked on the host (`ValueError`)."""

from collections.abc import Sequence

import numpy as np


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
