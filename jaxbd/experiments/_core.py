"""Typed experiment results and the experiment registry.

An experiment is a function `run(ctx: Context) -> ExperimentResult`, registered with
[`register`][]. A result holds tables, figures and *claims* ([`Claim`][], `_claims.py`): a statement from a
paper, the number that was measured, and a verdict and its power computed by one rule (never
typed in by hand).
"""

import dataclasses
import functools
import time
from collections.abc import Callable, Iterable
from typing import Any

from matplotlib.figure import Figure as MplFigure

from ._claims import Claim


__all__ = ["Claim", "Table", "Figure", "ExperimentResult", "Context", "Experiment", "register"]


@dataclasses.dataclass
class Table:
    """Rows of numbers or strings under named columns."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""

    def __post_init__(self):
        for r in self.rows:
            if len(r) != len(self.columns):
                raise ValueError(
                    f"Table {self.title!r}: a row has {len(r)} cells for {len(self.columns)} columns."
                )


@dataclasses.dataclass
class Figure:
    """A matplotlib figure saved as `filename` (PNG) by the report."""

    filename: str
    caption: str
    figure: MplFigure


@dataclasses.dataclass
class ExperimentResult:
    """What one experiment returns; `data` holds any extra JSON-able raw numbers.

    `name` and `title` are filled in by [`register`][] (the registered function sets them on
    what it returns), so an experiment gives only its `summary` and what it measured.
    """

    name: str = ""
    title: str = ""
    summary: str = ""
    claims: list[Claim] = dataclasses.field(default_factory=list)
    tables: list[Table] = dataclasses.field(default_factory=list)
    figures: list[Figure] = dataclasses.field(default_factory=list)
    data: dict = dataclasses.field(default_factory=dict)
    quick: bool = False
    seconds: float = 0.0
    error: str | None = None


@dataclasses.dataclass
class Context:
    """How an experiment is run: `quick` (a smoke-sized run), the base `seed`, progress bars."""

    quick: bool = False
    seed: int = 0
    show_progress: bool = True

    def progress(self, iterable: Iterable, desc: str, total: int | None = None) -> Iterable:
        """Wrap a long loop in a progress bar (tqdm, to stderr) when enabled."""
        if not self.show_progress:
            return iterable
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=desc, total=total, leave=False)


@dataclasses.dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    description: str
    order: int
    fn: Callable[[Context], ExperimentResult]

    def run(self, ctx: Context) -> ExperimentResult:
        start = time.perf_counter()
        result = self.fn(ctx)
        if not isinstance(result, ExperimentResult):
            raise TypeError(f"experiment {self.name!r} returned {type(result).__name__}")
        result.seconds = time.perf_counter() - start
        result.quick = ctx.quick
        return result


_REGISTRY: dict[str, Experiment] = {}


def register(name: str, *, title: str, description: str, order: int = 100):
    """Decorator registering `fn(ctx) -> ExperimentResult` under `name` for `jaxbd reproduce`.

    `order` sorts experiments in the report; `description` says in one or two sentences what
    the experiment shows (used by `jaxbd list` and the README). The decorated function sets
    `name` and `title` on the result it returns, so the experiment writes neither again.
    """

    def wrap(fn):
        if name in _REGISTRY and getattr(_REGISTRY[name].fn, "__wrapped__", None) is not fn:
            raise ValueError(f"experiment {name!r} registered twice")

        @functools.wraps(fn)
        def named(ctx: Context) -> ExperimentResult:
            result = fn(ctx)
            if isinstance(result, ExperimentResult):  # name and title: written once, here
                result.name, result.title = name, title
            return result

        _REGISTRY[name] = Experiment(name, title, description, order, named)
        return named

    return wrap
