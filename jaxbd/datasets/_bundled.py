"""The bundled data: scikit-learn's real datasets and a synthetic Gaussian mixture."""

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

from .._validate import check_int_range, float_dtype
from ._arrays import from_arrays
from ._cache import cache_file, cached
from ._checks import _check_number, _check_seed
from ._dataset import Dataset


NAMES = ("digits", "breast_cancer", "wine", "iris", "synthetic")


def _sklearn_raw(name: str) -> tuple[np.ndarray, np.ndarray]:
    def fetch():
        from sklearn import datasets as skd

        loader = {
            "digits": skd.load_digits,
            "breast_cancer": skd.load_breast_cancer,
            "wine": skd.load_wine,
            "iris": skd.load_iris,
        }[name]
        bunch = loader()
        return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target)

    def valid(x, y):
        shapes = x.ndim == 2 and y.ndim == 1 and y.shape[0] == x.shape[0]
        return shapes and x.dtype == np.float64 and np.issubdtype(y.dtype, np.integer)

    x, y = cached(cache_file(name), ("x", "y"), valid, fetch)
    return x, y


def gaussian_mixture(
    seed: int = 0,
    *,
    num_samples: int = 1000,
    dim: int = 20,
    num_classes: int = 2,
    separation: float = 3.0,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Synthetic data: `num_classes` isotropic unit Gaussians in `dim` dimensions.

    Class means are drawn as $\text{separation} \cdot u$ for independent uniform unit vectors `u`,
    so classes are separable with margin growing with `separation`. Returns raw `(x, y)`,
    `y` in `0..c-1`; deterministic in `seed`.
    """
    seed = _check_seed(seed)
    num_classes = check_int_range(num_classes, "num_classes", low=2)
    num_samples = check_int_range(num_samples, "num_samples", low=2 * num_classes)
    dim = check_int_range(dim, "dim", low=1)
    separation = _check_number(separation, "separation", low=0.0)
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((num_classes, dim))
    means *= separation / np.linalg.norm(means, axis=1, keepdims=True)
    y = np.arange(num_samples) % num_classes
    rng.shuffle(y)
    x = means[y] + rng.standard_normal((num_samples, dim))
    return x, y


def load(
    name: str,
    *,
    classes: Sequence | None = None,
    seed: int = 0,
    test_fraction: float = 0.25,
    normalize: str = "standardize",
    dtype=jnp.float32,
    **synthetic_kwargs,
) -> Dataset:
    """Load a bundled real dataset (scikit-learn) or synthetic data, split and standardised.

    **Arguments:**

    - `name`: one of `"digits"`, `"breast_cancer"`, `"wine"`, `"iris"`, `"synthetic"`.
    - `classes`: original labels to keep, in order (e.g. `(3, 8)` for a digits pair). Default: all.
    - `seed`: the split (and, for `"synthetic"`, the data) is a deterministic function of it.
    - `test_fraction`: fraction of each class held out, in `(0, 1)`.
    - `normalize`: `"standardize"` (zero mean, unit variance per feature, fitted on the train
      part), `"unit_norm"` (standardise, then scale every example to unit ℓ2 norm, the setting of
      GKVZ Appendix A), `"unit_interval"` (min-max to $[0, 1]$ per feature, fitted on the
      train part; the test part clipped to $[0, 1]$: the input range of
      `jaxbd.lattice_signature`), or `"none"`.
    - `dtype`: floating dtype of `x`.
    - `**synthetic_kwargs`: for `"synthetic"`, passed to [`gaussian_mixture`][].

    **Returns:** a [`Dataset`][].
    """
    if not isinstance(name, str) or name not in NAMES:
        raise ValueError(
            f"Unknown dataset name {name!r}: `name` must be one of {', '.join(NAMES)} "
            "(user files: jaxbd.datasets.load_arrays)."
        )
    seed = _check_seed(seed)
    float_dtype(dtype)
    if name == "synthetic":
        x, y = gaussian_mixture(seed, **synthetic_kwargs)
    else:
        if synthetic_kwargs:
            raise ValueError(
                f"Unexpected arguments for {name!r}: {sorted(synthetic_kwargs)} "
                "(only 'synthetic' takes generator arguments)."
            )
        x, y = _sklearn_raw(name)
    return from_arrays(
        x,
        y,
        classes=classes,
        seed=seed,
        test_fraction=test_fraction,
        normalize=normalize,
        dtype=dtype,
        name=name,
    )
