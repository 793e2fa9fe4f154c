"""Arrays in the payload: a fixed table of dtypes, how each is stored, and reading them back.

safetensors stores the native dtypes as they are; the others (bfloat16, float8, int4, ...) are
stored as a same-size integer view, complex128 as `(..., 2)` real/imaginary float64 pairs. The
header records every array's shape, dtype and stored dtype; reading checks the payload against
it. A dtype is only ever found in this table, never by `getattr` on a module with file text.
"""

import io as _io

import numpy as np


PRNG_IMPLS = ("threefry2x32", "rbg", "unsafe_rbg")
# dtype name -> how it is stored in safetensors (same itemsize unless noted).
_NATIVE = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64",
)  # fmt: skip
_VIEWED = {
    "bfloat16": "uint16", "float8_e4m3fn": "uint8", "float8_e5m2": "uint8",
    "float8_e4m3fnuz": "uint8", "float8_e5m2fnuz": "uint8", "float8_e4m3b11fnuz": "uint8",
    "float8_e8m0fnu": "uint8", "float8_e3m4": "uint8", "float8_e4m3": "uint8",
    "int4": "int8", "uint4": "uint8", "int2": "int8", "uint2": "uint8", "float4_e2m1fn": "uint8",
    "complex128": "float64",  # stored as (..., 2) real/imaginary pairs
}  # fmt: skip


def dtype(name) -> np.dtype:
    """A numpy dtype from a fixed table of names (never `getattr` on a module by file text)."""
    if not isinstance(name, str) or (name not in _NATIVE and name not in _VIEWED):
        raise ValueError(f"unsupported dtype {name!r} in the file header.")
    import ml_dtypes

    return np.dtype(getattr(ml_dtypes, name)) if hasattr(ml_dtypes, name) else np.dtype(name)


def stored_form(a: np.ndarray, path: str) -> tuple[np.ndarray, dict]:
    """`(stored, meta)`: the array as safetensors holds it and its header entry."""
    name = a.dtype.name
    if name not in _NATIVE and name not in _VIEWED:
        raise ValueError(f"cannot save array at {path} with dtype {a.dtype}.")
    if not a.flags.c_contiguous:  # (np.ascontiguousarray would turn 0-d into 1-d)
        a = a.copy(order="C")
    if name == "complex128":
        stored = a.view(np.float64).reshape(*a.shape, 2)
    elif name in _VIEWED:
        stored = a.view(np.dtype(_VIEWED[name]))
    else:
        stored = a
    return stored, {"shape": list(a.shape), "dtype": name, "stored_dtype": stored.dtype.name}


def restored(stored: np.ndarray, meta: dict) -> np.ndarray:
    """The array of dtype `meta["dtype"]` that `stored` holds (the inverse of `stored_form`)."""
    want = dtype(meta["dtype"])
    if stored.dtype == want:
        return stored
    return stored.view(want).reshape(meta["shape"])


def check_meta(metas, path: str) -> list[dict]:
    """The header's `arrays` list: every entry a shape (at most 32 non-negative ints) and two
    dtypes of the table."""
    if not isinstance(metas, list):
        raise ValueError(f"{path!r}: malformed header (`arrays` is not a list).")
    for i, m in enumerate(metas):
        ok = isinstance(m, dict) and isinstance(m.get("shape"), list) and len(m["shape"]) <= 32
        ok = ok and all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in m["shape"]
        )
        if not ok:
            raise ValueError(f"{path!r}: malformed header (array {i}: bad shape).")
        dtype(m.get("dtype"))
        dtype(m.get("stored_dtype"))
    return metas


def arrays_v2(payload: bytes, metas, path: str) -> list[np.ndarray]:
    """The stored arrays of a format 2 payload (safetensors), checked against the header."""
    from safetensors.numpy import load as st_load

    try:
        tensors = st_load(payload) if payload else {}
    except Exception as e:  # noqa: BLE001 - the checksum matched: a writer/reader mismatch or a crafted file
        raise ValueError(f"{path!r}: cannot decode the payload ({e}).") from None
    if set(tensors) != {str(i) for i in range(len(metas))}:
        raise ValueError(
            f"{path!r}: header lists {len(metas)} arrays but the payload holds {len(tensors)}."
        )
    out = []
    for i, m in enumerate(metas):
        a = tensors[str(i)]
        stored = list(m["shape"]) + ([2] if m["dtype"] == "complex128" else [])
        if list(a.shape) != stored or a.dtype != dtype(m["stored_dtype"]):
            raise ValueError(
                f"{path!r}: array {i} is {a.dtype}{list(a.shape)} in the payload, but the header "
                f"says {m['stored_dtype']}{stored}."
            )
        out.append(a)
    return out


def arrays_v1(payload: bytes, metas, path: str) -> list[np.ndarray]:
    """The stored arrays of a format 1 payload (`equinox.tree_serialise_leaves`: `np.load`
    without pickle), checked against the header."""
    if not metas:
        return []
    import equinox as eqx

    like = [np.broadcast_to(np.zeros((), dtype(m["stored_dtype"])), m["shape"]) for m in metas]
    try:
        arrays = eqx.tree_deserialise_leaves(_io.BytesIO(payload), like)  # np.load, no pickle
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"{path!r}: cannot decode the payload ({e}).") from None
    for i, (a, m) in enumerate(zip(arrays, metas)):
        if list(a.shape) != list(m["shape"]) or a.dtype != dtype(m["stored_dtype"]):
            raise ValueError(f"{path!r}: array {i} does not match its header entry.")
    return arrays
