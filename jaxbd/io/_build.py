"""Rebuild an object tree from the header's JSON and the payload's arrays (the load side).

Every class and function name is looked up in the registry (`_registry`): no import, no
attribute walk, no pickle. Objects are rebuilt through their constructors when the constructor
takes exactly the fields (so `__post_init__`, converters and `__check_init__` run); otherwise
field by field, after which every `__check_init__` of the class's MRO is run, as equinox does
after a custom `__init__`.
"""

import dataclasses
import inspect
from typing import Any

import numpy as np

from . import _registry, _secrets
from ._arrays import PRNG_IMPLS, dtype, restored
from ._header import MAX_DEPTH


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

            if d.get("impl") not in PRNG_IMPLS:
                raise ValueError(f"{path}: unknown PRNG implementation {d.get('impl')!r:.60}.")
            data = self._array(d["data"], path)
            return jax.random.wrap_key_data(jnp.asarray(data), impl=d["impl"])
        if t == "npscalar":
            return np.asarray(self._array(d["value"], path, as_numpy=True))[()]
        if t == "dtype":
            return dtype(d["name"])
        if t == "dtype_class":
            return dtype(d["name"]).type
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
        a = restored(self.arrays[i], self.metas[i])
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
