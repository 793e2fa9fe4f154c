"""The distinguishers' `batch` and the planted samplers run through `jaxbd.sharding.sharded_map`;
on 4 forced CPU devices they equal the single-device jit(vmap)."""

import textwrap

import pytest
from four_devices import run_on_four_cpu_devices


_SCRIPT = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, jax.random as jr, numpy as np
    from jaxbd import detect
    from jaxbd.detect import planted as P
    assert len(jax.devices()) == 4, jax.devices()
    keys = jr.split(jr.key(0), 6)  # 6 is not a multiple of 4: exercises the padding
    w = P.spiked_batch(keys, 2.0, 3, num_units=40, dim=8)
    ref_w = jax.jit(jax.vmap(lambda k: P.spiked_weights(k, 40, 8, sparsity=3, theta=2.0)[0]))(keys)
    np.testing.assert_allclose(np.asarray(w), np.asarray(ref_w), rtol=1e-5, atol=1e-6)
    for d in (detect.Spectral(), detect.DiagonalThresholding(), detect.Gaussianity()):
        got = d.batch(jr.key(1), w)[0]
        prepared = d.prepare(jr.key(1), (40, 8))
        ref = jax.jit(jax.vmap(lambda x: d.statistic(x, prepared)))(w)
        np.testing.assert_allclose(got, np.asarray(ref), rtol=1e-5)
    print("OK")
    """
)


@pytest.mark.slow  # 4-device equality in a subprocess (~10 CPU-s): .ci/run's slow step
def test_sharded_statistics_over_four_cpu_devices_equal_single_device():
    run_on_four_cpu_devices(_SCRIPT)
