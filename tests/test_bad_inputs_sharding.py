"""Bad inputs to `jaxbd.sharding`: every row must raise an error naming the bad argument
(never a silent answer). Fixtures: tests/badinput_defences.py."""

import badinput_rows
import jax
import jax.numpy as jnp
from badinput_defences import DEVICES
from badinput_rows import cases, lazy, over, table
from jax.sharding import Mesh

from jaxbd import sharding as SH


_h = "jaxbd.sharding."
ROWS = [
    *cases(_h + "batch_mesh", "devices", SH.batch_mesh, [
        ("empty", []), ("str", "cpu"), ("ints", [0, 1]), ("repeated", [jax.devices()[0]] * 2)]),
    *cases(_h + "check_mesh", "mesh", SH.check_mesh,
        [("str", "batch"), ("wrong-axis", Mesh(DEVICES, ("data",)))]),
    *table(_h + "sharded_map", over(SH.sharded_map, lambda a: a, lazy(jnp.ones, 3)), {
        "fn": [("not-callable", 3)],
        "batch_size": [("zero", 0), ("float", 1.5)],
        "mesh": [("two-axes", Mesh(DEVICES.reshape(1, 1), ("batch", "m")))],
    }),
    *cases(_h + "sharded_map", "batched_args", lambda args: SH.sharded_map(*args), [
        ("different-sizes", lazy(lambda: (lambda a, b: a + b, jnp.ones(3), jnp.ones(4))), "same leading batch size"),
        ("empty-batch", lazy(lambda: (lambda a: a, jnp.ones((0, 2)))), "empty")]),
]  # fmt: skip

test_bad_input = badinput_rows.bad_input_test(ROWS)
