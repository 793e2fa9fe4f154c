"""Bad-input table for `jaxbd.clwe` (issue 13 items 4 and 6): one row per (public function,
argument, bad value), its error naming the argument in backticks. Rows with `mode="jit"` or
`mode="vmap"` pass the bad value traced: the check must hold inside the trace (`eqx.error_if`).
Fixtures: tests/badinput_features.py."""

import badinput_features as bf
import badinput_rows
import jax
import jax.numpy as jnp
from badinput import Row
from badinput_features import OMEGA, K
from badinput_rows import cases, lazy, over, table

from jaxbd import clwe


NAN, INF = float("nan"), float("inf")
# Traced calls shared by several rows, so each is compiled once per test process (the error is
# raised when the compiled program runs, so every row still runs it with its own bad value).
_pancakes_jit = jax.jit(lambda o, b: clwe.pancakes(K, o, 4, beta=b))
_clwe_jit = jax.jit(lambda o, b: clwe.clwe(K, o, 4, beta=b))
_c = "jaxbd.clwe."
BAD_OMEGA = {  # bad secrets for `pancakes` and `clwe`
    "nan": (lazy(bf.nan_at, OMEGA), "NaN"), "zero": (lazy(jnp.zeros, 6), "non-zero"),
    "empty": (lazy(jnp.zeros, 0),), "int32": (lazy(jnp.ones, 6, jnp.int32),),
    "complex": (lazy(jnp.ones, 6, jnp.complex64), "complex"),
}  # fmt: skip


def omegas(*names):
    return [(name, *BAD_OMEGA[name]) for name in names]


ROWS = [
    *bf.key_rows(_c + "sample_secret", lambda k: clwe.sample_secret(k, 6)),
    *table(_c + "sample_secret", over(clwe.sample_secret, K, 6), {
        "dim": [("0", 0), ("6.0", 6.0)],
        "support": [("0", 0), (">dim", 7)],
        "gamma": [("0", 0.0), ("-1", -1.0), ("nan", NAN), ("inf", INF),
                  ("vector", lazy(lambda: jnp.ones(6) * 5), "scalar")],
        "dtype": [("int32", jnp.int32)],
    }),
    Row(_c + "sample_secret", "gamma", "-1",
        bf.traced_scalar(lambda g: clwe.sample_secret(K, 6, gamma=g), -1.0), ("`gamma`",),
        mode="jit"),
    Row(_c + "sample_secret", "gamma", "nan",
        bf.vmapped_scalar(lambda g: clwe.sample_secret(K, 6, gamma=g), [5.0, NAN]), ("`gamma`",),
        mode="vmap"),
    *bf.key_rows(_c + "pancakes", lambda k: clwe.pancakes(k, OMEGA, 4, beta=0.1)),
    *table(_c + "pancakes", over(clwe.pancakes, K, OMEGA, 4, beta=0.1), {
        "omega": omegas("nan", "zero", "empty", "int32", "complex"),
        "num": [("0", 0)],
        "beta": [("0", 0.0), ("nan", NAN), ("inf", INF), ("vector", lazy(jnp.ones, 4), "scalar")],
        "shift": [("nan", NAN)],
        "max_gamma": [("0", 0.0), ("small", 1.0)],
        "dtype": [("int32", jnp.int32)],
        "block_size": [("0", 0)],
    }),
    *cases(_c + "pancakes", "beta", lambda b: _pancakes_jit(OMEGA, b), [("-0.1", -0.1)],
        mode="jit", compiled=True),
    Row(_c + "pancakes", "beta", "inf",
        bf.vmapped_scalar(lambda b: clwe.pancakes(K, OMEGA, 4, beta=b), [0.1, INF]), ("`beta`",),
        mode="vmap"),
    *cases(_c + "pancakes", "omega", lambda o: _pancakes_jit(o, 0.1), [
        *omegas("nan", "zero"), ("too-large", lazy(lambda: 100 * OMEGA), ("`max_gamma`",))], mode="jit", compiled=True),
    *bf.key_rows(_c + "clwe", lambda k: clwe.clwe(k, OMEGA, 4, beta=0.1)),
    *table(_c + "clwe", over(clwe.clwe, K, OMEGA, 4, beta=0.1), {
        "omega": omegas("nan", "empty", "zero", "int32"),
        "num": [("0", 0)],
        "beta": [("0", 0.0), ("nan", NAN)],
        "dtype": [("int32", jnp.int32)],
    }),
    *cases(_c + "clwe", "beta", lambda b: _clwe_jit(OMEGA, b), [("-1", -1.0)], mode="jit", compiled=True),
    *cases(_c + "clwe", "omega", lambda o: _clwe_jit(o, 0.1), omegas("nan"), mode="jit", compiled=True),
    *cases(_c + "clwe", "omega", lambda o: clwe.clwe(K, o, 4, beta=0.1),
        [("zero", lazy(lambda: jnp.stack([OMEGA, 0 * OMEGA])), "non-zero")], mode="vmap"),
    *table(_c + "layer_distribution", over(clwe.layer_distribution, 4.0, 0.1, max_gamma=6.0), {
        "gamma": [("0", 0.0), ("nan", NAN)],
        "beta": [("-1", -1.0)],
        "shift": [("inf", INF)],
        "max_gamma": [("small", 2.0), ("nan", NAN)],
        "dtype": [("int32", jnp.int32)],
    }),
    Row(_c + "layer_distribution", "gamma", "-1",
        bf.traced_scalar(lambda g: clwe.layer_distribution(g, 0.1, max_gamma=6.0), -1.0),
        ("`gamma`",), mode="jit"),
    Row(_c + "layer_distribution", "gamma", "too-large",
        bf.vmapped_scalar(lambda g: clwe.layer_distribution(g, 0.1, max_gamma=6.0), [4.0, 9.0]),
        ("`max_gamma`",), mode="vmap"),
    *table(_c + "distance_to_layers", over(clwe.distance_to_layers, lazy(jnp.ones, 3)), {
        "values": [("int32", lazy(jnp.arange, 3), "int32"),
                   ("nan", lazy(bf.nan_at, jnp.ones(3)), "NaN"),
                   ("complex", lazy(jnp.ones, 3, jnp.complex64))],
        "shift": [("nan", NAN)],
    }),
    Row(_c + "distance_to_layers", "values", "nan",
        lambda: jax.jit(clwe.distance_to_layers)(bf.nan_at(jnp.ones(3))), ("`values`", "NaN"),
        mode="jit"),
    *cases(_c + "num_layers", "max_gamma", clwe.num_layers,
        [("0", 0.0), ("inf", INF), ("huge", 1e300), ("str", "6")]),
]  # fmt: skip

test_bad_input = badinput_rows.bad_input_test(ROWS)


def test_valid_traced_values_pass_the_checks():
    """The traced checks fire only on bad values: the same compiled calls run on good ones."""
    assert bool(jnp.all(jnp.isfinite(_pancakes_jit(OMEGA, 0.1))))
    assert bool(jnp.all(jnp.isfinite(_clwe_jit(OMEGA, 0.1)[0])))
