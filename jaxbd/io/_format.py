"""The jaxbd file format (version 2): describe a tree as JSON + arrays, and rebuild it safely.

```
magic (8 bytes)  b"JAXBD\\x00MD" (model) or b"JAXBD\\x00KY" (backdoor key)
version (uint16, big endian)          FORMAT_VERSION
header length (uint32, big endian)
sha256 of the header (32 bytes)
header (UTF-8 JSON)                   format, versions, construction, hyperparameters, the tree
payload                               a safetensors blob of the array leaves ("0", "1", ...)
```

The tree describes each `eqx.Module` / dataclass / NamedTuple by its **registry name** and one
description per field; each function (an activation) by its registry name; arrays by index into
the payload (with shape and dtype, checked against the payload); scalars, strings and bytes
inline (floats as exact hex). Rebuilding looks every name up in the registry (`_registry`): no
import, no attribute walk, no pickle. Objects are rebuilt through their constructors when the
constructor takes exactly the fields (so `__post_init__`, converters and `__check_init__` run);
otherwise field by field, after which every `__check_init__` of the class's MRO is run, as
equinox does after a custom `__init__`.

Format 1 files (jaxbd 0.1) are read through the same registry (their module + qualname pairs are
registry names); their payload was `equinox.tree_serialise_leaves` (`numpy.load` without pickle).
"""

import dataclasses
import hashlib
import inspect
import io as _io
import json
import struct
from typing import Any

import numpy as np

from . import _registry, _secrets


FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
MAGIC_MODEL = b"JAXBD\x00MD"
MAGIC_KEY = b"JAXBD\x00KY"
PREFIX = struct.Struct(">8sHI32s")  # magic, version, header length, header sha256
KIND_NAME = {MAGIC_MODEL: "model", MAGIC_KEY: "backdoor-key"}
MAX_DEPTH = 100
MAX_HEADER_BYTES = 1 << 28

_PRNG_IMPLS = ("threefry2x32", "rbg", "unsafe_rbg")
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


def _dtype(name) -> np.dtype:
    """A numpy dtype from a fixed table of names (never `getattr` on a module by file text)."""
    if not isinstance(name, str) or (name not in _NATIVE and name not in _VIEWED):
        raise ValueError(f"unsupported dtype {name!r} in the file header.")
    import ml_dtypes

    return np.dtype(getattr(ml_dtypes, name)) if hasattr(ml_dtypes, name) else np.dtype(name)


# ------------------------------------------------------------------------------- describe


def jsonable(v, what: str, *, scan: bool):
    """A plain JSON value (hyperparameters): numpy scalars -> Python; tuples -> lists."""
    import jax

    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, str):
        if scan:
            _secrets.check_model_value(v, what)
        return v
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not np.isfinite(f):
            raise ValueError(f"{what} must be finite, got {f}.")
        return f
    if isinstance(v, (np.ndarray, jax.Array)) and np.ndim(v) == 0:
        return jsonable(np.asarray(v).item(), what, scan=scan)
    if isinstance(v, (list, tuple)):
        return [jsonable(a, f"{what}[{i}]", scan=scan) for i, a in enumerate(v)]
    if isinstance(v, dict):
        out = {}
        for k, a in v.items():
            if not isinstance(k, str):
                raise ValueError(f"{what} keys must be strings, got {k!r}.")
            if scan:
                _secrets.check_model_value(k, f"{what} key {k!r}")
            out[k] = jsonable(a, f"{what}[{k!r}]", scan=scan)
        return out
    if _secrets.is_private_key_object(v):
        _secrets.check_model_value(v, what)
    raise ValueError(f"{what} must be JSON-able (numbers, strings, lists, dicts), got {type(v)}.")


class Describer:
    def __init__(self, *, is_key_file: bool):
        self.is_key_file = is_key_file
        self.arrays: list[np.ndarray] = []
        self.array_meta: list[dict] = []
        self.classes: set[str] = set()

    def _scan(self, value, path: str) -> None:
        if not self.is_key_file:
            _secrets.check_model_value(value, path)

    def add_array(self, x, path: str) -> dict:
        import jax
        import jax.numpy as jnp

        if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            impl = str(jax.random.key_impl(x))
            if impl not in _PRNG_IMPLS:
                raise ValueError(f"cannot save PRNG key at {path}: unknown implementation {impl}.")
            d = self.add_array(np.asarray(jax.random.key_data(x)), path)
            return {"type": "prng_key", "impl": impl, "data": d}
        kind = "jax" if isinstance(x, jax.Array) else "numpy"
        a = np.asarray(x)
        dtype = a.dtype.name
        if dtype not in _NATIVE and dtype not in _VIEWED:
            raise ValueError(f"cannot save array at {path} with dtype {a.dtype}.")
        if not a.flags.c_contiguous:  # (np.ascontiguousarray would turn 0-d into 1-d)
            a = a.copy(order="C")
        if dtype == "complex128":
            stored = a.view(np.float64).reshape(*a.shape, 2)
        elif dtype in _VIEWED:
            stored = a.view(np.dtype(_VIEWED[dtype]))
        else:
            stored = a
        self._scan(stored, path)
        index = len(self.arrays)
        self.arrays.append(stored)
        meta = {"shape": list(a.shape), "dtype": dtype, "stored_dtype": stored.dtype.name}
        self.array_meta.append(meta)
        return {"type": "array", "kind": kind, "index": index}

    def describe(self, obj, path: str, depth: int = 0) -> dict:
        import jax

        if depth > MAX_DEPTH:
            raise ValueError(f"cannot save {path}: nested deeper than {MAX_DEPTH} levels.")
        if not self.is_key_file:
            from ..keys import is_backdoor_key

            if is_backdoor_key(obj) or _secrets.is_private_key_object(obj):
                if _secrets.is_private_key_object(obj):
                    _secrets.register_secret(obj)
                raise ValueError(
                    f"refusing to save a model holding a backdoor key ({type(obj).__name__} at "
                    f"{path}); save keys separately with jaxbd.io.save_key."
                )
        if obj is None:
            return {"type": "none"}
        if isinstance(obj, bool):
            return {"type": "bool", "value": obj}
        if isinstance(obj, int):
            return {"type": "int", "value": obj}
        if isinstance(obj, float):
            return {"type": "float", "hex": obj.hex()}
        if isinstance(obj, complex):
            return {"type": "complex", "real": obj.real.hex(), "imag": obj.imag.hex()}
        if isinstance(obj, str):
            self._scan(obj, path)
            return {"type": "str", "value": obj}
        if isinstance(obj, (bytes, bytearray)):
            self._scan(bytes(obj), path)
            return {"type": "bytes", "hex": bytes(obj).hex()}
        if isinstance(obj, (jax.Array, np.ndarray)):
            return self.add_array(obj, path)
        if isinstance(obj, np.generic):
            return {"type": "npscalar", "value": self.add_array(np.asarray(obj), path)}
        if isinstance(obj, np.dtype):
            _dtype(obj.name)
            return {"type": "dtype", "name": obj.name}
        if isinstance(obj, type) and issubclass(obj, np.generic):
            return {"type": "dtype_class", "name": _dtype(np.dtype(obj).name).name}
        if _secrets.is_private_key_object(obj):  # key files only (models refused above)
            from cryptography.hazmat.primitives import serialization

            _secrets.register_secret(obj)
            pem = obj.private_bytes(
                encoding=serialization.Encoding.PEM,
                format=serialization.PrivateFormat.PKCS8,
                encryption_algorithm=serialization.NoEncryption(),
            )
            return {"type": "private_key_pem", "class": type(obj).__name__, "pem": pem.decode()}
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # NamedTuple
            return self._container(obj, path, "namedtuple", depth)
        if isinstance(obj, (tuple, list)):
            items = [self.describe(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(obj)]
            return {"type": "tuple" if isinstance(obj, tuple) else "list", "items": items}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if not isinstance(k, (str, int, bool)) and k is not None:
                    raise ValueError(f"cannot save dict key {k!r} at {path}.")
                items.append(
                    [
                        self.describe(k, path, depth + 1),
                        self.describe(v, f"{path}[{k!r}]", depth + 1),
                    ]
                )
            return {"type": "dict", "items": items}
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return self._container(obj, path, "dataclass", depth)
        if callable(obj) and not isinstance(obj, type):
            name = _registry.name_of(obj)
            if name is None:
                raise ValueError(
                    f"cannot save {obj!r} at {path}: functions are saved by registry name only "
                    "(jax.nn activations, elementwise jax.numpy functions, equinox's defaults); "
                    "register your own with jaxbd.io.register(fn). Lambdas, closures, partials "
                    "and non-equinox models (e.g. Flax modules) cannot be saved."
                )
            return {"type": "function", "name": name}
        raise ValueError(
            f"cannot save {type(obj).__module__}.{type(obj).__qualname__} at {path}: "
            "jaxbd.io saves eqx.Modules/dataclasses of arrays, numbers, strings, bytes, "
            "tuples, lists, dicts and registered functions."
        )

    def _container(self, obj, path: str, kind: str, depth: int) -> dict:
        cls = type(obj)
        name = _registry.name_of(cls) or f"{cls.__module__}.{cls.__qualname__}"
        if "<locals>" in name:
            raise ValueError(
                f"cannot save {cls.__qualname__} at {path}: its class must be defined at module "
                "level (files name classes by registry name)."
            )
        self.classes.add(name)
        fields = {}
        names = cls._fields if kind == "namedtuple" else [f.name for f in dataclasses.fields(obj)]
        for field in names:
            if not hasattr(obj, field):
                raise ValueError(f"{path}.{field} is not set; cannot save a half-built object.")
            value = getattr(obj, field)
            if (
                not self.is_key_file
                and field.lower() in ("signing_key", "private_key", "secret_key", "private_bytes")
                and value is not None
                and not (isinstance(value, (str, bytes)) and len(value) == 0)
            ):
                raise ValueError(
                    f"refusing to save private-key material in a model ({path}.{field}); "
                    "save keys with jaxbd.io.save_key."
                )
            fields[field] = self.describe(value, f"{path}.{field}", depth + 1)
        return {"type": kind, "class": name, "fields": fields}


def encode(obj, *, magic: bytes, construction, hyperparameters, version: str) -> bytes:
    from safetensors.numpy import save as st_save

    is_key = magic == MAGIC_KEY
    if construction is not None:
        if not isinstance(construction, str) or len(construction) > 200:
            raise ValueError(
                f"`construction` must be a short string or None, got {construction!r:.80}."
            )
        if not is_key:
            _secrets.check_model_value(construction, "`construction`")
    hyper = jsonable(hyperparameters or {}, "`hyperparameters`", scan=not is_key)
    if not isinstance(hyper, dict):
        raise ValueError("`hyperparameters` must be a dict.")
    describer = Describer(is_key_file=is_key)
    tree = describer.describe(obj, "key" if is_key else "model")
    payload = st_save({str(i): a for i, a in enumerate(describer.arrays)})
    header = {
        "format": "jaxbd-" + KIND_NAME[magic],
        "format_version": FORMAT_VERSION,
        "jaxbd_version": version,
        "construction": construction,
        "hyperparameters": hyper,
        "classes": sorted(describer.classes),
        "dtypes": sorted({m["dtype"] for m in describer.array_meta}),
        "arrays": describer.array_meta,
        "payload_bytes": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "tree": tree,
    }
    hbytes = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    prefix = PREFIX.pack(magic, FORMAT_VERSION, len(hbytes), hashlib.sha256(hbytes).digest())
    return prefix + hbytes + payload


# ------------------------------------------------------------------------------- read


def read(data: bytes, path: str, expect: bytes) -> tuple[int, dict, bytes]:
    """Check the framing and checksums; returns `(version, header, payload)`."""
    want = KIND_NAME[expect]
    if len(data) < PREFIX.size:
        if data[:5] == b"JAXBD" or len(data) == 0:
            raise ValueError(
                f"{path!r} is truncated ({len(data)} bytes): not a complete jaxbd file."
            )
        raise ValueError(f"{path!r} is not a jaxbd {want} file (no jaxbd header).")
    magic, version, hlen, hsha = PREFIX.unpack_from(data)
    if magic not in KIND_NAME:
        raise ValueError(f"{path!r} is not a jaxbd {want} file (bad magic bytes {magic!r}).")
    if magic != expect:
        other = "jaxbd.io.load_key" if magic == MAGIC_KEY else "jaxbd.io.load"
        raise ValueError(
            f"{path!r} is a jaxbd {KIND_NAME[magic]} file, not a {want} file; open it with {other}."
        )
    if version not in READABLE_VERSIONS:
        newer = version > FORMAT_VERSION
        raise ValueError(
            f"{path!r} has jaxbd file-format version {version}; this jaxbd reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
            + ("; upgrade jaxbd to read it." if newer else "; re-save it with jaxbd >= 0.2.")
        )
    if hlen > MAX_HEADER_BYTES:
        raise ValueError(f"{path!r}: header of {hlen} bytes is too large (corrupted file?).")
    start = PREFIX.size
    hbytes = data[start : start + hlen]
    if len(hbytes) < hlen:
        raise ValueError(f"{path!r} is truncated (header cut short).")
    if hashlib.sha256(hbytes).digest() != hsha:
        raise ValueError(f"{path!r} is corrupted: header checksum mismatch.")
    try:
        header = json.loads(hbytes.decode("utf-8"))
    except RecursionError:
        raise ValueError(f"{path!r}: malformed header (nested too deeply).") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path!r}: malformed header (not UTF-8 JSON: {e}).") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path!r}: malformed header (not a JSON object).")
    if header.get("format_version") != version or header.get("format") != "jaxbd-" + want:
        raise ValueError(f"{path!r}: inconsistent header (format {header.get('format')!r:.60}).")
    payload = data[start + hlen :]
    n, sha = header.get("payload_bytes"), header.get("payload_sha256")
    if isinstance(n, bool) or not isinstance(n, int) or not isinstance(sha, str):
        raise ValueError(f"{path!r}: malformed header (no payload length/checksum).")
    if len(payload) < n:
        raise ValueError(f"{path!r} is truncated: payload has {len(payload)} of {n} bytes.")
    if len(payload) > n:
        raise ValueError(f"{path!r} is corrupted: trailing bytes after the payload.")
    if hashlib.sha256(payload).hexdigest() != sha:
        raise ValueError(f"{path!r} is corrupted: payload checksum (sha256) mismatch.")
    return version, header, payload


def _check_meta(metas, path: str) -> list[dict]:
    if not isinstance(metas, list):
        raise ValueError(f"{path!r}: malformed header (`arrays` is not a list).")
    for i, m in enumerate(metas):
        ok = isinstance(m, dict) and isinstance(m.get("shape"), list) and len(m["shape"]) <= 32
        ok = ok and all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in m["shape"]
        )
        if not ok:
            raise ValueError(f"{path!r}: malformed header (array {i}: bad shape).")
        _dtype(m.get("dtype"))
        _dtype(m.get("stored_dtype"))
    return metas


def _arrays_v2(payload: bytes, metas, path: str) -> list[np.ndarray]:
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
        if list(a.shape) != stored or a.dtype != _dtype(m["stored_dtype"]):
            raise ValueError(
                f"{path!r}: array {i} is {a.dtype}{list(a.shape)} in the payload, but the header "
                f"says {m['stored_dtype']}{stored}."
            )
        out.append(a)
    return out


def _arrays_v1(payload: bytes, metas, path: str) -> list[np.ndarray]:
    if not metas:
        return []
    import equinox as eqx

    like = [np.broadcast_to(np.zeros((), _dtype(m["stored_dtype"])), m["shape"]) for m in metas]
    try:
        arrays = eqx.tree_deserialise_leaves(_io.BytesIO(payload), like)  # np.load, no pickle
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"{path!r}: cannot decode the payload ({e}).") from None
    for i, (a, m) in enumerate(zip(arrays, metas)):
        if list(a.shape) != list(m["shape"]) or a.dtype != _dtype(m["stored_dtype"]):
            raise ValueError(f"{path!r}: array {i} does not match its header entry.")
    return arrays


class Builder:
    def __init__(self, arrays, metas, extra: dict, is_key_file: bool, version: int):
        self.arrays = arrays
        self.metas = metas
        self.extra = extra
        self.is_key_file = is_key_file
        self.version = version

    def _name(self, d: dict, key: str) -> str:
        name = d.get(key)
        if self.version == 1:  # format 1: module + qualname, joined into the registry name
            name = f"{d.get('module')}.{name}"
        if not isinstance(name, str):
            raise ValueError("a class or function entry has no name")
        return name

    def _lookup(self, name: str, what: str, path: str):
        obj = _registry.lookup(name, self.extra)
        if obj is None:
            raise ValueError(
                f"{path}: the file names {what} {name!r:.120}, which is not registered; if you "
                "trust it, pass it as jaxbd.io.load(path, classes=(TheClass,)) or call "
                "jaxbd.io.register(TheClass) (files never name code by import path)."
            )
        return obj

    def build(self, d, path: str, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ValueError(f"{path}: header nested deeper than {MAX_DEPTH} levels.")
        t = d.get("type") if isinstance(d, dict) else None
        if t == "none":
            return None
        if t in ("bool", "int", "str"):
            v = d["value"]
            if type(v) is not {"bool": bool, "int": int, "str": str}[t]:
                raise ValueError(f"{path}: a {t} entry holds {type(v).__name__}.")
            return v
        if t == "float":
            return float.fromhex(d["hex"])
        if t == "complex":
            return complex(float.fromhex(d["real"]), float.fromhex(d["imag"]))
        if t == "bytes":
            return bytes.fromhex(d["hex"])
        if t == "array":
            return self._array(d, path)
        if t == "prng_key":
            import jax
            import jax.numpy as jnp

            if d.get("impl") not in _PRNG_IMPLS:
                raise ValueError(f"{path}: unknown PRNG implementation {d.get('impl')!r:.60}.")
            data = self._array(d["data"], path)
            return jax.random.wrap_key_data(jnp.asarray(data), impl=d["impl"])
        if t == "npscalar":
            return np.asarray(self._array(d["value"], path, as_numpy=True))[()]
        if t == "dtype":
            return _dtype(d["name"])
        if t == "dtype_class":
            return _dtype(d["name"]).type
        if t == "private_key_pem":
            if not self.is_key_file:
                raise ValueError(f"{path}: a model file holds a private key; refusing.")
            from cryptography.hazmat.primitives import serialization

            key = serialization.load_pem_private_key(d["pem"].encode(), password=None)
            _secrets.register_secret(key)
            return key
        if t in ("tuple", "list"):
            items = [self.build(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(d["items"])]
            return tuple(items) if t == "tuple" else items
        if t == "dict":
            out = {}
            for k, v in d["items"]:
                key = self.build(k, path, depth + 1)
                if not isinstance(key, (str, int, bool)) and key is not None:
                    raise ValueError(f"{path}: unhashable dict key.")
                out[key] = self.build(v, f"{path}[{key!r}]", depth + 1)
            return out
        if t == "function":
            fn = self._lookup(self._name(d, "name"), "function", path)
            if isinstance(fn, type) or not callable(fn):
                raise ValueError(f"{path}: {self._name(d, 'name')!r} is not a function.")
            return fn
        if t in ("dataclass", "namedtuple"):
            cls = self._lookup(self._name(d, "class"), "class", path)
            if not isinstance(cls, type):
                raise ValueError(f"{path}: {self._name(d, 'class')!r} is not a class.")
            from ..keys import is_backdoor_key

            if not self.is_key_file and is_backdoor_key(cls):
                raise ValueError(
                    f"{path} is a backdoor key ({cls.__name__}) inside a model file; refusing."
                )
            if not isinstance(d.get("fields"), dict):
                raise ValueError(f"{path}: malformed class entry (no fields).")
            values = {k: self.build(v, f"{path}.{k}", depth + 1) for k, v in d["fields"].items()}
            return construct(cls, values, path, namedtuple=(t == "namedtuple"))
        raise ValueError(f"unknown entry {t!r:.40} at {path} (corrupted or crafted header).")

    def _array(self, d, path: str, as_numpy: bool = False):
        if not isinstance(d, dict) or d.get("type") != "array":
            raise ValueError(f"{path}: malformed array entry.")
        i = d.get("index")
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(self.arrays):
            raise ValueError(f"{path}: array index {i!r:.20} outside the payload's arrays.")
        m = self.metas[i]
        a = self.arrays[i]
        dtype = _dtype(m["dtype"])
        if a.dtype != dtype:
            a = a.view(dtype)
            a = a.reshape(m["shape"])
        if d.get("kind") == "jax" and not as_numpy:
            import jax.numpy as jnp

            return jnp.asarray(a)
        return np.array(a)  # writable, owns its memory


def _takes_fields(cls, init_names: list[str]) -> bool:
    try:
        params = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):
        return False
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params] == init_names and all(p.kind in kinds for p in params)


def construct(cls, values: dict, path: str, *, namedtuple: bool = False):
    """Rebuild `cls` from saved field values, running its checks (see the module docstring)."""
    if namedtuple:
        if tuple(values) != tuple(cls._fields):
            raise ValueError(
                f"{path}: {cls.__qualname__} fields changed since the file was saved."
            )
        return cls(**values)
    if not hasattr(cls, "__dataclass_fields__"):  # dataclasses.is_dataclass, without narrowing
        raise ValueError(f"{path}: {cls.__qualname__} is not a dataclass/eqx.Module.")
    fields = dataclasses.fields(cls)
    expected = [f.name for f in fields]
    if sorted(expected) != sorted(values):
        raise ValueError(
            f"{path}: {cls.__qualname__} has fields {expected} but the file holds "
            f"{list(values)} (the class changed since the file was saved?)."
        )
    init_names = [f.name for f in fields if f.init]
    try:
        if len(init_names) == len(expected) and _takes_fields(cls, init_names):
            return cls(**values)
        obj = object.__new__(cls)
        for k in expected:
            object.__setattr__(obj, k, values[k])
        for kls in cls.__mro__:
            check = kls.__dict__.get("__check_init__")
            if check is not None:
                check(obj)
        return obj
    except (ValueError, TypeError, AssertionError) as e:
        raise ValueError(f"{path}: {cls.__qualname__} refuses the saved values: {e}") from None


def decode(version: int, header: dict, payload: bytes, path: str, *, is_key: bool, extra: dict):
    metas = _check_meta(header.get("arrays"), path)
    arrays = (_arrays_v1 if version == 1 else _arrays_v2)(payload, metas, path)
    builder = Builder(arrays, metas, extra, is_key, version)
    try:
        return builder.build(header.get("tree"), "key" if is_key else "model")
    except (KeyError, TypeError, IndexError, AttributeError, RecursionError, OverflowError) as e:
        # Only a hand-crafted file gets here (the checksums matched): say so, never crash.
        raise ValueError(f"{path!r}: malformed header ({type(e).__name__}: {e}).") from None
    except ValueError as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith(repr(path)) else f"{path!r}: {msg}") from None
