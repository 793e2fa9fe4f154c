"""Save and load models and backdoor keys: self-describing, checksummed, atomic, no pickle.

A jaxbd file is

```
magic (8 bytes)  b"JAXBD\\x00MD" (model) or b"JAXBD\\x00KY" (backdoor key)
version (uint16, big endian)          the file-format version (FORMAT_VERSION)
header length (uint32, big endian)
sha256 of the header (32 bytes)
header (UTF-8 JSON)                   format, versions, construction, hyperparameters, the tree
payload                               equinox.tree_serialise_leaves of the array leaves
```

The header describes the saved object as a tree: for every `eqx.Module` or dataclass its class
import path and one description per field (a nested description, an array — shape and dtype,
its bytes in the payload — or a JSON-able static value, bytes as hex, floats as exact hex),
plus the sha256 and length of the payload. [`load`][] rebuilds the skeleton from the header
(`object.__new__(cls)` and `object.__setattr__` per field, so no `__init__` runs), then fills the
arrays with `eqx.tree_deserialise_leaves`. Round trips are bit-exact.

**Safety.** Loading never runs pickle and only imports classes and functions from an allow-list
of modules: `jaxbd`, `equinox`, `jax` (functions such as `jax.nn.relu`), plus the modules the
caller opts in with `load(path, allow_modules=("mypkg",))` or [`allow_module`][]`("mypkg")`.
A truncated file, a checksum mismatch, an unknown format version, or a model file given to
[`load_key`][] (or a key file to [`load`][]) raises `ValueError` with a one-line reason; nothing
half-loaded is ever returned.

**Keys apart from models** (DESIGN.md §3: a backdoor key is never stored inside the model it
opens). [`save`][] refuses any tree that holds a backdoor-key object (a class whose name ends in
`BackdoorKey`/`Key` in `jaxbd`, or any class with `__jaxbd_backdoor_key__ = True`), a
`cryptography` private-key object, or a field named like a private key
(`signing_key`, `private_key`, `secret_key`). [`save_key`][] writes a key to its own file, created
with mode `0o600` (never world- or group-readable, not chmod-ed afterwards); private keys from
`cryptography` (the Ed25519 signing key of `jaxbd.signature`) are stored as unencrypted PEM
(PKCS8) text inside the key file's header.

**Atomic writes.** The bytes are assembled in memory, written to a temporary file in the target's
directory, fsync-ed, and moved over the target with `os.replace`; a failure at any point leaves
the previous file untouched.
"""

import dataclasses
import hashlib
import importlib
import io as _io
import json
import os
import struct
from collections.abc import Iterable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


__all__ = [
    "FORMAT_VERSION",
    "save",
    "load",
    "save_key",
    "load_key",
    "read_header",
    "allow_module",
    "write_atomic",
    "is_backdoor_key",
]

FORMAT_VERSION = 1
_MAGIC_MODEL = b"JAXBD\x00MD"
_MAGIC_KEY = b"JAXBD\x00KY"
_PREFIX = struct.Struct(">8sHI32s")  # magic, version, header length, header sha256
_KIND_NAME = {_MAGIC_MODEL: "model", _MAGIC_KEY: "backdoor-key"}

# Modules whose classes/functions `load` may import (prefix match on dotted names).
_DEFAULT_ALLOWED = ("jaxbd", "equinox", "jax")
_user_allowed: set[str] = set()

_PRIVATE_FIELD_NAMES = frozenset({"signing_key", "private_key", "secret_key", "private_bytes"})


def allow_module(prefix: str) -> None:
    """Opt in (for this process) to loading classes defined under the module `prefix`.

    Needed for files holding your own `eqx.Module` classes, e.g. `allow_module("mypkg.models")`.
    Only allow modules you trust: loading imports them (it never runs pickle or `__init__`).
    """
    if not isinstance(prefix, str) or not prefix or prefix.startswith("."):
        raise ValueError(f"`prefix` must be a module name like 'mypkg.models', got {prefix!r}.")
    _user_allowed.add(prefix)


def _allowed(module: str, extra: Iterable[str]) -> bool:
    for p in (*_DEFAULT_ALLOWED, *_user_allowed, *extra):
        if module == p or module.startswith(p + "."):
            return True
    return False


# ------------------------------------------------------------------------------- key checks


def _is_crypto_private_key(obj) -> bool:
    mod = type(obj).__module__ or ""
    return mod.startswith("cryptography") and "PrivateKey" in type(obj).__name__


def is_backdoor_key(obj) -> bool:
    """True for objects that must never be stored inside a model file.

    That is: a class marked `__jaxbd_backdoor_key__ = True`, a jaxbd class whose name ends in
    `BackdoorKey` or `Key` (the backdoor keys of the constructions), or a private key from
    `cryptography`.
    """
    if _is_crypto_private_key(obj):
        return True
    cls = obj if isinstance(obj, type) else type(obj)
    marker = getattr(cls, "__jaxbd_backdoor_key__", None)
    if marker is not None:
        return bool(marker)
    mod = cls.__module__ or ""
    return (mod == "jaxbd" or mod.startswith("jaxbd.")) and cls.__name__.endswith("Key")


def _looks_private(value) -> bool:
    if isinstance(value, (bytes, bytearray)):
        return b"PRIVATE KEY" in bytes(value) or len(value) > 0
    if isinstance(value, str):
        return "PRIVATE KEY" in value or len(value) > 0
    return False


# ------------------------------------------------------------------------------- describe


def _jsonable(v, what: str):
    """Plain JSON value (for hyperparameters): numpy scalars/arrays -> Python; tuples -> lists."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not np.isfinite(f):
            raise ValueError(f"{what} must be finite, got {f}.")
        return f
    if isinstance(v, (np.ndarray, jax.Array)) and np.ndim(v) == 0:
        return _jsonable(np.asarray(v).item(), what)
    if isinstance(v, (list, tuple)):
        return [_jsonable(a, f"{what}[{i}]") for i, a in enumerate(v)]
    if isinstance(v, dict):
        out = {}
        for k, a in v.items():
            if not isinstance(k, str):
                raise ValueError(f"{what} keys must be strings, got {k!r}.")
            out[k] = _jsonable(a, f"{what}[{k!r}]")
        return out
    raise ValueError(f"{what} must be JSON-able (numbers, strings, lists, dicts), got {type(v)}.")


def _class_path(cls) -> tuple[str, str]:
    return cls.__module__, cls.__qualname__


def _resolve(module: str, qualname: str, extra: Iterable[str], what: str):
    if not _allowed(module, extra):
        raise ValueError(
            f"refusing to import {module}.{qualname} ({what}): module {module!r} is not "
            "allow-listed; if you trust it, pass allow_modules=("
            f"{module.split('.')[0]!r},) to jaxbd.io.load / load_key or call "
            "jaxbd.io.allow_module()."
        )
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"cannot find {module}.{qualname} ({what}): {e}") from e
    return obj


def _function_path(fn) -> tuple[str, str] | None:
    """Importable (module, name) of a module-level function, or None."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if not module:
        return None
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    if qualname and "<" not in qualname:
        obj = mod
        try:
            for part in qualname.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            obj = None
        if obj is fn:
            return module, qualname
    for name, value in vars(mod).items():  # e.g. `_identity = lambda x: x` at module level
        if value is fn:
            return module, name
    return None


_NON_NATIVE = ("bfloat16", "float8", "float4", "int4", "uint4", "int2", "uint2")


class _Describer:
    def __init__(self, *, is_key_file: bool):
        self.is_key_file = is_key_file
        self.arrays: list[np.ndarray] = []
        self.array_meta: list[dict] = []
        self.classes: set[str] = set()

    def add_array(self, x, path: str) -> dict:
        if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            impl = str(jax.random.key_impl(x))
            data = np.asarray(jax.random.key_data(x))
            d = self.add_array(data, path)
            return {"type": "prng_key", "impl": impl, "data": d}
        kind = "jax" if isinstance(x, jax.Array) else "numpy"
        a = np.asarray(x)
        dtype = str(a.dtype)
        stored = a
        if any(dtype.startswith(p) for p in _NON_NATIVE) or a.dtype.kind == "V":
            stored = a.view(np.dtype(f"u{a.dtype.itemsize}"))
        if stored.dtype.kind not in "biufc":
            raise ValueError(f"cannot save array at {path} with dtype {a.dtype}.")
        if not stored.flags.c_contiguous:  # (np.ascontiguousarray would turn 0-d into 1-d)
            stored = stored.copy(order="C")
        index = len(self.arrays)
        self.arrays.append(stored)
        meta = {"shape": list(a.shape), "dtype": dtype, "stored_dtype": str(stored.dtype)}
        self.array_meta.append(meta)
        return {"type": "array", "kind": kind, "index": index, **meta}

    def describe(self, obj, path: str) -> dict:
        if not self.is_key_file and is_backdoor_key(obj):
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
            return {"type": "str", "value": obj}
        if isinstance(obj, (bytes, bytearray)):
            return {"type": "bytes", "hex": bytes(obj).hex()}
        if isinstance(obj, (jax.Array, np.ndarray)):
            return self.add_array(obj, path)
        if isinstance(obj, np.generic):
            return {"type": "npscalar", "value": self.add_array(np.asarray(obj), path)}
        if isinstance(obj, np.dtype):
            return {"type": "dtype", "name": str(obj)}
        if isinstance(obj, type) and issubclass(obj, np.generic):
            return {"type": "dtype_class", "name": np.dtype(obj).name}
        if _is_crypto_private_key(obj):
            if not self.is_key_file:  # pragma: no cover - caught by is_backdoor_key above
                raise ValueError(f"refusing to save a private key at {path}.")
            from cryptography.hazmat.primitives import serialization

            pem = obj.private_bytes(
                encoding=serialization.Encoding.PEM,
                format=serialization.PrivateFormat.PKCS8,
                encryption_algorithm=serialization.NoEncryption(),
            )
            return {"type": "private_key_pem", "class": type(obj).__name__, "pem": pem.decode()}
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # NamedTuple
            return self._container(obj, path, "namedtuple")
        if isinstance(obj, (tuple, list)):
            items = [self.describe(v, f"{path}[{i}]") for i, v in enumerate(obj)]
            return {"type": "tuple" if isinstance(obj, tuple) else "list", "items": items}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if not isinstance(k, (str, int, bool)) and k is not None:
                    raise ValueError(f"cannot save dict key {k!r} at {path}.")
                items.append([self.describe(k, path), self.describe(v, f"{path}[{k!r}]")])
            return {"type": "dict", "items": items}
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return self._container(obj, path, "dataclass")
        if callable(obj) and not isinstance(obj, type):
            # Functions (plain, jitted such as jnp.tanh, custom_jvp such as jax.nn.relu) are saved
            # by import path, and only when that path gives back this very object.
            where = _function_path(obj)
            if where is None:
                raise ValueError(
                    f"cannot save function {obj!r} at {path}: only module-level functions can be "
                    "saved (no lambdas, closures or partials)."
                )
            return {"type": "function", "module": where[0], "name": where[1]}
        raise ValueError(
            f"cannot save {type(obj).__module__}.{type(obj).__qualname__} at {path}: "
            "jaxbd.io saves eqx.Modules/dataclasses of arrays, numbers, strings, bytes, "
            "tuples, lists, dicts and module-level functions."
        )

    def _container(self, obj, path: str, kind: str) -> dict:
        cls = type(obj)
        module, qualname = _class_path(cls)
        if "<locals>" in qualname or _function_path_class(cls) is None:
            raise ValueError(
                f"cannot save {qualname} at {path}: its class must be importable by name "
                f"({module}.{qualname}); define it at module level."
            )
        self.classes.add(f"{module}.{qualname}")
        fields = {}
        names = cls._fields if kind == "namedtuple" else [f.name for f in dataclasses.fields(obj)]
        for name in names:
            if not hasattr(obj, name):
                raise ValueError(f"{path}.{name} is not set; cannot save a half-built object.")
            value = getattr(obj, name)
            if (
                not self.is_key_file
                and name.lower() in _PRIVATE_FIELD_NAMES
                and value is not None
                and (_looks_private(value) or isinstance(value, (jax.Array, np.ndarray)))
            ):
                raise ValueError(
                    f"refusing to save private-key material in a model ({path}.{name}); "
                    "save keys with jaxbd.io.save_key."
                )
            fields[name] = self.describe(value, f"{path}.{name}")
        return {"type": kind, "module": module, "class": qualname, "fields": fields}


def _function_path_class(cls):
    try:
        mod = importlib.import_module(cls.__module__)
    except ImportError:
        return None
    obj = mod
    try:
        for part in cls.__qualname__.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        return None
    return obj if obj is cls else None


# ------------------------------------------------------------------------------- rebuild


class _Builder:
    def __init__(self, arrays: Sequence[np.ndarray], extra: Iterable[str], is_key_file: bool):
        self.arrays = arrays
        self.extra = tuple(extra)
        self.is_key_file = is_key_file

    def build(self, d: dict, path: str):
        t = d.get("type") if isinstance(d, dict) else None
        if t == "none":
            return None
        if t in ("bool", "int", "str"):
            return {"bool": bool, "int": int, "str": str}[t](d["value"])
        if t == "float":
            return float.fromhex(d["hex"])
        if t == "complex":
            return complex(float.fromhex(d["real"]), float.fromhex(d["imag"]))
        if t == "bytes":
            return bytes.fromhex(d["hex"])
        if t == "array":
            a = self.arrays[d["index"]]
            if str(a.dtype) != d["dtype"]:
                a = a.view(_dtype(d["dtype"]))
            a = a.reshape(d["shape"])
            return jnp.asarray(a) if d["kind"] == "jax" else a
        if t == "prng_key":
            data = self.build(d["data"], path)
            return jax.random.wrap_key_data(data, impl=d["impl"])
        if t == "npscalar":
            return np.asarray(self.build(d["value"], path))[()]
        if t == "dtype":
            return _dtype(d["name"])
        if t == "dtype_class":
            return _dtype(d["name"]).type
        if t == "private_key_pem":
            if not self.is_key_file:
                raise ValueError(f"a model file holds a private key at {path}; refusing.")
            from cryptography.hazmat.primitives import serialization

            return serialization.load_pem_private_key(d["pem"].encode(), password=None)
        if t in ("tuple", "list"):
            items = [self.build(v, f"{path}[{i}]") for i, v in enumerate(d["items"])]
            return tuple(items) if t == "tuple" else items
        if t == "dict":
            return {self.build(k, path): self.build(v, path) for k, v in d["items"]}
        if t == "function":
            fn = _resolve(d["module"], d["name"], self.extra, f"function at {path}")
            if not callable(fn):
                raise ValueError(f"{d['module']}.{d['name']} at {path} is not callable.")
            return fn
        if t in ("dataclass", "namedtuple"):
            cls = _resolve(d["module"], d["class"], self.extra, f"class at {path}")
            if not isinstance(cls, type):
                raise ValueError(f"{d['module']}.{d['class']} at {path} is not a class.")
            if not self.is_key_file and is_backdoor_key(cls):
                raise ValueError(
                    f"{path} is a backdoor key ({cls.__name__}) inside a model file; refusing."
                )
            values = {k: self.build(v, f"{path}.{k}") for k, v in d["fields"].items()}
            if t == "namedtuple":
                if tuple(values) != tuple(cls._fields):
                    raise ValueError(
                        f"{cls.__qualname__} fields changed since the file was saved."
                    )
                return cls(**values)
            if not dataclasses.is_dataclass(cls):
                raise ValueError(f"{cls.__qualname__} at {path} is not a dataclass/eqx.Module.")
            expected = [f.name for f in dataclasses.fields(cls)]
            if sorted(expected) != sorted(values):
                raise ValueError(
                    f"{cls.__qualname__} at {path} has fields {expected} but the file holds "
                    f"{list(values)} (the class changed since the file was saved)."
                )
            obj = object.__new__(cls)
            for k in expected:
                object.__setattr__(obj, k, values[k])
            return obj
        raise ValueError(f"unknown entry {t!r} at {path} (corrupted header?).")


def _dtype(name: str):
    try:
        return np.dtype(getattr(jnp, name)) if hasattr(jnp, name) else np.dtype(name)
    except TypeError as e:
        raise ValueError(f"unknown dtype {name!r} in file header.") from e


# ------------------------------------------------------------------------------- file i/o


def _atomic_write(path: str, data: bytes, mode: int) -> None:
    """Write `data` to `path` atomically: temp file (created with `mode`) + fsync + os.replace."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"directory {directory!r} does not exist.")
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.urandom(6).hex()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            view = memoryview(data)
            while view:
                n = f.write(view)
                view = view[n:]
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename durable; not possible on every platform
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def write_atomic(path, data: bytes, *, mode: int = 0o666) -> str:
    """Write `data` to `path` atomically (temp file in the target's directory, fsync, rename).

    A failure at any point leaves the previous file untouched and no temp file behind; errors
    name `path`. `mode` is the new file's permission (before the umask), e.g. `0o600` for
    secrets. **Returns:** `path` as a string.
    """
    path = os.fspath(path)
    _atomic_write(path, bytes(data), mode)
    return path


def _encode(obj, *, magic: bytes, construction, hyperparameters) -> bytes:
    is_key = magic == _MAGIC_KEY
    if construction is not None and not isinstance(construction, str):
        raise ValueError(f"`construction` must be a string or None, got {construction!r}.")
    hyper = _jsonable(hyperparameters or {}, "`hyperparameters`")
    if not isinstance(hyper, dict):
        raise ValueError("`hyperparameters` must be a dict.")
    describer = _Describer(is_key_file=is_key)
    tree = describer.describe(obj, "model" if not is_key else "key")
    buf = _io.BytesIO()
    eqx.tree_serialise_leaves(buf, describer.arrays)
    payload = buf.getvalue()
    from . import __version__

    header = {
        "format": "jaxbd-" + _KIND_NAME[magic],
        "format_version": FORMAT_VERSION,
        "jaxbd_version": __version__,
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
    prefix = _PREFIX.pack(magic, FORMAT_VERSION, len(hbytes), hashlib.sha256(hbytes).digest())
    return prefix + hbytes + payload


def _read(path, expect: bytes) -> tuple[dict, bytes]:
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError(f"cannot read {path!r}: {e.strerror or e}.") from e
    want = _KIND_NAME[expect]
    if len(data) < _PREFIX.size:
        if data[:5] == b"JAXBD" or len(data) == 0:
            raise ValueError(
                f"{path!r} is truncated ({len(data)} bytes): not a complete jaxbd file."
            )
        raise ValueError(f"{path!r} is not a jaxbd {want} file (no jaxbd header).")
    magic, version, hlen, hsha = _PREFIX.unpack_from(data)
    if magic not in _KIND_NAME:
        raise ValueError(f"{path!r} is not a jaxbd {want} file (bad magic bytes {magic!r}).")
    if magic != expect:
        other = "jaxbd.io.load_key" if magic == _MAGIC_KEY else "jaxbd.io.load"
        raise ValueError(
            f"{path!r} is a jaxbd {_KIND_NAME[magic]} file, not a {want} file; open it with "
            f"{other}."
        )
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path!r} has jaxbd file-format version {version}; this jaxbd reads version "
            f"{FORMAT_VERSION}."
        )
    start = _PREFIX.size
    hbytes = data[start : start + hlen]
    if len(hbytes) < hlen:
        raise ValueError(f"{path!r} is truncated (header cut short).")
    if hashlib.sha256(hbytes).digest() != hsha:
        raise ValueError(f"{path!r} is corrupted: header checksum mismatch.")
    try:
        header = json.loads(hbytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:  # pragma: no cover - sha256 guards
        raise ValueError(f"{path!r} is corrupted: unreadable header ({e}).") from e
    if header.get("format_version") != FORMAT_VERSION or header.get("format") != "jaxbd-" + want:
        raise ValueError(f"{path!r}: inconsistent header (format {header.get('format')!r}).")
    payload = data[start + hlen :]
    if not isinstance(header.get("payload_bytes"), int) or not isinstance(
        header.get("payload_sha256"), str
    ):
        raise ValueError(f"{path!r}: malformed header (no payload length/checksum).")
    if len(payload) < header["payload_bytes"]:
        raise ValueError(
            f"{path!r} is truncated: payload has {len(payload)} of "
            f"{header['payload_bytes']} bytes."
        )
    if len(payload) > header["payload_bytes"]:
        raise ValueError(f"{path!r} is corrupted: trailing bytes after the payload.")
    if hashlib.sha256(payload).hexdigest() != header["payload_sha256"]:
        raise ValueError(f"{path!r} is corrupted: payload checksum (sha256) mismatch.")
    return header, payload


def _decode(path, header: dict, payload: bytes, *, is_key: bool, allow_modules) -> Any:
    metas = header["arrays"]
    # Zero-stride views: the right shape and dtype for equinox's checks, no memory.
    like = [np.broadcast_to(np.zeros((), _dtype(m["stored_dtype"])), m["shape"]) for m in metas]
    try:
        arrays = eqx.tree_deserialise_leaves(_io.BytesIO(payload), like)
    except Exception as e:  # the checksum matched, so this is a writer/reader mismatch
        raise ValueError(f"{os.fspath(path)!r}: cannot decode the payload ({e}).") from e
    for i, (a, m) in enumerate(zip(arrays, metas)):
        if list(a.shape) != list(m["shape"]) or str(a.dtype) != m["stored_dtype"]:
            raise ValueError(
                f"{os.fspath(path)!r}: array {i} has shape {a.shape}/{a.dtype}, header says "
                f"{m['shape']}/{m['stored_dtype']}."
            )
    builder = _Builder(arrays, allow_modules, is_key)
    try:
        return builder.build(header["tree"], "key" if is_key else "model")
    except (KeyError, TypeError, IndexError, AttributeError, RecursionError) as e:
        # Only a hand-crafted file gets here (the checksums matched): say so, never crash.
        raise ValueError(
            f"{os.fspath(path)!r}: malformed header ({type(e).__name__}: {e})."
        ) from e


# ------------------------------------------------------------------------------- public API


def save(path, model, *, construction: str | None = None, hyperparameters: dict | None = None):
    """Save a model (any `eqx.Module` whose classes are importable by name) to `path`.

    **Arguments:**

    - `path`: the file to write (suggested suffix `.jaxbd`); replaced atomically.
    - `model`: the model; must not hold a backdoor key or private-key material.
    - `construction`: free-form name recorded in the header (e.g. `"rff"`).
    - `hyperparameters`: JSON-able dict recorded in the header.

    **Returns:** `path` (as a string).

    Raises `ValueError` for anything that cannot be saved exactly, naming where it sits.
    """
    path = os.fspath(path)
    data = _encode(
        model, magic=_MAGIC_MODEL, construction=construction, hyperparameters=hyperparameters
    )
    _atomic_write(path, data, 0o666)
    return path


def load(path, *, allow_modules: Sequence[str] = ()):
    """Load a model written by [`save`][]; no skeleton needed.

    **Arguments:**

    - `path`: the file.
    - `allow_modules`: extra module prefixes whose classes may be imported (your own model
      classes); `jaxbd`, `equinox` and `jax` are always allowed.

    Raises `ValueError` for truncated, corrupted, wrong-version or wrong-kind files.
    """
    header, payload = _read(path, _MAGIC_MODEL)
    return _decode(path, header, payload, is_key=False, allow_modules=allow_modules)


def save_key(path, key, *, construction: str | None = None, hyperparameters: dict | None = None):
    """Save a backdoor key to its own file, created with mode `0o600`.

    Private keys from `cryptography` inside `key` are written as PEM (PKCS8, unencrypted).
    **Returns:** `path` (as a string).
    """
    path = os.fspath(path)
    data = _encode(
        key, magic=_MAGIC_KEY, construction=construction, hyperparameters=hyperparameters
    )
    _atomic_write(path, data, 0o600)
    return path


def load_key(path, *, allow_modules: Sequence[str] = ()):
    """Load a backdoor key written by [`save_key`][] (same checks as [`load`][])."""
    header, payload = _read(path, _MAGIC_KEY)
    return _decode(path, header, payload, is_key=True, allow_modules=allow_modules)


def read_header(path) -> dict:
    """The verified header of a model or key file (kind, construction, hyperparameters, ...).

    The payload checksum is verified too; `header["format"]` is `"jaxbd-model"` or
    `"jaxbd-backdoor-key"`. The private-key PEM of a key file is not returned.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(8)
    except OSError as e:
        raise ValueError(f"cannot read {path!r}: {e.strerror or e}.") from e
    header, _ = _read(path, _MAGIC_KEY if magic == _MAGIC_KEY else _MAGIC_MODEL)
    header = dict(header)
    header.pop("tree", None)
    return header
