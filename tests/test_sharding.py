import textwrap

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from four_devices import run_on_four_cpu_devices
from jax.sharding import Mesh

from jaxbd import memorizing as mz
from jaxbd.sharding import batch_mesh, sharded_map


def test_single_device_equals_vmap(getkey):
    x = jr.normal(getkey(), (13, 4))
    w = jr.normal(getkey(), (4,))
    f = lambda v: jnp.tanh(v @ w) + jnp.sum(v**2)
    np.testing.assert_allclose(
        np.asarray(sharded_map(f, x)), np.asarray(jax.vmap(f)(x)), rtol=1e-6
    )
    chunked = sharded_map(f, x, batch_size=4)
    np.testing.assert_allclose(np.asarray(chunked), np.asarray(jax.vmap(f)(x)), rtol=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="same leading batch size"):
        sharded_map(lambda a, b: a + b, jnp.ones(3), jnp.ones(4))
    with pytest.raises(ValueError, match="batch_size"):
        sharded_map(lambda a: a, jnp.ones(3), batch_size=0)
    with pytest.raises(ValueError, match="empty"):
        batch_mesh([])
    devices = np.asarray(jax.devices()[:1])
    for bad in ("batch", Mesh(devices, ("data",)), Mesh(devices.reshape(1, 1), ("batch", "m"))):
        with pytest.raises(ValueError, match="`mesh`"):
            sharded_map(lambda a: a, jnp.ones(3), mesh=bad)
        with pytest.raises(ValueError, match="`mesh`"):
            mz.candidate_search(
                jr.key(0), jnp.ones((4, 2)), jnp.asarray([1.0, -1, 1, -1]), mesh=bad
            )


_SCRIPT = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, jax.random as jr, numpy as np
    from jaxbd.sharding import sharded_map
    assert len(jax.devices()) == 4, jax.devices()
    keys = jr.split(jr.key(0), 10)  # 10 is not a multiple of 4: exercises the padding
    w = jr.normal(jr.key(1), (6,))
    def f(k):
        x = jr.normal(k, (50, 6))
        return {"mean": jnp.mean(jnp.sign(x @ w)), "norm": jnp.linalg.norm(x, axis=1)}
    single = jax.vmap(f)(keys)
    sharded = sharded_map(f, keys)
    chunked = sharded_map(f, keys, batch_size=2)
    for out in (sharded, chunked):
        for name in single:
            np.testing.assert_allclose(np.asarray(out[name]), np.asarray(single[name]), rtol=1e-6)
    print("OK", {d.id for d in sharded["norm"].sharding.device_set} if hasattr(sharded["norm"], "sharding") else "")
    """
)


@pytest.mark.slow
def test_sharded_over_four_cpu_devices_equals_single_device():
    run_on_four_cpu_devices(_SCRIPT)


def test_devices_checked():
    for bad in ("cpu", [0, 1], [jax.devices()[0]] * 2):
        with pytest.raises(ValueError, match="`devices`"):
            batch_mesh(bad)
    with pytest.raises(ValueError, match="`batch_size`"):
        sharded_map(lambda a: a, jnp.ones(3), batch_size=1.5)
