"""The sweep driver plants a cell's seeds in one sharded program where the construction's `plant`
traces with the data traced, and in a host loop otherwise; both give the same metrics.

The sharded check runs on 4 forced CPU devices in a subprocess (a ridge-regression construction
with an additive trigger: its `plant` is pure array code, like the registered RFF/ReLU ones, whose
sharded cells tests/test_sweep_traced_labels.py checks)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from jaxbd.experiments._sweep import DataSpec, Sweep, run_sweep


_TOY = textwrap.dedent(
    '''
    from typing import ClassVar
    import jax, jax.numpy as jnp, jax.random as jr, numpy as np
    from jaxbd import constructions, linear
    from jaxbd.experiments._sweep import DataSpec, Sweep, run_sweep

    class Ridge(constructions.AbstractConstruction):
        """Ridge regression on ±1 labels; the backdoor adds `boost` along a secret unit
        direction t, and activation adds `strength` t (pushes the score to +1)."""
        name: ClassVar[str] = "ridge-test-only"
        title: ClassVar[str] = "ridge regression with an additive trigger"
        source: ClassVar[str] = "test"
        kind: ClassVar[str] = "one-way"
        tasks: ClassVar[tuple[str, ...]] = ("binary",)
        fixed_target: ClassVar[float | None] = 1.0
        ridge: float = 1.0
        boost: float = 4.0
        strength: float = 3.0

        def plant(self, key, x, y):
            d = x.shape[1]
            w = jnp.linalg.solve(x.T @ x + self.ridge * jnp.eye(d, dtype=x.dtype), x.T @ y)
            t = jr.normal(key, (d,), x.dtype)
            t = t / jnp.linalg.norm(t)
            honest = linear.LinearClassifier(w, jnp.zeros((), x.dtype))
            backdoored = linear.LinearClassifier(w + self.boost * t, jnp.zeros((), x.dtype))
            return constructions.Planted(honest, backdoored, t)

        def activate(self, backdoor_key, x, target=None):
            return x + self.strength * backdoor_key

    assert len(jax.devices()) == 4, jax.devices()
    # 3 seeds on 4 devices (padding); a grid axis of a traced-friendly hyperparameter.
    sw = Sweep(Ridge(), [DataSpec("breast_cancer")], seeds=(0, 1, 2),
               grid={"boost": (2.0, 6.0)}, target=1.0)
    host = run_sweep(sw, sharded=False)
    spread = run_sweep(sw, sharded=True)
    assert set(spread.sharded.values()) == {True} and set(host.sharded.values()) == {False}
    for m, v in host.metrics.items():
        np.testing.assert_allclose(spread.metrics[m], v, rtol=1e-5, atol=1e-6, err_msg=m)
    assert np.all(host.metrics["asr"] > host.metrics["control_honest"])  # a real backdoor
    for cell, p in host.planted.items():  # the first seed's models, leaf by leaf (float32
        # rounding of the batched 30x30 solve differs from the single one's at ~1e-4)
        for u, v in zip(jax.tree.leaves(p), jax.tree.leaves(spread.planted[cell])):
            np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-3, atol=1e-4)
    print("OK")
    '''
)


@pytest.mark.slow  # a fresh JAX on 4 devices, two sweeps compiled: run by .ci/run's slow step
def test_sharded_sweep_over_four_cpu_devices_equals_the_host_loop():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", _TOY], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("OK")


@pytest.mark.slow
def test_constructions_that_read_concrete_data_plant_in_a_host_loop():
    # RFF's default bandwidth is read from the training inputs (a host median): the probe finds
    # that without compiling, and the cell's seeds are planted one after another.
    sw = Sweep("rff", [DataSpec("digits", (3, 8))], seeds=(0, 1),
               fixed=dict(width=8, steps=2, bandwidth=None, secret_dim=4))  # fmt: skip
    res = run_sweep(sw)
    assert res.sharded == {("digits 3 vs 8", ()): False}
    assert res.metrics["asr"].shape == (1, 2) and np.isfinite(res.metrics["asr"]).all()
