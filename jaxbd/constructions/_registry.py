"""One registry of constructions, read by the CLI, the experiments, the report and the tests.

jaxbd's constructions register themselves on import of `jaxbd.constructions`; a user's
construction registers with [`register`][] in its own file — or, to reach the `jaxbd` command
with no other change, from a package that declares an entry point in the group
`jaxbd.constructions` (loaded by [`load_plugins`][]; the CLI's `--plugin MODULE` imports one
module by name, chosen on the command line — never by anything read from a data file).
"""

import importlib
import importlib.metadata
import importlib.util
from typing import TypeVar

from ._abstract import KINDS, AbstractConstruction


__all__ = ["register", "get", "names", "registry", "load_plugins"]

_REGISTRY: dict[str, type[AbstractConstruction]] = {}

_C = TypeVar("_C", bound=type[AbstractConstruction])


def register(cls: _C) -> _C:
    """Register a final construction class under its `name` (usable as a decorator; the class
    keeps its own type, fields and all, for type checkers)."""
    if not (isinstance(cls, type) and issubclass(cls, AbstractConstruction)):
        raise ValueError(f"`cls` must be an AbstractConstruction subclass, got {cls!r}.")
    for attr in ("name", "title", "source", "kind", "tasks"):
        if not hasattr(cls, attr):
            raise ValueError(f"construction {cls.__qualname__} does not set `{attr}`.")
    if cls.kind not in KINDS:
        raise ValueError(f"{cls.__qualname__}.kind must be one of {KINDS}, got {cls.kind!r}.")
    if cls.kind == "one-way" and cls.fixed_target is None:
        raise ValueError(f"{cls.__qualname__} is one-way: set `fixed_target`.")
    old = _REGISTRY.get(cls.name)
    if old is not None and old is not cls:
        raise ValueError(f"a construction named {cls.name!r} is already registered ({old}).")
    _REGISTRY[cls.name] = cls
    if not cls.__module__.startswith("jaxbd."):  # jaxbd's own: in io's fixed module list
        from .. import io

        io.register(cls)  # a construction can be recorded in a file (its fields are data)
    return cls


def get(name: str) -> type[AbstractConstruction]:
    """The construction class registered as `name`."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown construction {name!r}; known: {', '.join(_REGISTRY)}."
        ) from None


def names() -> list[str]:
    return list(_REGISTRY)


def registry() -> dict[str, type[AbstractConstruction]]:
    return dict(_REGISTRY)


def _import_plugin(spec: str):
    """Import a module by name, or a `.py` file by path (as the module named after its stem)."""
    import os
    import sys

    if not spec.endswith(".py"):
        return importlib.import_module(spec)
    name = os.path.splitext(os.path.basename(spec))[0]
    loaded = sys.modules.get(name)
    path = getattr(loaded, "__file__", None)
    if loaded is not None and path and os.path.samefile(path, spec):
        return loaded
    if not os.path.isfile(spec):
        raise ValueError(f"plugin file {spec!r} does not exist.")
    loader = importlib.util.spec_from_file_location(name, spec)
    if loader is None or loader.loader is None:
        raise ValueError(f"plugin file {spec!r} cannot be imported as a Python module.")
    module = importlib.util.module_from_spec(loader)
    sys.modules[name] = module
    try:
        loader.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_plugins(modules=()) -> list[str]:
    """Import the plugins named on the command line (module names or `.py` files: code the
    user chose to run, never something read from a data file) and every installed entry point
    of the group `jaxbd.constructions`; each registers its constructions. Returns their names."""
    loaded = []
    for mod in modules:
        _import_plugin(mod)
        loaded.append(mod)
    for ep in importlib.metadata.entry_points(group="jaxbd.constructions"):
        ep.load()
        loaded.append(ep.value)
    return loaded
