"""Describe an object tree as the header's JSON plus a list of arrays (the save side).

Each `eqx.Module` / dataclass / NamedTuple becomes its registry name and one description per
field; each function its registry name; each array an index into the payload; scalars, strings
and bytes are written inline (floats as exact hex). Every string, bytes value and array of a
model file is scanned for key material (`_secrets`), and backdoor keys are refused by type.
"""

import dataclasses
import sys
from collections.abc import Mapping

import numpy as np

from . import _registry, _secrets
from ._arrays import PRNG_IMPLS, dtype, stored_form
from ._header import MAX_DEPTH


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


def _refuse_flax(obj, path: str, depth: int) -> None:
    """Flax modules a file could not give back: any NNX module (a graph of `nnx.Variable`s,
    not a dataclass of fields), and a linen module saved alone (it holds no parameters, so
    what comes back is no model; `jaxbd.finetune` takes the pair `(module, variables)`, and so
    does `save`). Flax is only looked at when the caller has imported it."""
    nnx, linen = sys.modules.get("flax.nnx"), sys.modules.get("flax.linen")
    where = f"`{path}`" if depth == 0 else path  # `model` (the argument) or a path inside it
    if nnx is not None and isinstance(obj, nnx.Module):
        raise ValueError(
            f"cannot save {where}: a Flax NNX module ({type(obj).__name__}) is a graph of "
            "variables that jaxbd.io could not restore; save an eqx.Module, or the linen pair "
            "(module, variables), or the NNX state with Flax's own checkpointing."
        )
    if linen is not None and depth == 0 and isinstance(obj, linen.Module):
        raise ValueError(
            f"cannot save {where}: a Flax linen module ({type(obj).__name__}) alone holds no "
            "parameters, so the file could not be restored as a model; save the pair "
            "(module, variables) with variables = module.init(key, x[0]) (load it with "
            f"jaxbd.io.load(path, classes=({type(obj).__name__},)))."
        )


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
            if impl not in PRNG_IMPLS:
                raise ValueError(f"cannot save PRNG key at {path}: unknown implementation {impl}.")
            d = self.add_array(np.asarray(jax.random.key_data(x)), path)
            return {"type": "prng_key", "impl": impl, "data": d}
        kind = "jax" if isinstance(x, jax.Array) else "numpy"
        stored, meta = stored_form(np.asarray(x), path)
        self._scan(stored, path)
        index = len(self.arrays)
        self.arrays.append(stored)
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
        _refuse_flax(obj, path, depth)
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
            dtype(obj.name)
            return {"type": "dtype", "name": obj.name}
        if isinstance(obj, type) and issubclass(obj, np.generic):
            return {"type": "dtype_class", "name": dtype(np.dtype(obj).name).name}
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
        hint = " (a Mapping that is not a dict: pass dict(...); flax: unfreeze)"
        raise ValueError(
            f"cannot save {type(obj).__module__}.{type(obj).__qualname__} at {path}: "
            "jaxbd.io saves eqx.Modules/dataclasses of arrays, numbers, strings, bytes, "
            "tuples, lists, dicts and registered functions"
            + (hint if isinstance(obj, Mapping) else "")
            + "."
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
