r"""Sweeps as data: constructions x datasets x seeds x grid, planted and evaluated by one driver.

A [`Sweep`][] names a registered construction (or passes an instance), the datasets, the seeds
and a grid of hyperparameters; [`run_sweep`][] plants every cell through the construction
interface (`jaxbd.constructions`: `plant`, then `evaluate` with its controls written once) and
returns a [`SweepResult`][] whose metrics are arrays indexed `[dataset, *grid, seed]`, with
`estimate(...)` turning a cell's seeds into an [`Estimate`][] for a [`Claim`][] — so an
experiment is its sweep, its claims and its figures.

**Planting over seeds.** The dataset split follows the seed (`datasets.load(..., seed=seed)`,
with the construction's own `normalize`), so a cell's seeds are `(key, x_train, y_train)`
triples of equal shapes. Where the construction's `plant` traces with the data as traced
arrays, the driver plants all seeds of a cell in one program, `jaxbd.sharding.sharded_map`
over the seeds (spread over `jax.devices()`, over every process under `jax.distributed`; one
compile per cell shape); the evaluation with its controls then runs per seed on the host.
The task comes from the `Dataset` (its static `num_classes`, bound with the construction's
`for_task`), so labels never need to be concrete (a bad label raises by `eqx.error_if`).
Constructions whose `plant` reads concrete values of the data (host code such as Ed25519
signatures or lattice trapdoors, a data-dependent bandwidth) plant seed after seed in a host
loop; both give the same metrics (tested on 4 CPU devices).
`SweepResult.sharded` records which path each cell took.
"""

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .. import constructions, datasets
from ..sharding import sharded_map
from ._claims import Estimate, mean


__all__ = ["DataSpec", "Sweep", "SweepResult", "run_sweep"]

METRICS = (
    "clean_accuracy_honest",
    "clean_accuracy_backdoored",
    "asr",
    "control_honest",
    "control_random",
    "control_wrong_key",
    "l0",
    "l2",
    "linf",
    "relative_l2",
)
RATES = frozenset(METRICS[:6])  # fractions of the test inputs (Bernoulli trials)


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """A bundled dataset: `name`, `classes` (e.g. `(3, 8)`, or None for all), `options` (further
    keywords of `datasets.load`, e.g. a synthetic set's `dim`), and `label`."""

    name: str
    classes: tuple | None = None
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.classes is None:
            return self.name
        return f"{self.name} " + " vs ".join(str(c) for c in self.classes)


@dataclasses.dataclass(frozen=True)
class Sweep:
    """What to plant: a construction x datasets x seeds x a hyperparameter grid.

    **Fields:** `construction` (a registry name or an instance whose fields are the fixed
    hyperparameters); `datasets` (`DataSpec`s); `seeds`; `grid` (hyperparameter name ->
    values, the grid is their product); `fixed` (hyperparameters applied to every cell);
    `target` (for targeted constructions: the attacker's label; default the construction's);
    `activation` (hyperparameters that change only `activate`, e.g. the ReLU `strength`: every
    planted cell is evaluated at each of their points without planting again; the metric
    arrays get their axes after the grid's, `[dataset, *grid, *activation, seed]`).
    """

    construction: Any
    datasets: Sequence[DataSpec]
    seeds: Sequence[int]
    grid: Mapping[str, Sequence] = dataclasses.field(default_factory=dict)
    fixed: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    target: Any = None
    activation: Mapping[str, Sequence] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if not self.datasets or not self.seeds:
            raise ValueError("a sweep needs at least one dataset and one seed.")
        for name, values in {**self.grid, **self.activation}.items():
            if isinstance(values, (str, bytes)) or len(values) == 0:
                raise ValueError(f"`grid[{name!r}]` must be a non-empty sequence of values.")

    def base(self) -> constructions.AbstractConstruction:
        c = self.construction
        if isinstance(c, str):
            return constructions.get(c)(**self.fixed)
        if not isinstance(c, constructions.AbstractConstruction):
            raise TypeError(f"`construction` must be a registry name or an instance, got {c!r}.")
        return dataclasses.replace(c, **self.fixed) if self.fixed else c

    def cells(self):
        """`(grid point dict, construction)` for every point of the grid, in row-major order."""
        base = self.base()
        names = list(self.grid)
        for values in itertools.product(*(self.grid[n] for n in names)):
            point = dict(zip(names, values))
            yield point, (dataclasses.replace(base, **point) if point else base)


@dataclasses.dataclass
class SweepResult:
    """Metrics of a sweep as arrays `[dataset, *grid, seed]` (`metrics[name]`), the number of
    test inputs per dataset (`num_test`), and the planted models of the first seed per cell
    (`planted[(dataset label, grid tuple)]`, for figures and white-box follow-ups);
    `sharded[(dataset label, grid tuple)]`: whether that cell's seeds were planted in one
    sharded program (see the module docstring) or in a host loop."""

    sweep: Sweep
    metrics: dict[str, np.ndarray]
    num_test: np.ndarray
    planted: dict
    sharded: dict = dataclasses.field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return [d.label for d in self.sweep.datasets]

    def _index(self, dataset, point) -> tuple:
        di = self.labels.index(dataset) if isinstance(dataset, str) else int(dataset)
        idx = [di]
        for name, values in {**self.sweep.grid, **self.sweep.activation}.items():
            if name not in point:
                raise ValueError(f"give the grid value of {name!r} (one of {list(values)}).")
            idx.append(list(values).index(point[name]))
        return tuple(idx)

    def values(self, metric: str, dataset, **point) -> np.ndarray:
        """The per-seed values of `metric` at one dataset and grid point."""
        return self.metrics[metric][self._index(dataset, point)]

    def estimate(self, metric: str, dataset, **point) -> Estimate:
        """A cell's seeds as an `Estimate`: a mean over seeds, with the binomial floor of the
        pooled test inputs for rates (ASR, accuracies, controls)."""
        v = self.values(metric, dataset, **point)
        di = self._index(dataset, point)[0]
        trials = int(self.num_test[di]) if metric in RATES else None
        return mean(v, trials=trials)

    def estimates(self, metric: str, **point) -> dict[str, Estimate]:
        """`estimate` for every dataset, by label (the usual metric of a per-dataset claim)."""
        return {lbl: self.estimate(metric, lbl, **point) for lbl in self.labels}


def _plant_seeds(c, keys, data, sharded):
    """The planted models of every seed (a list), and whether one sharded program made them."""
    c = c.for_task(data[0].num_classes)  # the task from the Dataset: the labels may be traced
    xs = [ds.x_train for ds in data]
    ys = [ds.y_train for ds in data]
    same = len({(x.shape, x.dtype, y.shape, y.dtype) for x, y in zip(xs, ys)}) == 1
    if sharded is not False and same and len(keys) > 1 and _traceable(c, keys[0], xs[0], ys[0]):
        for x, y in zip(xs, ys):
            c.check_data(x, y)  # the concrete checks `plant` cannot make on traced data
        stacked = sharded_map(c.plant, *(jnp.stack(v) for v in (keys, xs, ys)))
        return [jax.tree.map(lambda a, i=i: a[i], stacked) for i in range(len(keys))], True
    if sharded is True:
        raise ValueError(
            f"`sharded=True`: the {c.name} construction's `plant` does not trace with the data "
            "as traced arrays (or the seeds' splits differ in shape); use sharded=None."
        )
    return [c.plant(k, ds.x_train, ds.y_train) for k, ds in zip(keys, data)], False


def _traceable(c, key, x, y) -> bool:
    """Whether `c.plant` traces with `(x, y)` traced (abstract evaluation only: no compile)."""
    try:
        jax.eval_shape(c.plant, key, jax.ShapeDtypeStruct(x.shape, x.dtype),
                       jax.ShapeDtypeStruct(y.shape, y.dtype))  # fmt: skip
    except (ValueError, TypeError):  # jax's ConcretizationTypeError is a TypeError
        return False  # a concrete check or host code: the host loop
    return True


def run_sweep(sweep: Sweep, ctx=None, *, extra=None, sharded: bool | None = None) -> SweepResult:
    """Plant and evaluate every cell of `sweep` (see the module docstring).

    `sharded`: `None` (default) plants a cell's seeds in one sharded program where the
    construction allows it and in a host loop otherwise; `False` always loops on the host;
    `True` requires the sharded path (`ValueError` where the construction does not allow it).

    `extra(construction, planted, ds, key) -> {name: float}`: further per-cell measurements
    (e.g. a white-box quantity of the planted model), stored next to the standard metrics with
    the same shape; it is called after each evaluation with the evaluated construction.
    """
    grid_shape = tuple(len(v) for v in sweep.grid.values())
    act_names = list(sweep.activation)
    act_points = list(itertools.product(*(sweep.activation[n] for n in act_names)))
    act_shape = tuple(len(sweep.activation[n]) for n in act_names)
    shape = (len(sweep.datasets), *grid_shape, *act_shape, len(sweep.seeds))
    out = {m: np.full(shape, np.nan) for m in METRICS}
    num_test = np.zeros(len(sweep.datasets), dtype=np.int64)
    planted: dict = {}
    paths: dict = {}
    cells = list(sweep.cells())
    work = list(itertools.product(range(len(sweep.datasets)), range(len(cells))))
    if ctx is not None:
        work = ctx.progress(work, f"sweep {cells[0][1].name}", total=len(work))
    for di, ci in work:
        spec = sweep.datasets[di]
        point, c = cells[ci]
        gi = np.unravel_index(ci, grid_shape) if grid_shape else ()
        data = [
            datasets.load(
                spec.name, classes=spec.classes, seed=seed, normalize=c.normalize, **spec.options
            )
            for seed in sweep.seeds
        ]
        k_plants, k_evals = zip(*(jr.split(jr.key(seed)) for seed in sweep.seeds))
        ps, paths[(spec.label, tuple(point.values()))] = _plant_seeds(c, k_plants, data, sharded)
        for si, (ds, p, k_eval) in enumerate(zip(data, ps, k_evals)):
            for ai, values in enumerate(act_points):
                ce = dataclasses.replace(c, **dict(zip(act_names, values))) if act_names else c
                ev = ce.evaluate(k_eval, p, ds.x_test, ds.y_test, target=sweep.target)
                row = {m: getattr(ev, m) for m in METRICS}
                row.update(extra(ce, p, ds, k_eval) if extra is not None else {})
                idx = (di, *gi, *np.unravel_index(ai, act_shape), si)
                for m, v in row.items():
                    out.setdefault(m, np.full(shape, np.nan))[idx] = (
                        np.nan if v is None else float(v)
                    )
            num_test[di] = ds.x_test.shape[0]
            if si == 0:
                planted[(spec.label, tuple(point.values()))] = p
    return SweepResult(sweep, out, num_test, planted, paths)
