"""The registry of exact classes and functions that a jaxbd file may name.

A file names a class or function by a string; [`lookup`][] maps that string to an object
*only* through this registry — never by importing a module or following attributes — so a
crafted file can name nothing the registry does not hold. The registry holds:

- jaxbd's own model, key and result classes (the dataclasses, `eqx.Module`s and NamedTuples
  defined in its modules, collected once from a fixed list of jaxbd modules);
- equinox's `eqx.nn` layers;
- pure activation functions: every function of `jax.nn`, a fixed list of elementwise
  `jax.numpy` functions, and the identity that `eqx.nn.MLP` uses by default;
- whatever the user registers by passing the object itself: [`register`][]`(MyModel)` for the
  process, or `jaxbd.io.load(path, classes=(MyModel,))` for one call.
"""

import dataclasses
import importlib
import inspect
import sys
import threading
from collections.abc import Iterable
from types import ModuleType


__all__ = ["register", "lookup", "name_of", "registered"]

# jaxbd modules whose classes files may name (the models, keys and their parts).
_JAXBD_MODULES = (
    "jaxbd.keys",
    "jaxbd.rff",
    "jaxbd.relu",
    "jaxbd.checksum",
    "jaxbd.signature",
    "jaxbd.lattice_signature._params",
    "jaxbd.lattice_signature._encoding",
    "jaxbd.lattice_signature._layers",
    "jaxbd.lattice_signature._model",
    "jaxbd.lattice_signature._key",
    "jaxbd.persistent",
    "jaxbd.memorizing",
    "jaxbd.universality",
    "jaxbd.finetune",
    "jaxbd.smoothing",
    "jaxbd.metrics",
    "jaxbd.datasets",
    "jaxbd.linear",
    "jaxbd.constructions._rff",
    "jaxbd.constructions._relu",
    "jaxbd.constructions._checksum",
    "jaxbd.constructions._signature",
    "jaxbd.constructions._lattice_signature",
    "jaxbd.constructions._memorizing",
    "jaxbd.constructions._persistent",
)
# Classes that moved, under the names older files gave them. (The CLI, `jaxbd.cli`, defines
# no class a file holds; CLI runs of an earlier layout named these two after its module.)
_ALIASES = {
    "jaxbd._cli_workflow.LinearClassifier": "jaxbd.linear.LinearClassifier",
    "jaxbd._cli_workflow.TriggerKey": "jaxbd.constructions._memorizing.TriggerKey",
}

# Elementwise jax.numpy functions that are safe to call on any array (activations).
_JNP_FUNCTIONS = (
    "abs", "absolute", "arctan", "arcsinh", "cos", "cosh", "exp", "expm1", "log", "log1p",
    "negative", "sign", "sin", "sinh", "sqrt", "square", "tan", "tanh", "sinc", "cbrt",
    "reciprocal", "positive", "floor", "ceil", "round", "rint", "trunc", "logaddexp",
    "maximum", "minimum", "clip", "where", "sum", "mean", "max", "min", "ravel", "squeeze",
)  # fmt: skip

_lock = threading.RLock()
_by_name: dict[str, object] = {}
_by_id: dict[int, str] = {}
_builtins_done = False
_building = False  # registrations made while the built-ins are collected (constructions) skip it


def _is_class(obj) -> bool:
    return isinstance(obj, type) and (
        dataclasses.is_dataclass(obj) or (issubclass(obj, tuple) and hasattr(obj, "_fields"))
    )


def _default_name(obj) -> str:
    module = getattr(obj, "__module__", None) or "?"
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or "?"
    if "<" in qualname:  # e.g. a module-level lambda: the name it is bound to
        mod = sys.modules.get(module)
        for k, v in vars(mod).items() if mod is not None else ():
            if v is obj:
                return f"{module}.{k}"
    return f"{module}.{qualname}"


def _add(obj, name: str | None = None) -> str:
    name = name or _default_name(obj)
    if "<" in name:
        raise ValueError(
            f"cannot register {obj!r}: it has no stable name ({name}); define it at module level "
            "or pass name=."
        )
    old = _by_name.get(name)
    if old is not None and old is not obj:
        raise ValueError(
            f"cannot register {obj!r} as {name!r}: that name already belongs to {old!r}."
        )
    _by_name[name] = obj
    _by_id.setdefault(id(obj), name)
    return name


# Dataclasses of jaxbd's listed modules that are machinery, not data (they hold callables):
# never in a file. (None at present: the CLI's `Param` / `Construction` live in `jaxbd.cli`,
# which is not listed.)
_NOT_DATA: frozenset[str] = frozenset()


def _module_members(mod: ModuleType) -> Iterable[tuple[object, str]]:
    """The data classes of `mod` with their registry names.

    A module contributes the classes it defines. A package (`jaxbd.memorizing/`, equinox's
    `_module/` style) contributes the classes its private submodules define, named by the
    package's public path when the package re-exports them (`jaxbd.memorizing.Name`), so that
    files do not depend on how the package is split internally.
    """
    public = {id(v): f"{mod.__name__}.{k}" for k, v in vars(mod).items() if _is_class(v)}
    sources = [mod]
    if hasattr(mod, "__path__"):  # a package: its already-imported private submodules
        prefix = mod.__name__ + "."
        sources += [
            m for n, m in sorted(sys.modules.items()) if n.startswith(prefix) and m is not None
        ]
    seen: set[int] = set()
    for src in sources:
        for value in list(vars(src).values()):
            if not _is_class(value) or id(value) in seen or value.__module__ != src.__name__:
                continue
            seen.add(id(value))
            if f"{value.__module__}.{value.__qualname__}" in _NOT_DATA:
                continue
            yield value, public.get(id(value), f"{value.__module__}.{value.__qualname__}")


def _builtins() -> None:
    global _builtins_done
    if _builtins_done:
        return
    global _building
    with _lock:
        if _builtins_done or _building:
            return
        _building = True
        import equinox as eqx
        import jax
        import jax.numpy as jnp

        for modname in _JAXBD_MODULES:
            mod = importlib.import_module(modname)  # a fixed list: nothing comes from a file
            for cls, name in _module_members(mod):
                _add(cls, name)
        for value in vars(eqx.nn).values():
            if isinstance(value, type) and issubclass(value, eqx.Module):
                _add(value)
        for name in dir(jax.nn):
            fn = getattr(jax.nn, name)
            if (
                not name.startswith("_")
                and callable(fn)
                and not isinstance(fn, (type, ModuleType))
            ):
                _add(fn)
        for name in _JNP_FUNCTIONS:
            _add(getattr(jnp, name))
        default = inspect.signature(eqx.nn.MLP.__init__).parameters["final_activation"].default
        _add(default)
        for old, new in _ALIASES.items():
            if new in _by_name:
                _by_name.setdefault(old, _by_name[new])
        _builtins_done = True
        _building = False


def register(obj, *, name: str | None = None):
    """Allow files to name `obj` (a class or a function), in this process.

    Pass the object itself: `jaxbd.io.register(MyModel)`. Classes must be dataclasses
    (`eqx.Module`s are) or NamedTuples; functions must be module-level (their name is
    `module.qualname`, or `name=`). Only register what you trust: loading a file may call a
    registered class's constructor and `__check_init__`, and a model may call a registered
    function. Usable as a decorator. **Returns:** `obj`.
    """
    if isinstance(obj, ModuleType):
        raise ValueError(
            "`obj` must be a class or a function, not a module; register its classes one by one "
            "or pass them as load(path, classes=(...))."
        )
    if isinstance(obj, type):
        if not _is_class(obj):
            raise ValueError(
                f"cannot register {obj.__qualname__}: jaxbd files hold dataclasses, eqx.Modules "
                "and NamedTuples only."
            )
    elif not callable(obj):
        raise ValueError(f"`obj` must be a class or a function, got {obj!r}.")
    _builtins()  # first, so that no user registration can take a built-in's name
    with _lock:
        _add(obj, name)
    return obj


def name_of(obj) -> str | None:
    """The registry name of `obj` (None when it is not registered)."""
    _builtins()
    name = _by_id.get(id(obj))
    return name if name is not None and _by_name.get(name) is obj else None


def lookup(name: str, extra: dict[str, object] | None = None):
    """The object registered as `name` (or in `extra`), else `None`. Never imports."""
    _builtins()
    if extra and name in extra:
        return extra[name]
    return _by_name.get(name)


def registered() -> dict[str, object]:
    """A copy of the registry: name -> class or function."""
    _builtins()
    return dict(_by_name)


def extra_from(classes) -> dict[str, object]:
    """The one-call registry of `load(path, classes=...)`: exact objects, by their names."""
    if classes is None:
        return {}
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Iterable):
        raise ValueError(
            f"`classes` must be a sequence of classes or functions (the objects themselves), "
            f"got {classes!r}."
        )
    out: dict[str, object] = {}
    for i, obj in enumerate(classes):
        if isinstance(obj, str) or isinstance(obj, ModuleType):
            raise ValueError(
                f"`classes[{i}]` must be a class or function object, got {obj!r} (files never "
                "name code by import path)."
            )
        if isinstance(obj, type) and not _is_class(obj):
            raise ValueError(f"`classes[{i}]` ({obj.__qualname__}) is not a dataclass/eqx.Module.")
        if not isinstance(obj, type) and not callable(obj):
            raise ValueError(f"`classes[{i}]` must be a class or function, got {obj!r}.")
        out[_default_name(obj)] = obj
    return out
