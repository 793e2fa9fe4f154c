"""Bad-input table for `jaxbd.io.save` with Flax models a file could not give back (#17.2).

A Flax NNX module is a graph of variables, not a dataclass of fields; a linen module alone
holds no parameters. `save` refuses both, naming `model`, and writes nothing. (The linen pair
`(module, variables)` is saved and loads with `classes=`: `tests/test_io_flax.py`.)
"""

import atexit
import importlib.util
import os
import shutil
import tempfile

import jax.numpy as jnp
import jax.random as jr
import pytest
from badinput import Row, check_row, ids

from jaxbd import io


TMP = tempfile.mkdtemp(prefix="jaxbd-badinput-io-flax-")
atexit.register(shutil.rmtree, TMP, ignore_errors=True)  # no folder left in /tmp
MODEL_FILE = os.path.join(TMP, "m.jaxbd")
ROWS: list[Row] = []

if importlib.util.find_spec("flax") is not None:  # flax is optional (the dev extra has it)
    import flax.linen as nn
    from flax import nnx
    from flax.core import freeze

    class _Linen(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(1, param_dtype=jnp.float32)(x)[0]

    _nnx = lambda: nnx.Linear(3, 1, rngs=nnx.Rngs(0))
    _pair = lambda: (_Linen(), _Linen().init(jr.key(0), jnp.zeros(3)))
    _S = "jaxbd.io.save"
    ROWS = [
        Row(_S, "model", "flax-nnx-module", lambda: io.save(MODEL_FILE, _nnx()),
            ("`model`", "NNX", "could not restore")),
        Row(_S, "model", "flax-nnx-in-a-dict", lambda: io.save(MODEL_FILE, {"net": _nnx()}),
            ("model['net']", "NNX")),
        Row(_S, "model", "linen-module-without-variables", lambda: io.save(MODEL_FILE, _Linen()),
            ("`model`", "linen", "(module, variables)")),
        Row(_S, "model", "linen-frozen-variables",
            lambda: io.save(MODEL_FILE, (_pair()[0], freeze(_pair()[1]))),
            ("model[1]", "unfreeze")),
    ]  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_bad_input(row):
    check_row(row)
    assert not os.path.exists(MODEL_FILE)  # a refused save writes nothing
