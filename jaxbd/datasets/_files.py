"""User files: `.npz` arrays and IDX files (the MNIST format)."""

import gzip
import math
import os
import struct
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

from .._validate import float_dtype
from ._arrays import from_arrays
from ._checks import _check_seed
from ._dataset import Dataset


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


def _read_npz(path: str) -> dict[str, np.ndarray]:
    """The arrays `x`, `y` (required) and `x_test`, `y_test` (optional) of a `.npz` file."""
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
        return {k: np.asarray(npz[k]) for k in keys & {"x", "y", "x_test", "y_test"}}


def _read_idx_pair(path: str, labels) -> dict[str, np.ndarray]:
    """Images `x` from the IDX file `path` and labels `y` from the IDX file `labels`."""
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
    return {"x": x, "y": y}


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
    float_dtype(dtype)
    arrays = _read_npz(path) if path.endswith(".npz") else _read_idx_pair(path, labels)
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
        name=os.path.basename(path),
    )
