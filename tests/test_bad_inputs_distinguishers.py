"""Bad-input rows for the distinguisher interface (`jaxbd.detect` registry and classes)."""

import jax.numpy as jnp
import jax.random as jr
import pytest
from badinput import Row, check_row

from jaxbd import detect


r = Row
ROWS = [
    r("jaxbd.detect.get", "name", "unknown", lambda: detect.get("nope"), ("`name`", "unknown distinguisher")),
    r("jaxbd.detect.get", "name", "not a string", lambda: detect.get(["spectral"]), ("`name`",)),
    r("jaxbd.detect.register", "cls", "not a distinguisher", lambda: detect.register(dict), ("`cls`",), TypeError),
    r("jaxbd.detect.register", "cls", "duplicate name", lambda: detect.register(type("S", (detect.Spectral,), {})), ("already registered",)),
    r("jaxbd.detect.Spectral", "alpha", "out of (0, 1)", lambda: detect.Spectral(alpha=1.5), ("`alpha`",)),
    r("jaxbd.detect.Spectral.batch", "ws", "not a stack", lambda: detect.Spectral().batch(jr.key(0), jnp.ones((4, 4))), ("`ws`",)),
    r("jaxbd.detect.Spectral.batch", "ws", "NaN weights", lambda: detect.Spectral().batch(jr.key(0), jnp.full((2, 8, 4), jnp.nan)), ("`w`",)),
    r("jaxbd.detect.Spectral.batch", "key", "not a key", lambda: detect.Spectral().batch("k", jr.normal(jr.key(0), (2, 8, 4))), ("`key`",)),
]  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
def test_bad_input(row):
    check_row(row)
