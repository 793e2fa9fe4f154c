"""`jaxbd.io.save` refuses the Flax models a file could not give back, and the fix it names works.

A linen module alone holds no parameters and an NNX module is no dataclass tree: `save` refuses
them (naming `model`) before anything is written, so a previous file stays as it was. The pair
`(module, variables)` that the error asks for is saved and restores bit for bit.
"""

import os

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jaxbd import io


nn = pytest.importorskip("flax.linen")
nnx = pytest.importorskip("flax.nnx")


class Net(nn.Module):
    width: int = 4

    @nn.compact
    def __call__(self, x):
        h = nn.relu(nn.Dense(self.width, param_dtype=jnp.float32)(x))
        return nn.Dense(1, param_dtype=jnp.float32)(h)[0]


def test_refused_flax_models_leave_the_previous_file_and_the_pair_restores(tmp_path):
    path = tmp_path / "m.jaxbd"
    io.save(path, {"w": np.arange(3.0)})
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"`model`.*linen.*\(module, variables\)"):
        io.save(path, Net())
    with pytest.raises(ValueError, match=r"`model`.*NNX"):
        io.save(path, nnx.Linear(3, 1, rngs=nnx.Rngs(0)))
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.jaxbd"]
    module = Net(width=5)
    variables = module.init(jr.key(0), jnp.zeros(3))
    io.save(path, (module, variables))  # what the error asks for
    m2, v2 = io.load(path, classes=(Net,))
    assert m2 == module
    x = jr.normal(jr.key(1), (3,))
    np.testing.assert_array_equal(m2.apply(v2, x), module.apply(variables, x))
