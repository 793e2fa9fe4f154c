"""The construction interface: plant a backdoor once, get the whole lab.

A construction is a final `eqx.Module` subclass of [`AbstractConstruction`][] whose fields are
its hyperparameters (checked in `__check_init__`, defaults that give a meaningful model on the
bundled data). It says how to **plant** (`plant(key, x, y) -> Planted(honest, backdoored,
backdoor_key)`), how to **activate** one example, how to draw a **wrong key** (the control), and
what the attacker's **target** is. Everything else — evaluation with its controls, fine-tuning,
smoothing and certification, detection, files, the CLI — is written once against this
interface (equinox's abstract-or-final pattern; optimistix's `AbstractQuasiNewton` -> `BFGS`).
"""

import abc
from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .. import metrics
from .._validate import check_labels, check_matrix, is_concrete


__all__ = ["AbstractConstruction", "Planted", "KINDS"]

# "flip": activation flips the label (no target); "targeted": activation takes the attacker's
# label; "one-way": activation pushes towards one fixed label (`fixed_target`).
KINDS = ("flip", "targeted", "one-way")


class Planted(NamedTuple):
    """What planting returns: the honest model, the backdoored one, and the key that opens it."""

    honest: Any
    backdoored: Any
    backdoor_key: Any


class AbstractConstruction(eqx.Module):
    """A backdoor construction (abstract): hyperparameters as fields, the pipeline as methods.

    **Class attributes** (every final class sets the first four): `name` (registry name, e.g.
    `"rff"`), `title`, `source` (paper and section), `kind` (one of `KINDS`); with defaults:
    `tasks` (`("binary", "multiclass")`, or `("binary",)` for a binary-only construction),
    `normalize` (how the CLI normalises bundled data for it), `at_most_features` (fields that
    are support sizes: [`check_data`][] bounds each by the data's features).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    source: ClassVar[str]
    kind: ClassVar[str]
    tasks: ClassVar[tuple[str, ...]] = ("binary", "multiclass")
    normalize: ClassVar[str] = "standardize"
    fixed_target: ClassVar[float | None] = None  # for "one-way" constructions
    at_most_features: ClassVar[tuple[str, ...]] = ()

    @abc.abstractmethod
    def plant(self, key, x, y) -> Planted:
        """Train the honest model and the backdoored one on `(x, y)`; return both and the key."""

    @abc.abstractmethod
    def activate(self, backdoor_key, x, target=None) -> Array:
        """One example `x (d,)` -> its activated version (same shape and dtype)."""

    def wrong_key(self, key, x, y, planted: Planted):
        """A backdoor key of the same kind that does *not* belong to `planted` (the control).

        Default: the key of an independent plant on the same data.
        """
        return self.plant(key, x, y).backdoor_key

    def default_target(self, planted: Planted) -> Any:
        """The target when none is given (targeted constructions whose key fixes it)."""
        return None

    # ---------------------------------------------------------------- derived, written once

    def task_classes(self) -> int | None:
        """The number of classes of the task, when the construction fixes it without reading
        labels (2 for a binary-only construction); `None`: read from (concrete) labels."""
        return 2 if tuple(self.tasks) == ("binary",) else None

    def for_task(self, num_classes: int) -> "AbstractConstruction":
        """This construction bound to a task of `num_classes` classes (a `Dataset`'s static
        `num_classes`), so that `plant` can take traced labels. Default: itself."""
        return self

    def check_task(self, y, x) -> tuple[str, int]:
        """The task of `(x, y)` (`"binary"` or `"multiclass"`, classes); refuses other tasks.

        Concrete labels decide it (and must agree with [`task_classes`][] when that is known);
        traced labels take it from [`task_classes`][] and are checked by `eqx.error_if`."""
        x = check_matrix(x, "x")
        known = self.task_classes()
        _, task, c = check_labels(y, x, num_classes=None if is_concrete(y) else known, traced=True)
        if known is not None and task in self.tasks and c != known:
            raise ValueError(
                f"`y`: the {self.name} construction is set for {known} classes, got labels of "
                f"{c} classes."
            )
        if task not in self.tasks:
            raise ValueError(
                f"`y`: the {self.name} construction handles {' and '.join(self.tasks)} tasks, "
                f"got a {task} task with {c} classes."
            )
        return task, c

    def check_at_most_features(self, name: str, x) -> None:
        """The hyperparameter `name` (a support size) must not exceed the data's features."""
        value = getattr(self, name)
        if value > x.shape[1]:
            raise ValueError(
                f"`{name}` must be at most {x.shape[1]} (the data's features), got {value}."
            )

    def check_data(self, x, y) -> tuple[str, int]:
        """Everything `plant` needs of the data, checked before any work (the task, and
        hyperparameters that depend on the data, e.g. a support no larger than the dimension).
        Returns `(task, num_classes)`. Subclasses extend it; `plant` calls it first."""
        out = self.check_task(y, x)
        for name in self.at_most_features:
            self.check_at_most_features(name, x)
        return out

    def resolve_target(self, target, *, num_classes: int):
        """The label the attacker aims at: `None` for a flip, the fixed label for a one-way
        backdoor, and the given `target` (checked against the task) for a targeted one."""
        if self.kind == "flip":
            if target is not None:
                raise ValueError(
                    f"`target`: the {self.name} backdoor flips labels; give no target."
                )
            return None
        if self.kind == "one-way":
            if target is not None and float(target) != self.fixed_target:
                raise ValueError(
                    f"`target`: the {self.name} backdoor only pushes towards {self.fixed_target}."
                )
            return self.fixed_target
        if target is None:
            raise ValueError(f"`target`: the {self.name} backdoor is targeted; give a label.")
        if num_classes == 2:
            if float(target) not in (1.0, -1.0):
                raise ValueError(f"`target` must be +1 or -1 for a binary task, got {target!r}.")
            return float(target)
        if float(target) != int(target) or not 0 <= int(target) < num_classes:
            raise ValueError(f"`target` must be a label 0..{num_classes - 1}, got {target!r}.")
        return int(target)

    def evaluate(self, key, planted: Planted, x, y, *, target=None, wrong_key=None):
        """Clean accuracy, ASR and its three controls (`jaxbd.metrics.evaluate_backdoor`).

        `wrong_key` (the wrong-key control) defaults to `self.wrong_key` on `(x, y)`.
        """
        import jax.random as jr

        _, c = self.check_task(y, x)
        if target is None and self.kind == "targeted":
            target = self.default_target(planted)
        t = self.resolve_target(target, num_classes=c)
        k1, k2 = jr.split(key)
        wk = self.wrong_key(k2, x, y, planted) if wrong_key is None else wrong_key
        return metrics.evaluate_backdoor(
            k1,
            planted.honest,
            planted.backdoored,
            lambda e: self.activate(planted.backdoor_key, e, t),
            x,
            y,
            target=t,
            wrong_activate=lambda e: self.activate(wk, e, t),
        )

    def hyperparameters(self) -> dict:
        """The fields as a JSON-able dict (recorded in the headers of saved files)."""
        import dataclasses

        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, AbstractConstruction):
                v = {"construction": v.name, **v.hyperparameters()}
            elif hasattr(v, "dtype") and jnp.ndim(v) == 0:
                v = v.item()
            out[f.name] = v
        return out
