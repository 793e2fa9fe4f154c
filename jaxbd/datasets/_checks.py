"""Checks of raw user data (host-side numpy: features, labels) and of the loaders' arguments."""

import math

import numpy as np

from .._validate import check_int_range, check_range


def _check_seed(seed) -> int:
    return check_int_range(seed, "seed", low=0, high=2**32 - 1)


def _check_number(value, name: str, **interval) -> float:
    """A plain number (not a string, bool, complex or array) in `interval` (see `check_range`)."""
    if isinstance(value, (str, bytes)) or np.ndim(value) != 0:
        raise ValueError(f"`{name}` must be a number, got {value!r}.")
    return float(check_range(value, name, **interval))


def _as_feature_matrix(x: np.ndarray, name: str) -> np.ndarray:
    if x.ndim < 2:
        raise ValueError(f"`{name}` must have one row per example, got shape {x.shape}.")
    if np.iscomplexobj(x):
        raise ValueError(
            f"`{name}` is complex ({x.dtype}); pass real features (the imaginary part would be "
            "dropped)."
        )
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise ValueError(f"`{name}` must be numeric, got dtype {x.dtype}.")
    if x.shape[0] == 0 or math.prod(x.shape[1:]) == 0:
        raise ValueError(f"`{name}` is empty (shape {x.shape}).")
    x = x.reshape(x.shape[0], -1).astype(np.float64)
    if not np.all(np.isfinite(x)):
        bad = int(np.sum(~np.isfinite(x)))
        raise ValueError(f"`{name}` contains {bad} NaN or inf values.")
    return x


def _check_labels_vector(y: np.ndarray, x: np.ndarray, name: str) -> None:
    if y.ndim != 1:
        raise ValueError(f"`{name}` must be a vector of labels, got shape {y.shape}.")
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"`{name}` has {y.shape[0]} labels but there are {x.shape[0]} examples.")
    if np.iscomplexobj(y):
        raise ValueError(
            f"`{name}` must hold integer or string class labels, got dtype {y.dtype}."
        )
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)):
            raise ValueError(f"`{name}` contains NaN or inf values.")
        if not np.all(y == np.round(y)):
            raise ValueError(f"`{name}` must hold class labels, got non-integer values.")


def _features_and_labels(x, y, x_name: str, y_name: str) -> tuple[np.ndarray, np.ndarray]:
    """`(x, y)` as a float64 feature matrix (images flattened) and a matching label vector."""
    x = _as_feature_matrix(np.asarray(x), x_name)
    y = np.asarray(y)
    _check_labels_vector(y, x, y_name)
    return x, y
