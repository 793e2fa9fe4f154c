"""Experiments that reproduce the papers' claims; one experiment per module.

Every public module in this package registers its experiment(s) with
[`jaxbd.experiments.register`][]; [`registry`][] imports them all and returns them in report order.
A claim is `Claim(statement, source, metric, rule)`: the metric an [`Estimate`][] (`rate`,
`mean`, `exact`) and the rule ([`AtLeast`][], [`AtMost`][], [`Within`][], [`Describe`][]) the
threshold written once, from which the verdict, the criterion text and the test's power come.
"""

import importlib
import pkgutil

from ._claims import (
    AtLeast as AtLeast,
    AtMost as AtMost,
    Describe as Describe,
    Estimate as Estimate,
    Rule as Rule,
    Within as Within,
    exact as exact,
    mean as mean,
    rate as rate,
)
from ._core import (
    _REGISTRY,
    Claim as Claim,
    Context as Context,
    Experiment as Experiment,
    ExperimentResult as ExperimentResult,
    Figure as Figure,
    Table as Table,
    register as register,
)
from ._sweep import (
    DataSpec as DataSpec,
    Sweep as Sweep,
    SweepResult as SweepResult,
    run_sweep as run_sweep,
)


__all__ = [
    "AtLeast", "AtMost", "Claim", "Context", "DataSpec", "Describe", "Estimate", "Experiment",
    "ExperimentResult", "Figure", "Rule", "Sweep", "SweepResult", "Table", "Within", "exact",
    "get", "mean", "rate", "register", "registry", "run_sweep",
]  # fmt: skip


def registry() -> dict[str, Experiment]:
    """All registered experiments, by name, in report order."""
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return dict(sorted(_REGISTRY.items(), key=lambda kv: (kv[1].order, kv[0])))


def get(name: str) -> Experiment:
    """The experiment registered as `name`; `ValueError` listing the known names otherwise."""
    reg = registry()
    if name not in reg:
        raise ValueError(f"Unknown experiment {name!r}; known: {', '.join(reg)}.")
    return reg[name]
