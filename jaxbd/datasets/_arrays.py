"""A `Dataset` from raw arrays: the classes kept, a stratified split, the labels."""

import math
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

from .._validate import float_dtype
from ._cache import cache_file, cached, digest
from ._checks import _check_number, _check_seed, _features_and_labels
from ._dataset import Dataset
from ._normalize import _check_normalize, normalize_split


def _classes(classes, y: np.ndarray, y_test: np.ndarray | None) -> tuple:
    """The class labels to keep, in order (default: every label of `y`), checked against `y`."""
    present = np.unique(y)
    if classes is None:
        labels = present.tolist()
        if len(labels) < 2:
            raise ValueError(
                f"`y` holds a single class ({labels[0]!r}); need at least two classes."
            )
        # Without `classes`, a test label that never occurs in training would be dropped
        # silently (with `classes` given, other labels are dropped on purpose).
        unseen = [] if y_test is None else sorted(set(np.unique(y_test).tolist()) - set(labels))
        if unseen:
            raise ValueError(
                f"`y_test` holds labels {unseen[:10]} that never occur in `y` "
                f"(training classes: {labels[:10]}); pass `classes` to keep a subset."
            )
        return tuple(labels)
    bad = f"`classes` must be a sequence of labels (e.g. (3, 8)), got {classes!r}."
    if isinstance(classes, (str, bytes, dict)):
        raise ValueError(bad)
    try:
        classes = tuple(np.asarray(c).item() for c in classes)
    except (TypeError, ValueError):
        raise ValueError(bad) from None
    if len(set(classes)) != len(classes):
        raise ValueError(f"`classes` has repeated entries: {classes}.")
    missing = [c for c in classes if c not in set(present.tolist())]
    if missing:
        raise ValueError(
            f"`classes` names labels not in the data: {missing}; present: {present.tolist()}."
        )
    if len(classes) < 2:
        raise ValueError(f"`classes` must name at least two classes, got {classes}.")
    return classes


def _select(x: np.ndarray, y: np.ndarray, classes: tuple) -> tuple[np.ndarray, np.ndarray]:
    """The rows of `classes`, labelled by their index in `classes`."""
    keep = np.isin(y, np.asarray(classes))
    index = {c: i for i, c in enumerate(classes)}
    return x[keep], np.asarray([index[v] for v in y[keep].tolist()], dtype=np.int64)


def _split(x: np.ndarray, yi: np.ndarray, classes: tuple, test_fraction: float, seed: int):
    """A stratified split `(x_tr, x_te, y_tr, y_te)`, deterministic in `seed`
    (scikit-learn's `train_test_split`)."""
    counts = np.bincount(yi, minlength=len(classes))
    if counts.min() < 2:
        rare = classes[int(np.argmin(counts))]
        raise ValueError(
            f"`y`: class {rare!r} has {int(counts.min())} example(s); a stratified split "
            "needs at least 2 per class (or pass `x_test`, `y_test`)."
        )
    n, c = len(yi), len(classes)
    n_test = math.ceil(test_fraction * n)
    if n_test < c or n - n_test < c:
        raise ValueError(
            f"`test_fraction` = {test_fraction} gives {n_test} test and {n - n_test} "
            f"training examples out of {n}: each part needs at least one example of each "
            f"of the {c} classes."
        )

    # The split depends only on the labels and the arguments: cache its indices (see _cache).
    def split():
        from sklearn.model_selection import train_test_split

        idx = np.arange(n)
        return train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=yi)

    def valid(train, test):
        both = np.sort(np.concatenate([train, test]))
        return len(test) == n_test and np.array_equal(both, np.arange(n))

    key = digest(yi, np.float64(test_fraction), np.int64(seed))
    train, test = cached(cache_file(f"split-{key}"), ("train", "test"), valid, split)
    return x[train], x[test], yi[train], yi[test]


def from_arrays(
    x,
    y,
    *,
    x_test=None,
    y_test=None,
    classes: Sequence | None = None,
    seed: int = 0,
    test_fraction: float = 0.25,
    normalize: str = "standardize",
    dtype=jnp.float32,
    name: str = "arrays",
) -> Dataset:
    """Build a [`Dataset`][] from raw arrays (labels of any integer/string kind).

    When `x_test, y_test` are given they are the test part; otherwise a stratified split with
    `test_fraction` is drawn with `seed`. Images are flattened to vectors.
    """
    seed = _check_seed(seed)
    dtype = float_dtype(dtype)
    _check_normalize(normalize)
    x, y = _features_and_labels(x, y, "x", "y")
    if (x_test is None) != (y_test is None):
        missing = "y_test" if y_test is None else "x_test"
        raise ValueError(f"Give both `x_test` and `y_test`, or neither (`{missing}` is missing).")
    test = None if x_test is None else _features_and_labels(x_test, y_test, "x_test", "y_test")
    if test is None:
        interval = dict(low=0.0, high=1.0, low_open=True, high_open=True)
        test_fraction = _check_number(test_fraction, "test_fraction", **interval)
    elif test[0].shape[1] != x.shape[1]:
        raise ValueError(f"`x_test` has {test[0].shape[1]} features but `x` has {x.shape[1]}.")
    classes = _classes(classes, y, None if test is None else test[1])
    x, yi = _select(x, y, classes)
    if test is None:
        x_tr, x_te, y_tr, y_te = _split(x, yi, classes, test_fraction, seed)
    else:
        x_tr, y_tr = x, yi
        x_te, y_te = _select(*test, classes)
        if x_te.shape[0] == 0:
            raise ValueError(
                f"`y_test` holds none of the classes {classes}: the test part is empty."
            )
    x_tr, x_te, mean, scale = normalize_split(x_tr, x_te, normalize)

    def labels(yv):
        if len(classes) == 2:
            return jnp.asarray(np.where(yv == 1, 1.0, -1.0), dtype=dtype)
        return jnp.asarray(yv, dtype=jnp.int32)

    return Dataset(
        x_train=jnp.asarray(x_tr, dtype=dtype),
        y_train=labels(y_tr),
        x_test=jnp.asarray(x_te, dtype=dtype),
        y_test=labels(y_te),
        name=name,
        classes=classes,
        mean=mean,
        scale=scale,
    )
