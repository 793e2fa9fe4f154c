"""Sweeps sharded with `jaxbd.sharding.sharded_map` (issue #8): smoothing over many inputs and the
experiments' per-seed pipelines. On 4 forced CPU devices (a subprocess with
`XLA_FLAGS=--xla_force_host_platform_device_count=4`) they equal the single-device results."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import bad_input, linear
from jax.sharding import Mesh

from jaxbd import smoothing as S
from jaxbd.sharding import batch_mesh


_SMOOTHING = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, jax.random as jr, numpy as np
    from helpers import linear
    from jaxbd import smoothing as S
    from jaxbd.sharding import batch_mesh
    assert len(jax.devices()) == 4, jax.devices()
    one = batch_mesh(jax.devices()[:1])
    model = linear(3)
    x = jr.normal(jr.key(0), (10, 3))  # 10 rows, not a multiple of 4: exercises the padding
    # batch_size 64 with 100-220 draws: one row per step, several steps per device.
    kw = dict(sigma=0.7, batch_size=64)
    calls = {
        "smooth": lambda m: S.smooth_batch(jr.key(1), model, x, num_samples=100, mesh=m, **kw),
        "predict": lambda m: S.predict_batch(
            jr.key(2), model, x, num_samples=200, alpha=0.01, mesh=m, **kw
        ),
        "certify": lambda m: S.certify_batch(
            jr.key(3), model, x, n0=20, num_samples=200, alpha=0.01, mesh=m, **kw
        ),
        # Many rows per step (8 draws each).
        "smooth_rows": lambda m: S.smooth_batch(
            jr.key(4), model, x, sigma=0.7, num_samples=8, batch_size=32, mesh=m
        ),
    }
    for name, call in calls.items():
        ref, got = call(one), call(None)
        for r, g in zip(jax.tree_util.tree_leaves(ref), jax.tree_util.tree_leaves(got)):
            np.testing.assert_array_equal(np.asarray(g), np.asarray(r), err_msg=name)
    # The smoothing experiment's vote counts (rows over devices, a lax.map over sigmas).
    from jaxbd.experiments.smoothing import _votes
    sig = jnp.asarray([0.1, 1.0, 3.0])
    v1 = _votes(jr.key(5), model, x, sig, num_samples=16, mesh=one)
    v4 = _votes(jr.key(5), model, x, sig, num_samples=16)
    assert v4.shape == (3, 10, 2)
    np.testing.assert_array_equal(np.asarray(v4), np.asarray(v1))
    # Row i uses fold_in(key, i), whatever the device count.
    np.testing.assert_allclose(
        float(S.smooth(jr.fold_in(jr.key(1), 9), model, x[9], sigma=0.7, num_samples=100)),
        float(calls["smooth"](None)[9]),
        rtol=1e-6,
    )
    print("OK")
    """
)


# The public fits (rff.train / rff.backdoor, relu.train / relu.backdoor) are traceable in the key:
# sharded over keys, on 1 or 4 devices, they equal the direct calls.
_FITS = textwrap.dedent(
    """
    import warnings
    import jax, jax.random as jr, numpy as np
    from jaxbd import datasets, relu, rff
    from jaxbd.sharding import batch_mesh, sharded_map
    warnings.simplefilter("ignore")  # DetectableRegimeWarning for these small parameters
    assert len(jax.devices()) == 4, jax.devices()
    digits = datasets.load("digits", classes=(3, 8), seed=0)
    cancer = datasets.load("breast_cancer", seed=0, normalize="unit_norm")
    xd, yd, xc, yc = digits.x_train, digits.y_train, cancer.x_train, cancer.y_train
    rff_kw = dict(width=32, bandwidth=30.0, steps=5)
    relu_kw = dict(width=16, head="trained", head_steps=5)
    fits = {
        "rff.train": lambda k: rff.train(k, xd, yd, **rff_kw),
        "rff.backdoor": lambda k: rff.backdoor(k, xd, yd, secret_dim=4, beta=0.02, **rff_kw),
        "relu.train": lambda k: relu.train(k, xc, yc, **relu_kw),
        "relu.backdoor": lambda k: relu.backdoor(k, xc, yc, sparsity=4, theta=3.0, **relu_kw),
    }
    keys = jr.split(jr.key(5), 5)  # 5 fits on 4 devices: exercises the padding
    leaves = lambda t: [np.asarray(a) for a in jax.tree_util.tree_leaves(t)]
    for name, fit in fits.items():
        one = sharded_map(fit, keys, mesh=batch_mesh(jax.devices()[:1]), batch_size=1)
        four = sharded_map(fit, keys, batch_size=1)
        # Same keys and code; equality up to float32 rounding (XLA may fuse differently).
        for u, v in zip(leaves(one), leaves(four)):
            np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6, err_msg=name)
        for i in (0, 4):  # ... and the direct call with that key
            got = jax.tree.map(lambda a: a[i], four)
            for u, v in zip(leaves(got), leaves(fit(keys[i]))):
                np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5, err_msg=name)
    print("OK")
    """
)


_FINETUNE = textwrap.dedent(
    """
    import warnings
    import jax, jax.numpy as jnp, jax.random as jr, numpy as np
    from jaxbd.experiments import finetune as E
    from jaxbd.finetune import finetune_with_history
    from jaxbd.sharding import batch_mesh, sharded_map
    warnings.simplefilter("ignore")  # DetectableRegimeWarning for these parameters
    assert len(jax.devices()) == 4, jax.devices()
    seeds = (0, 1, 2)  # 3 seeds on 4 devices: exercises the padding
    keys = [jr.fold_in(jr.key(s), 17) for s in seeds]
    built = [E._build("rff", k, s, True) for k, s in zip(keys, seeds)]
    stack = lambda trees: jax.tree.map(lambda *a: jnp.stack(a), *trees)
    args = (
        jnp.stack([jr.fold_in(k, 2) for k in keys]),
        jnp.full((3,), 1e-2, jnp.float32),  # the learning rate: traced, one per seed
        stack([b["model"] for b in built]),
        stack([b["ds"].x_train for b in built]),
        stack([b["ds"].y_train for b in built]),
        stack([b["metrics"] for b in built]),
    )
    tune = E._tune_seeds("rff", "head", "adam", 6, 3, 32)
    one = sharded_map(tune, *args, mesh=batch_mesh(jax.devices()[:1]), batch_size=1)
    four = sharded_map(tune, *args, batch_size=1)
    for name in one:
        np.testing.assert_allclose(np.asarray(one[name]), np.asarray(four[name]), rtol=1e-6)
    # ... and they are finetune_with_history's records for each seed.
    for s, (k, b) in enumerate(zip(keys, built)):
        _, hist = finetune_with_history(
            jr.fold_in(k, 2), b["model"], b["ds"].x_train, b["ds"].y_train,
            optimizer=E._optimizer("adam", 1e-2), steps=6, history_every=3,
            metrics=b["metrics"], batch_size=32, where=lambda m: m.head,
        )
        for name in one:
            np.testing.assert_allclose(
                np.asarray(four[name][s]), np.asarray(hist.metrics[name]), rtol=1e-6
            )
    print("OK")
    """
)


def _run_on_four_devices(script: str) -> str:
    env = dict(
        os.environ,
        XLA_FLAGS="--xla_force_host_platform_device_count=4",
        JAX_PLATFORMS="cpu",
        PYTHONPATH=os.pathsep.join([os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")]),
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow  # 4-device equality in a subprocess (~18 CPU-s): .ci/run's slow step
def test_smoothing_batches_over_four_cpu_devices_equal_single_device():
    assert _run_on_four_devices(_SMOOTHING).startswith("OK")


@pytest.mark.slow  # ~30 s of compilation each: run by .ci/run's slow step
def test_public_fits_over_four_cpu_devices_equal_single_device():
    assert _run_on_four_devices(_FITS).startswith("OK")


@pytest.mark.slow  # ~30 s of compilation each: run by .ci/run's slow step
def test_finetune_experiment_seeds_over_four_cpu_devices_equal_single_device():
    assert _run_on_four_devices(_FINETUNE).startswith("OK")


@pytest.mark.parametrize("fn", ["smooth_batch", "predict_batch", "certify_batch"])
def test_mesh_is_validated(fn):
    model, x = linear(3), jnp.zeros((2, 3))
    kw = {
        "smooth_batch": {},
        "predict_batch": {"alpha": 0.01},
        "certify_batch": {"n0": 5, "alpha": 0.01},
    }[fn]
    call = lambda mesh: getattr(S, fn)(
        jr.key(0), model, x, sigma=1.0, num_samples=10, mesh=mesh, **kw
    )
    devices = np.asarray(jax.devices()[:1])
    for bad in (
        Mesh(devices.reshape(1, 1), ("batch", "model")),  # two-dimensional
        Mesh(devices, ("data",)),  # wrong axis name
        "batch",  # not a mesh
    ):
        bad_input(lambda bad=bad: call(bad), "`mesh`")
    # An explicit one-device mesh gives the default's numbers.
    np.testing.assert_array_equal(
        np.asarray(jax.tree_util.tree_leaves(call(batch_mesh(jax.devices()[:1])))[0]),
        np.asarray(jax.tree_util.tree_leaves(call(None))[0]),
    )
