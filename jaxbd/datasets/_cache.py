"""A cache of what scikit-learn computes for `jaxbd.datasets`, so a new process need not import it.

Importing scikit-learn costs about 1 s of every CLI step, and `load` needs it twice: for the
bundled arrays (`sklearn.datasets`) and for the stratified split (`train_test_split`). Both are
deterministic, so when `$JAXBD_DATA_CACHE_DIR` is set (the CLI sets it beside its XLA cache)
their results are kept there as `.npz` files keyed by the scikit-learn version and, for a split,
by a hash of the labels and the split's arguments. Files are data (`allow_pickle=False`),
written atomically; a missing, damaged or foreign file is ignored and recomputed.
"""

import hashlib
import importlib.metadata
import io
import os
import zipfile
from collections.abc import Callable

import numpy as np

from ..io import write_atomic


def cache_file(stem: str) -> str | None:
    """`$JAXBD_DATA_CACHE_DIR/<stem>-scikit-learn-<version>.npz`, or `None` when unset."""
    root = os.environ.get("JAXBD_DATA_CACHE_DIR")
    if not root:
        return None
    version = importlib.metadata.version("scikit-learn")
    return os.path.join(root, f"{stem}-scikit-learn-{version}.npz")


def digest(*parts) -> str:
    """A short hash of arrays and values (the key of a cached split)."""
    h = hashlib.sha256()
    for p in parts:
        a = np.ascontiguousarray(p)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:32]


def cached(path: str | None, names: tuple[str, ...], valid: Callable[..., bool], compute):
    """The arrays `names` read from `path` when it holds them and `valid(*arrays)`; otherwise
    `compute()` (a tuple in the order of `names`), written to `path` for the next process."""
    if path is not None:
        try:
            with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
                arrays = tuple(np.asarray(f[n]) for n in names)
            if valid(*arrays):
                return arrays
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # missing or damaged: recompute
    arrays = tuple(np.asarray(a) for a in compute())
    if path is not None:
        buffer = io.BytesIO()
        arrays_by_name: dict[str, np.ndarray] = dict(zip(names, arrays, strict=True))
        np.savez(buffer, allow_pickle=False, **arrays_by_name)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_atomic(path, buffer.getvalue())
        except (OSError, ValueError):
            pass  # an unwritable cache only costs the next process the scikit-learn import
    return arrays
