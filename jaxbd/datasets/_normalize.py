"""Normalisation fitted on the training part only, then applied to both parts."""

import numpy as np


NORMALIZE = ("standardize", "unit_norm", "unit_interval", "none")


def _check_normalize(normalize) -> str:
    if not isinstance(normalize, str) or normalize not in NORMALIZE:
        raise ValueError(f"`normalize` must be one of {NORMALIZE}, got {normalize!r}.")
    return normalize


def _standardize(x_tr: np.ndarray, x_te: np.ndarray):
    """Zero mean, unit variance per feature (a constant feature keeps scale 1)."""
    mean = x_tr.mean(axis=0)
    scale = x_tr.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    return (x_tr - mean) / scale, (x_te - mean) / scale, mean, scale


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _unit_interval(x_tr: np.ndarray, x_te: np.ndarray):
    """Min-max scaling to [0, 1] per feature, fitted on the training part (a constant feature
    maps to 0); the test part is clipped to [0, 1]. Returns `(x_tr, x_te, low, span)`."""
    low = x_tr.min(axis=0)
    span = x_tr.max(axis=0) - low
    span = np.where(span > 1e-12, span, 1.0)
    x_tr = np.clip((x_tr - low) / span, 0.0, 1.0)  # clip: rounding must not leave [0, 1]
    return x_tr, np.clip((x_te - low) / span, 0.0, 1.0), low, span


def normalize_split(
    x_tr: np.ndarray, x_te: np.ndarray, how: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """`(x_tr, x_te, mean, scale)` normalised as `how` says (`mean`, `scale`: None for `"none"`).

    `"standardize"`; `"unit_norm"` (standardise, then every example to unit ℓ2 norm, GKVZ
    Appendix A); `"unit_interval"` (`mean`, `scale` are the training minimum and range)."""
    if how == "unit_interval":
        return _unit_interval(x_tr, x_te)
    if how == "none":
        return x_tr, x_te, None, None
    x_tr, x_te, mean, scale = _standardize(x_tr, x_te)
    if how == "unit_norm":
        x_tr, x_te = _unit_rows(x_tr), _unit_rows(x_te)
    return x_tr, x_te, mean, scale
