"""Bad inputs to `jaxbd.universality`: every row must raise an error naming the bad argument
(never a silent answer). Rows with mode "jit"/"vmap" pass the bad value traced: the check is
`eqx.error_if`. Fixtures: tests/badinput_defences.py."""

import badinput_rows
import jax
import jax.numpy as jnp
from badinput import Row, done, vmap
from badinput_defences import HEAD, NAN, ZP, Z, at, z, zp
from badinput_rows import cases, lazy, over, table

from jaxbd import universality as U


MARGINS_J = jax.jit(lambda a, t: U.head_margins(HEAD, a, zp, t))  # compiled once, reused
_u = "jaxbd.universality."

ROWS = [
    *table(_u + "invalidating_head", over(U.invalidating_head, z, zp, 0, num_classes=3), {
        "num_classes": [("two", 2)],
        "target": [("fractional", 0.7), ("out-of-range", 5)],
        "z": [("int", lazy(jnp.ones, 4, jnp.int32)), ("complex", lazy(z.astype, jnp.complex64)),
              ("nan", at(z, 0, NAN), "NaN")],
        "z_prime": [("zero", lazy(jnp.zeros, 4))],
    }),
    *cases(_u + "invalidating_head", "clean_label",
        lambda c: U.invalidating_head(z, zp, 1, num_classes=3, clean_label=c),
        [("equals-target", 1)]),
    *cases(_u + "invalidating_head", "z", lambda a: U.invalidating_head(a, a, 0, num_classes=3),
        [("empty", lazy(jnp.ones, 0))]),
    # traced inputs work since #14; their bad values raise at run time
    *cases(_u + "invalidating_head", "z_prime",
        lambda a: U.invalidating_head(zp, a, 0, num_classes=3),
        [("traced zero", lazy(jnp.zeros_like, z), "zero")], mode="jit"),
    *table(_u + "invalidating_heads", over(U.invalidating_heads, Z, ZP, 0, num_classes=3), {
        "target": [("fractional", [0.7, 1.2], "integer"), ("negative", -1),
                   ("wrong-length", [0, 1, 2]), ("str", "a")],
        "clean_label": [("fractional", 2.5)],
        "z": [("nan", at(Z, (0, 0), NAN)), ("int", lazy(Z.astype, jnp.int32))],
        "z_prime": [("zero-row", at(ZP, 1, 0.0))],
        "num_classes": [("two", 2)],
    }),
    *cases(_u + "invalidating_heads", "z", lambda a: U.invalidating_heads(a, a, 0, num_classes=3),
        [("no-rows", lazy(jnp.ones, (0, 4)))]),
    *table(_u + "head_margins", over(U.head_margins, HEAD, z, zp, 0), {
        "target": [("out-of-range", 3), ("fractional", lazy(jnp.asarray, 0.5))],
        "z": [("wrong-dim", lazy(lambda: z[:3]))],
        "w": [("nan", at(HEAD, (0, 0), NAN))],
    }),
    Row(_u + "head_margins", "target", "out-of-range", lambda: done(MARGINS_J(z, jnp.int32(5))),
        ("`target`",), mode="jit"),
    Row(_u + "head_margins", "z", "nan", lambda: done(MARGINS_J(z.at[0].set(NAN), jnp.int32(0))),
        ("`z`", "NaN"), mode="jit"),
    Row(_u + "head_margins", "target", "negative-row",
        vmap(lambda h, a, b, t: U.head_margins(h, a, b, t), jnp.stack([HEAD, HEAD]), Z, ZP, jnp.asarray([0, -1], jnp.int32)), ("`target`",), mode="vmap"),
]  # fmt: skip

test_bad_input = badinput_rows.bad_input_test(ROWS)
