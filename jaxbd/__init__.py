"""jaxbd: provable backdoors in machine learning, in JAX + Equinox.

Constructions of Goldwasser–Kim–Vaikuntanathan–Zamir ("Planting Undetectable Backdoors"),
Chardouvelis–Dao and Leonardis: plant them, activate them, hunt for them, remove them.
"""

import importlib as _importlib


__version__ = "0.1.0"

_SUBMODULES = (
    "datasets",
    "metrics",
    "experiments",
    "report",
    "clwe",
    "rff",
    "relu",
    "finetune",
    "universality",
    "checksum",
    "signature",
    "persistent",
    "memorizing",
    "smoothing",
    "detect",
    "io",
)


def __getattr__(name):
    # Subpackages load on first use (`jaxbd.rff.train(...)` works after `import jaxbd`).
    if name in _SUBMODULES:
        try:
            return _importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{name}":
                raise AttributeError(f"jaxbd has no module {name!r} (not built yet)") from e
            raise
    raise AttributeError(f"module 'jaxbd' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
