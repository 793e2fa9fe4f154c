"""Real and synthetic datasets, user arrays (.npz / IDX), splitting and standardising.

Every loader returns a [`Dataset`][]: a deterministic stratified split (a function of `seed`),
standardisation fitted on the training part only, labels `-1.0/+1.0` for two classes and
`0..c-1` (int32) otherwise.
"""

import dataclasses
import gzip
import math
import os
import struct
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._validate import check_int_range


__all__ = [
    "Dataset",
    "NAMES",
    "load",
    "load_arrays",
    "from_arrays",
    "gaussian_mixture",
    "read_idx",
]

NAMES = ("digits", "breast_cancer", "wine", "iris", "synthetic")
_NORMALIZE = ("standardize", "unit_norm", "unit_interval", "none")


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A train/test split.

    **Fields:**

    - `x_train`, `x_test`: float arrays `(n, d)`.
    - `y_train`, `y_test`: `±1.0` (two classes, same dtype as `x`) or int32 `0..c-1`.
    - `name`: where the data came from.
    - `classes`: the original class labels, in the order that defines the new labels (for two
      classes: `classes[0] -> -1`, `classes[1] -> +1`).
    - `mean`, `scale`: the normalisation fitted on the training part (`x = (raw - mean) / scale`;
      for `"unit_interval"`: the training minimum and range, then clipped to [0, 1]).
    """

    x_train: Float[Array, "n_train d"]
    y_train: Array
    x_test: Float[Array, "n_test d"]
    y_test: Array
    name: str
    classes: tuple
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None

    def __post_init__(self):
        # Shapes and dtypes only (cheap): the loaders build consistent datasets; this refuses
        # a hand-made one whose parts do not fit together.
        for xn, yn in (("x_train", "y_train"), ("x_test", "y_test")):
            xa, ya = getattr(self, xn), getattr(self, yn)
            dtype = getattr(xa, "dtype", None)
            if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
                raise ValueError(f"`{xn}` must be a floating array, got dtype {dtype}.")
            if xa.ndim != 2:
                raise ValueError(f"`{xn}` must have shape (n, d), got {xa.shape}.")
            if getattr(ya, "ndim", None) != 1 or ya.shape[0] != xa.shape[0]:
                raise ValueError(
                    f"`{yn}` must be a vector of {xa.shape[0]} labels (one per row of `{xn}`), "
                    f"got shape {getattr(ya, 'shape', None)}."
                )
        if self.x_test.shape[1] != self.x_train.shape[1]:
            raise ValueError(
                f"`x_test` has {self.x_test.shape[1]} features but `x_train` has "
                f"{self.x_train.shape[1]}."
            )

    @property
    def dim(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def is_binary(self) -> bool:
        return self.num_classes == 2

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, train={tuple(self.x_train.shape)}, "
            f"test={tuple(self.x_test.shape)}, classes={self.classes})"
        )


def _sklearn_raw(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets as skd

    loader = {
        "digits": skd.load_digits,
        "breast_cancer": skd.load_breast_cancer,
        "wine": skd.load_wine,
        "iris": skd.load_iris,
    }[name]
    bunch = loader()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target)


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
    if (
        isinstance(separation, (bool, np.bool_, str, bytes))
        or np.iscomplexobj(separation)
        or np.ndim(separation) != 0
    ):
        raise ValueError(f"`separation` must be a finite number >= 0, got {separation!r}.")
    if not np.isfinite(float(separation)) or float(separation) < 0:
        raise ValueError(f"`separation` must be a finite number >= 0, got {separation}.")
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
    _float_dtype(dtype)
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
    dtype = _float_dtype(dtype)
    if not isinstance(normalize, str) or normalize not in _NORMALIZE:
        raise ValueError(f"`normalize` must be one of {_NORMALIZE}, got {normalize!r}.")
    x = _as_feature_matrix(np.asarray(x), "x")
    y = np.asarray(y)
    _check_labels_vector(y, x, "y")
    if (x_test is None) != (y_test is None):
        missing = "y_test" if y_test is None else "x_test"
        raise ValueError(f"Give both `x_test` and `y_test`, or neither (`{missing}` is missing).")
    if x_test is not None:
        x_test = _as_feature_matrix(np.asarray(x_test), "x_test")
        y_test = np.asarray(y_test)
        _check_labels_vector(y_test, x_test, "y_test")
        if x_test.shape[1] != x.shape[1]:
            raise ValueError(f"`x_test` has {x_test.shape[1]} features but `x` has {x.shape[1]}.")
    else:
        tf = test_fraction
        if isinstance(tf, (bool, np.bool_, str, bytes)) or np.ndim(tf) != 0 or np.iscomplexobj(tf):
            raise ValueError(f"`test_fraction` must be a number in (0, 1), got {tf!r}.")
        if not (0.0 < float(tf) < 1.0):
            raise ValueError(f"`test_fraction` must lie in (0, 1), got {tf}.")

    present = np.unique(y)
    classes_given = classes is not None
    if classes is None:
        classes = tuple(present.tolist())
        if len(classes) < 2:
            raise ValueError(
                f"`y` holds a single class ({classes[0]!r}); need at least two classes."
            )
    else:
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
    if x_test is not None and not classes_given:
        # With `classes` given, other labels are dropped on purpose; without it, a test label
        # that never occurs in training would be dropped silently.
        unseen = sorted(set(np.unique(y_test).tolist()) - set(present.tolist()))
        if unseen:
            raise ValueError(
                f"`y_test` holds labels {unseen[:10]} that never occur in `y` "
                f"(training classes: {present.tolist()[:10]}); pass `classes` to keep a subset."
            )

    def select(xa, ya):
        keep = np.isin(ya, np.asarray(classes))
        xa, ya = xa[keep], ya[keep]
        index = {c: i for i, c in enumerate(classes)}
        yi = np.asarray([index[v] for v in ya.tolist()], dtype=np.int64)
        return xa, yi

    x, yi = select(x, y)
    if x_test is None:
        from sklearn.model_selection import train_test_split

        counts = np.bincount(yi, minlength=len(classes))
        if counts.min() < 2:
            rare = classes[int(np.argmin(counts))]
            raise ValueError(
                f"`y`: class {rare!r} has {int(counts.min())} example(s); a stratified split "
                "needs at least 2 per class (or pass `x_test`, `y_test`)."
            )
        n, c = len(yi), len(classes)
        n_test = math.ceil(float(test_fraction) * n)
        if n_test < c or n - n_test < c:
            raise ValueError(
                f"`test_fraction` = {test_fraction} gives {n_test} test and {n - n_test} "
                f"training examples out of {n}: each part needs at least one example of each "
                f"of the {c} classes."
            )
        x_tr, x_te, y_tr, y_te = train_test_split(
            x, yi, test_size=float(test_fraction), random_state=seed, stratify=yi
        )
    else:
        x_tr, y_tr = x, yi
        x_te, y_te = select(x_test, y_test)
        if x_te.shape[0] == 0:
            raise ValueError(
                f"`y_test` holds none of the classes {classes}: the test part is empty."
            )

    mean = scale = None
    if normalize in ("standardize", "unit_norm"):
        mean = x_tr.mean(axis=0)
        scale = x_tr.std(axis=0)
        scale = np.where(scale > 1e-12, scale, 1.0)
        x_tr = (x_tr - mean) / scale
        x_te = (x_te - mean) / scale
    if normalize == "unit_norm":
        x_tr = _unit_rows(x_tr)
        x_te = _unit_rows(x_te)
    if normalize == "unit_interval":
        x_tr, x_te, mean, scale = _unit_interval(x_tr, x_te)

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


def _check_seed(seed) -> int:
    return check_int_range(seed, "seed", low=0, high=2**32 - 1)


def _float_dtype(dtype):
    """`dtype` must be a real floating dtype: an integer dtype would truncate standardised
    features (and ±1 labels are stored in it too)."""
    try:
        dt = jnp.dtype(dtype)
    except TypeError:
        raise ValueError(f"`dtype` must be a floating dtype, got {dtype!r}.") from None
    if not jnp.issubdtype(dt, jnp.floating):
        raise ValueError(
            f"`dtype` must be a real floating dtype (e.g. jnp.float32), got {dt}: the "
            "standardised features would be truncated or cast."
        )
    return dt


def _unit_interval(x_tr: np.ndarray, x_te: np.ndarray):
    """Min-max scaling to [0, 1] per feature, fitted on the training part (a constant feature
    maps to 0); the test part is clipped to [0, 1]. Returns `(x_tr, x_te, low, span)`."""
    low = x_tr.min(axis=0)
    span = x_tr.max(axis=0) - low
    span = np.where(span > 1e-12, span, 1.0)
    x_tr = np.clip((x_tr - low) / span, 0.0, 1.0)  # clip: rounding must not leave [0, 1]
    return x_tr, np.clip((x_te - low) / span, 0.0, 1.0), low, span


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


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


# --------------------------------------------------------------------------- user files

_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format; `.gz` accepted) into a numpy array.

    Raises `ValueError` naming the file for a bad magic number, an unknown type code, or a
    payload whose length does not match the header.
    """
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:  # gzip: BadGzipFile is an OSError; truncated: EOFError
        raise ValueError(f"Cannot read IDX file `path` = {path!r}: {e}") from e
    if len(data) < 4:
        raise ValueError(
            f"`path` = {path!r} is not an IDX file: shorter than its 4-byte magic number."
        )
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or code not in _IDX_DTYPES or ndim < 1:
        raise ValueError(
            f"`path` = {path!r} is not an IDX file: bad magic number {data[:4].hex()} "
            "(expected 0000 + type code 08/09/0B/0C/0D/0E + ndim)."
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"`path` = {path!r}: truncated IDX header ({len(data)} bytes).")
    shape = struct.unpack(">" + "I" * ndim, data[4:header])
    dtype = _IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    payload = len(data) - header
    if payload != expected:
        raise ValueError(
            f"`path` = {path!r}: IDX header says shape {shape} ({expected} bytes) but the file holds "
            f"{payload} bytes of data (truncated or corrupted)."
        )
    return (
        np.frombuffer(data, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def load_arrays(
    path: str | os.PathLike,
    *,
    labels: str | os.PathLike | None = None,
    classes: Sequence | None = None,
    seed: int = 0,
    test_fraction: float = 0.25,
    normalize: str = "standardize",
    dtype=jnp.float32,
) -> Dataset:
    """Load user data from a `.npz` file or a pair of IDX files into a [`Dataset`][].

    **Arguments:**

    - `path`: a `.npz` holding arrays `x` and `y` (and optionally `x_test`, `y_test` for a fixed
      split), or an IDX images file (MNIST format, `.gz` accepted).
    - `labels`: for IDX input, the IDX labels file.
    - the rest as in [`load`][].

    Malformed files raise `ValueError` saying which array is wrong and why.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"No such file: `path` = {path!r}.")
    _check_seed(seed)
    _float_dtype(dtype)
    name = os.path.basename(path)
    if path.endswith(".npz"):
        try:
            npz = np.load(path, allow_pickle=False)
        except Exception as e:  # zipfile.BadZipFile, ValueError, OSError...
            raise ValueError(f"`path` = {path!r} is not a readable .npz file: {e}") from e
        with npz:
            keys = set(npz.files)
            for required in ("x", "y"):
                if required not in keys:
                    raise ValueError(
                        f"`path` = {path!r} has no array {required!r}; it holds {sorted(keys)} "
                        "(expected 'x', 'y' and optionally 'x_test', 'y_test')."
                    )
            arrays = {k: np.asarray(npz[k]) for k in keys & {"x", "y", "x_test", "y_test"}}
        return from_arrays(
            arrays["x"],
            arrays["y"],
            x_test=arrays.get("x_test"),
            y_test=arrays.get("y_test"),
            classes=classes,
            seed=seed,
            test_fraction=test_fraction,
            normalize=normalize,
            dtype=dtype,
            name=name,
        )
    if labels is None:
        raise ValueError(
            f"`path` = {path!r} is not a .npz file; for IDX images pass the labels file as "
            "`labels` (labels=PATH)."
        )
    x = read_idx(path)
    try:
        y = read_idx(labels)
    except ValueError as e:
        raise ValueError(f"`labels`: {e}") from e
    if y.ndim != 1:
        raise ValueError(
            f"IDX labels file `labels` = {os.fspath(labels)!r} must be 1-D, got shape {y.shape}."
        )
    if y.shape[0] != x.shape[0]:
        raise ValueError(
            f"IDX images {path!r} hold {x.shape[0]} examples but `labels` = "
            f"{os.fspath(labels)!r} hold {y.shape[0]}."
        )
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
