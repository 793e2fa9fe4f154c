"""jaxbd: provable backdoors in machine learning, in JAX + Equinox.

Constructions of Goldwasser–Kim–Vaikuntanathan–Zamir ("Planting Undetectable Backdoors"),
Chardouvelis–Dao and Leonardis: plant them, activate them, hunt for them, remove them.

The library modules are imported eagerly (`import jaxbd; jaxbd.sharding` works). The
experiments and the report (which pull in matplotlib) are imported on first use of
`jaxbd.experiments` / `jaxbd.report`.
"""

import importlib as _importlib
import importlib.metadata as _metadata

from . import (
    checksum as checksum,
    clwe as clwe,
    constructions as constructions,
    datasets as datasets,
    detect as detect,
    finetune as finetune,
    io as io,
    keys as keys,
    lattice_signature as lattice_signature,
    linear as linear,
    memorizing as memorizing,
    metrics as metrics,
    persistent as persistent,
    relu as relu,
    rff as rff,
    sharding as sharding,
    signature as signature,
    smoothing as smoothing,
    train as train,
    universality as universality,
)


try:
    __version__ = _metadata.version("jaxbd")
except _metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

_LAZY = ("experiments", "report")


def __getattr__(name):
    if name in _LAZY:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'jaxbd' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
