"""Bad-input table for `jaxbd.rff` (issue 13 items 4 and 6).

Every row is one (public function, argument, bad value) and the words its error must contain
(always the argument's name as the library prints it, in backticks). Rows with `mode="jit"` or
`mode="vmap"` pass the bad value as a traced argument: the check must hold inside the trace
(`eqx.error_if`), not only on the host. Fixtures (tests/badinput_features.py) are tiny and
built once, by the constructors (no training at import time).
"""

import badinput_features as bf
import badinput_rows
import jax
import jax.numpy as jnp
from badinput import Row
from badinput_features import LKEY, MODEL, OMEGA4, RELU, RKEY, X0, D, K, W, X, Y
from badinput_rows import cases, lazy, over, table

from jaxbd import rff


NAN, INF = float("nan"), float("inf")
TRAIN = dict(width=W, bandwidth=1.0, steps=1)
BACKDOOR = dict(width=W, bandwidth=1.0, steps=1, secret_dim=2, beta=0.05)
BAD_KEY = lazy(
    lambda: rff.RFFBackdoorKey(jnp.ones(D + 1), 1.0, 0.05)
)  # omega of the wrong dimension
_r = "jaxbd.rff."

ROWS = [
    *bf.key_rows(_r + "train", lambda k: rff.train(k, X, Y, **TRAIN)),
    *bf.matrix_rows(_r + "train", "x", lambda x: rff.train(K, x, bf.pm1_for(x), **TRAIN)),
    *bf.label_rows(_r + "train", lambda y: rff.train(K, X, y, **TRAIN)),
    *table(_r + "train", over(rff.train, K, X, Y, **TRAIN), {
        "width": [("0", 0), ("-3", -3), ("2.5", 2.5)],
        "bandwidth": [("0", 0.0), ("-1", -1.0), ("nan", NAN), ("inf", INF), ("bool", True)],
        "loss": [("square", "square")],
        "steps": [("-1", -1)],
        "learning_rate": [("0", 0.0), ("nan", NAN)],
        "weight_decay": [("-1", -1.0)],
    }),
    *cases(_r + "train", "bandwidth",
        lambda b: rff.train(K, X, Y, **{**TRAIN, "bandwidth": b}).head,
        [("traced", 1.0, "concrete")], mode="jit"),
    *cases(_r + "train", "x", lambda x: rff.train(K, x, Y, **TRAIN).head,
        [("nan", lazy(bf.nan_at, X), "NaN")], mode="jit"),
    *bf.key_rows(_r + "backdoor", lambda k: rff.backdoor(k, X, Y, **BACKDOOR)),
    *bf.label_rows(_r + "backdoor", lambda y: rff.backdoor(K, X, y, **BACKDOOR), multiclass=False),
    *table(_r + "backdoor", over(rff.backdoor, K, X, Y, **BACKDOOR), {
        "x": [("nan", lazy(bf.nan_at, X), "NaN"), ("int32", lazy(X.astype, jnp.int32), "int32"),
              ("no-features", lazy(jnp.ones, (16, 0)))],
        "secret_dim": [("0", 0), (">dim", D + 1), ("2.0", 2.0)],
        "beta": [("0", 0.0), ("-0.1", -0.1), ("nan", NAN), ("inf", INF)],
        "gamma": [("0", 0.0), ("-1", -1.0), ("nan", NAN)],
        "width": [("0", 0)],
        "bandwidth": [("0", 0.0)],
    }),
    *bf.example_rows(_r + "activate", lambda x: rff.activate(RKEY, x)),
    *cases(_r + "activate", "backdoor_key", lambda k: rff.activate(k, X0),
        [("relu-key", LKEY, "RFFBackdoorKey"), ("model", MODEL)]),
    *bf.example_rows(_r + "RFFClassifier.__call__", lambda x: MODEL(x)),
    *bf.example_rows(_r + "RFFClassifier.features", lambda x: MODEL.features(x), traced=False),
    *bf.matrix_rows(_r + "RFFClassifier.batch_features", "x", MODEL.batch_features),
    *cases(_r + "RFFClassifier.batch_features", "x", lambda x: MODEL.batch_features(x),
        [("nan", lazy(bf.nan_at, X), "NaN")], mode="jit"),
    *cases(_r + "RFFClassifier.batch_features", "x", MODEL.batch_features,
        [("wrong-dim", lazy(jnp.ones, (3, D + 1)), "columns")]),
    *table(_r + "RFFClassifier",
        over(rff.RFFClassifier, MODEL.frequencies, MODEL.phases, MODEL.head, 1.0), {
        "bandwidth": [("0", 0.0), ("-1", -1.0), ("nan", NAN), ("str", "1.0")],
        "frequencies": [("vector", lazy(lambda: MODEL.frequencies[0])),
                        ("nan", lazy(bf.nan_at, MODEL.frequencies), "NaN"),
                        ("int32", lazy(MODEL.frequencies.astype, jnp.int32)), ("empty", lazy(jnp.ones, (W, 0)))],
        "phases": [("shape", lazy(lambda: MODEL.phases[:-1])),
                   ("inf", lazy(bf.nan_at, MODEL.phases, INF), "inf")],
        "head": [("shape", lazy(lambda: MODEL.head[:-1])),
                 ("nan", lazy(bf.nan_at, MODEL.head), "NaN"),
                 ("complex", lazy(MODEL.head.astype, jnp.complex64))],
    }),
    *table(_r + "RFFBackdoorKey", over(rff.RFFBackdoorKey, OMEGA4, 1.0, 0.05), {
        "bandwidth": [("0", 0.0)],
        "beta": [("-1", -1.0), ("nan", NAN)],
        "omega": [("nan", lazy(bf.nan_at, OMEGA4), "NaN"),
                  ("zero", lazy(jnp.zeros, D), "non-zero"),
                  ("empty", lazy(jnp.zeros, 0)), ("int32", lazy(jnp.ones, D, jnp.int32)),
                  ("matrix", lazy(jnp.ones, (2, D)))],
    }),
    *bf.matrix_rows(_r + "margin", "x", lambda x: rff.margin(MODEL, x)),
    *cases(_r + "margin", "model", lambda m: rff.margin(m, X),
        [("relu-model", RELU, "RFFClassifier")]),
    *cases(_r + "margin", "x", lambda x: rff.margin(MODEL, x),
        [("nan", lazy(bf.nan_at, X), "NaN")], mode="jit"),
    *table(_r + "flip_bound", over(rff.flip_bound, MODEL, RKEY), {
        "backdoor_key": [("wrong-dim", BAD_KEY), ("relu-key", LKEY, "RFFBackdoorKey")],
    }),
    *cases(_r + "flip_bound", "model", lambda m: rff.flip_bound(m, RKEY),
        [("relu-model", RELU, "RFFClassifier")]),
    *table(_r + "feature_flip_error", over(rff.feature_flip_error, MODEL, RKEY, X), {
        "x": [("nan", lazy(bf.nan_at, X), "NaN"), ("int32", lazy(X.astype, jnp.int32), "int32"),
              ("no-rows", lazy(jnp.ones, (0, D)))],
        "backdoor_key": [("wrong-dim", BAD_KEY)],
        "model": [("relu-model", RELU)],
    }),
    *cases(_r + "feature_flip_error", "x", lambda x: rff.feature_flip_error(MODEL, RKEY, x),
        [("nan", lazy(bf.nan_at, X), "NaN")], mode="jit"),
    *cases(_r + "cos_turns", "theta", rff.cos_turns, [
        ("int32", lazy(jnp.arange, 3)), ("complex", lazy(jnp.ones, 3, jnp.complex64), "complex"),
        ("nan", lazy(bf.nan_at, jnp.ones(3)), "NaN")]),
    Row(_r + "cos_turns", "theta", "nan", lambda: jax.jit(rff.cos_turns)(bf.nan_at(jnp.ones(3))),
        ("`theta`", "NaN"), mode="jit"),
]  # fmt: skip

test_bad_input = badinput_rows.bad_input_test(ROWS)


def test_models_and_keys_build_under_jit_and_vmap():
    """`__check_init__` checks values only when concrete: building from tracers still works."""
    fr = jax.jit(lambda f: rff.RFFClassifier(f, MODEL.phases, MODEL.head, 1.0).frequencies)
    assert fr(MODEL.frequencies).shape == (W, D)
    om = jax.vmap(lambda o: rff.RFFBackdoorKey(o, 1.0, 0.05).omega)(jnp.stack([OMEGA4, -OMEGA4]))
    assert om.shape == (2, D)
