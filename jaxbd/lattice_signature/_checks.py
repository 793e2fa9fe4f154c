"""Host-side argument checks shared by the public helpers of this package (`ValueError` naming
the argument). The host helpers (hashing, signing, the reference verifier, the attacks) take
concrete numpy-convertible values; the network's own checks live in `_model.py`."""

import numpy as np

from .._validate import check_int_range, is_concrete
from ._encoding import Encoding
from ._params import LatticeParams, get_params


def as_params(p, name: str = "p") -> LatticeParams:
    """A [`LatticeParams`][] from an instance or a preset name (`ValueError` naming `name`)."""
    return get_params(p, name=name)


def as_encoding(enc, name: str = "enc") -> Encoding:
    if not isinstance(enc, Encoding):
        raise ValueError(f"`{name}` must be an Encoding, got {type(enc).__name__}.")
    return enc


def host_array(
    a, name: str, *, ndim: int | None = None, integer: bool = False, finite: bool = True
) -> np.ndarray:
    """`a` as a concrete real numpy array (integer if asked), with `ndim` dimensions (and
    finite, unless `finite=False`)."""
    if isinstance(a, (str, bytes, dict)) or a is None or not is_concrete(a):
        raise ValueError(f"`{name}` must be a concrete array, got {type(a).__name__}.")
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError) as e:
        raise ValueError(f"`{name}` must be an array: {e}") from None
    kind = arr.dtype.kind
    if kind not in ("b", "i", "u") + (() if integer else ("f",)):
        what = "an integer" if integer else "a real"
        raise ValueError(f"`{name}` must be {what} array, got dtype {arr.dtype}.")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"`{name}` must have {ndim} dimension(s), got shape {arr.shape}.")
    if finite and kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` contains NaN or inf values.")
    return arr


def check_hash_matrix(h, p: LatticeParams, columns: int | None, name: str = "hash_matrix"):
    h = host_array(h, name, ndim=2, integer=True)
    if h.shape[0] != p.hash_rows or (columns is not None and h.shape[1] != columns):
        want = (p.hash_rows, columns if columns is not None else "N")
        raise ValueError(f"`{name}` must have shape {want}, got {h.shape}.")
    return h


def check_bits(v, name: str, size: int) -> np.ndarray:
    """0/1 values with last dimension `size`."""
    v = host_array(v, name, integer=True)
    if v.ndim < 1 or v.shape[-1] != size:
        raise ValueError(f"`{name}` must have last dimension {size}, got shape {v.shape}.")
    if np.any((v != 0) & (v != 1)):
        raise ValueError(f"`{name}` must hold bits (0 or 1).")
    return v


def check_unit_rows(x, name: str, d: int, *, ndim: int) -> np.ndarray:
    """A finite real array `(d,)` (`ndim` 1) or `(n, d)` (`ndim` 2) with values in [0, 1]."""
    x = host_array(x, name, ndim=ndim)
    if x.shape[-1] != d or (ndim == 2 and x.shape[0] < 1):
        want = f"(n, {d})" if ndim == 2 else f"({d},)"
        raise ValueError(f"`{name}` must have shape {want}, got {x.shape}.")
    if np.any(x < 0) or np.any(x > 1):
        raise ValueError(f"`{name}` must lie in [0, 1] (the encoding's input range).")
    return x


def check_label_index(t, num_labels: int, name: str) -> int:
    return check_int_range(t, name, low=0, high=num_labels - 1)
