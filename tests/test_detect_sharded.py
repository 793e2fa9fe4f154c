"""The detection experiment's sweeps (sampling planted first layers, batch statistics) run through
`jaxbd.sharding.sharded_map`; on 4 forced CPU devices they equal the single-device jit(vmap)."""

import os
import subprocess
import sys
import textwrap


_SCRIPT = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, jax.random as jr, numpy as np
    from jaxbd.detect import planted as P
    from jaxbd.experiments.detection import _battery
    assert len(jax.devices()) == 4, jax.devices()
    keys = jr.split(jr.key(0), 6)  # 6 is not a multiple of 4: exercises the padding
    w = P.spiked_batch(keys, 2.0, 3, num_units=40, dim=8)
    ref_w = jax.jit(jax.vmap(lambda k: P.spiked_weights(k, 40, 8, sparsity=3, theta=2.0)[0]))(keys)
    np.testing.assert_allclose(np.asarray(w), np.asarray(ref_w), rtol=1e-5, atol=1e-6)
    bat = _battery(jr.key(1), 40, 8, num_null=9, pancake_sizes=(), names=("spectral", "diagonal"))
    got = bat.statistics(w)
    ref = jax.jit(jax.vmap(bat.one))(w)
    for name in ref:
        np.testing.assert_allclose(np.asarray(got[name]), np.asarray(ref[name]), rtol=1e-5)
    assert sorted(got) == ["diagonal", "spectral"], sorted(got)
    print("OK")
    """
)


def test_sharded_statistics_over_four_cpu_devices_equal_single_device():
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu"
    )
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("OK")
