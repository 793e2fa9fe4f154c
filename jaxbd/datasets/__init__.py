"""Real and synthetic datasets, user arrays (.npz / IDX), splitting and standardising.

Every loader returns a [`Dataset`][]: a deterministic stratified split (a function of `seed`),
standardisation fitted on the training part only, labels `-1.0/+1.0` for two classes and
`0..c-1` (int32) otherwise.

The package is split by idea behind this one public surface: `_dataset` (the record),
`_checks` (checks of raw features, labels and arguments), `_normalize`, `_arrays`
([`from_arrays`][]: classes, split, labels), `_bundled` (scikit-learn's datasets and the
synthetic mixture) and `_files` (`.npz` and IDX files).
"""

from ._arrays import from_arrays as from_arrays
from ._bundled import (
    NAMES as NAMES,
    gaussian_mixture as gaussian_mixture,
    load as load,
)
from ._dataset import Dataset as Dataset
from ._files import load_arrays as load_arrays, read_idx as read_idx


__all__ = [
    "Dataset",
    "NAMES",
    "load",
    "load_arrays",
    "from_arrays",
    "gaussian_mixture",
    "read_idx",
]
