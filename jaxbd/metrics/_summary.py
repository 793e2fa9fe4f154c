"""Summaries over seeds."""

import numpy as np

from .._validate import real_numbers


def mean_std(values) -> tuple[float, float]:
    """Mean and (population) standard deviation of a sequence of numbers, NaNs ignored.

    A nested sequence or array is taken over all its entries. NaN entries (e.g. an ASR with no
    eligible input) are skipped; an empty or all-NaN sequence gives `(nan, nan)`. Infinite,
    complex or non-numeric values are a `ValueError` naming `values`.
    """
    a = real_numbers(values, "values").ravel()
    if np.any(np.isinf(a)):
        raise ValueError("`values` contains inf.")
    if a.size == 0 or np.all(np.isnan(a)):
        return float("nan"), float("nan")
    return float(np.nanmean(a)), float(np.nanstd(a))
