"""The sweep driver plants RFF and random-ReLU cells in one sharded program (issue #14).

The task comes from the `Dataset` (its static `num_classes`, bound with the construction's
`for_task`), so `plant` takes the labels traced (checked by `eqx.error_if`); the metrics equal
those of the host loop, which plants seed after seed with concrete labels.
"""

import jax
import jax.random as jr
import numpy as np
import pytest

from jaxbd import constructions, datasets
from jaxbd.experiments._sweep import DataSpec, Sweep, run_sweep


CELLS = [
    ("rff", DataSpec("digits", (3, 8)), dict(width=8, steps=2, bandwidth=30.0, secret_dim=4)),
    # three classes: a logits head, whose shape needs the task before any label is seen
    ("rff", DataSpec("iris"), dict(width=8, steps=2, bandwidth=3.0, secret_dim=2)),
    ("relu", DataSpec("breast_cancer"), dict(width=16)),  # the trained head: jaxbd.finetune
]
IDS = [f"{c[0]}-{c[1].label}" for c in CELLS]


@pytest.mark.parametrize("name, spec, fixed", CELLS, ids=IDS)
def test_plant_traces_with_the_data_traced(name, spec, fixed):
    # What the driver's probe asks (abstract evaluation, no compile): the sweep takes the
    # sharded path for these cells.
    ds = datasets.load(spec.name, classes=spec.classes)
    c = constructions.get(name)(**fixed).for_task(ds.num_classes)
    x, y = (jax.ShapeDtypeStruct(a.shape, a.dtype) for a in (ds.x_train, ds.y_train))
    out = jax.eval_shape(lambda k, x, y: jax.vmap(c.plant(k, x, y).backdoored)(x), jr.key(0), x, y)
    assert out.shape == ((x.shape[0],) if ds.num_classes == 2 else (x.shape[0], ds.num_classes))


@pytest.mark.slow  # each cell compiles a sharded Train-/Backdoor- program (a minute on 2 cores)
@pytest.mark.parametrize("name, spec, fixed", CELLS, ids=IDS)
def test_rff_and_relu_cells_are_sharded_and_equal_the_host_loop(name, spec, fixed):
    sw = Sweep(name, [spec], seeds=(0, 1), fixed=fixed)
    spread, host = run_sweep(sw), run_sweep(sw, sharded=False)
    assert set(spread.sharded.values()) == {True}, spread.sharded
    assert set(host.sharded.values()) == {False}
    for m, v in host.metrics.items():
        np.testing.assert_allclose(spread.metrics[m], v, rtol=1e-5, atol=1e-6, err_msg=m)
    assert np.all(np.isfinite(spread.metrics["asr"]))


def test_the_task_is_bound_from_the_dataset_and_checked_against_concrete_labels():
    ds = datasets.load("iris")
    c = constructions.RFF(width=8, bandwidth=3.0, secret_dim=2, steps=1)
    assert c.task_classes() is None and c.for_task(3).task_classes() == 3
    assert c.for_task(3).check_task(ds.y_train, ds.x_train) == ("multiclass", 3)
    with pytest.raises(ValueError, match="set for 4 classes"):
        c.for_task(4).check_task(ds.y_train, ds.x_train)
    assert constructions.ReLU().task_classes() == 2  # binary by construction
