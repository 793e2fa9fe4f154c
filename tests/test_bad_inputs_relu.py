"""Bad-input table for `jaxbd.relu` (issue 13 items 4 and 6): one row per (public function,
argument, bad value), its error naming the argument in backticks. Rows with `mode="jit"` or
`mode="vmap"` pass the bad value traced: the check must hold inside the trace (`eqx.error_if`).
Fixtures: tests/badinput_features.py."""

import badinput_features as bf
import badinput_rows
import jax
import jax.numpy as jnp
from badinput import Row
from badinput_features import LKEY, RELU, RKEY, X0, XM, YM, D, F, K, N, S, W, X, Y
from badinput_rows import cases, lazy, over, table

from jaxbd import relu


NAN, INF = float("nan"), float("inf")
RTRAIN = dict(width=W)
RBACKDOOR = dict(width=W, sparsity=2, theta=1.0)
# Traced calls shared by several rows, so each is compiled once per test process (the error is
# raised when the compiled program runs, so every row still runs it with its own bad value).
_spiked_jit = jax.jit(lambda s, t: relu.spiked_gaussian(K, s, 4, theta=t))
_fit_threshold_jit = jax.jit(relu.fit_threshold)
_l = "jaxbd.relu."
activate = over(relu.activate, LKEY, X0, strength=1.0)

ROWS = [
    *bf.key_rows(_l + "train", lambda k: relu.train(k, X, Y, **RTRAIN)),
    *bf.matrix_rows(_l + "train", "x", lambda x: relu.train(K, x, bf.pm1_for(x), **RTRAIN)),
    *bf.label_rows(_l + "train", lambda y: relu.train(K, X, y, **RTRAIN), multiclass=False),
    *cases(_l + "train", "y", lambda y: relu.train(K, XM, y, **RTRAIN),
        [("multiclass", YM, "binary")]),
    *table(_l + "train", over(relu.train, K, X, Y), {"width": [("0", 0), ("True", True)]}),
    *table(_l + "train", over(relu.train, K, X, Y, **RTRAIN), {
        "head": [("big", "big")],
        "head_mix": [("-0.1", -0.1), ("nan", NAN)],
        "head_steps": [("-1", -1)],
        "head_lr": [("0", 0.0), ("inf", INF)],
    }),
    *cases(_l + "train", "head_mix",
        lambda m: relu.train(K, X, Y, **RTRAIN, head="trained", head_mix=m), [("1", 1.0)]),
    *cases(_l + "train", "x", lambda x: relu.train(K, x, Y, **RTRAIN).tau,
        [("nan", lazy(bf.nan_at, X), "NaN")], mode="jit"),
    *bf.key_rows(_l + "backdoor", lambda k: relu.backdoor(k, X, Y, **RBACKDOOR)),
    *table(_l + "backdoor", over(relu.backdoor, K, X, Y, **RBACKDOOR), {
        "x": [("nan", lazy(bf.nan_at, X), "NaN"),
              ("complex", lazy(X.astype, jnp.complex64), "complex")],
        "y": [("single-class", lazy(lambda: -jnp.ones(N)), "single class"),
              ("zero-one", lazy(lambda: (Y + 1) / 2))],
        "sparsity": [("0", 0), (">dim", D + 1), ("-2", -2)],
        "theta": [("-0.1", -0.1), ("nan", NAN), ("inf", INF), ("vector", lazy(jnp.ones, 2))],
        "width": [("-1", -1)],
    }),
    *bf.example_rows(_l + "activate", lambda x: relu.activate(LKEY, x, strength=1.0)),
    *table(_l + "activate", activate, {
        "strength": [("-1", -1.0), ("nan", NAN), ("inf", INF), ("complex", 1j),
                     ("vector", lazy(jnp.ones, D), "scalar")],
        "backdoor_key": [("rff-key", RKEY, "ReLUBackdoorKey")],
    }),
    Row(_l + "activate", "strength", "-1",
        bf.traced_scalar(lambda st: activate(strength=st), -1.0), ("`strength`",), mode="jit"),
    Row(_l + "activate", "strength", "nan",
        bf.vmapped_scalar(lambda st: activate(strength=st), [1.0, NAN]), ("`strength`",),
        mode="vmap"),
    *bf.example_rows(_l + "RandomReLU.__call__", lambda x: RELU(x)),
    *bf.example_rows(_l + "RandomReLU.mean_feature", lambda x: RELU.mean_feature(x), traced=False)[:3],
    *table(_l + "RandomReLU", over(relu.RandomReLU, RELU.g, RELU.w, RELU.tau, RELU.scale), {
        "g": [("vector", lazy(lambda: RELU.g[0])), ("nan", lazy(bf.nan_at, RELU.g), "NaN"),
              ("int32", lazy(RELU.g.astype, jnp.int32))],
        "w": [("shape", lazy(lambda: RELU.w[:-1]))],
        "tau": [("vector", lazy(jnp.ones, 2)), ("nan", lazy(jnp.asarray, NAN), "NaN")],
        "scale": [("inf", lazy(jnp.asarray, INF))],
    }),
    *table(_l + "ReLUBackdoorKey", over(relu.ReLUBackdoorKey, secret=S, theta=1.0), {
        "secret": [("nan", lazy(bf.nan_at, S), "NaN"), ("zero", lazy(jnp.zeros, D), "unit"),
                   ("non-unit", lazy(lambda: 2 * S), "unit"), ("int32", lazy(jnp.ones, D, jnp.int32)),
                   ("matrix", lazy(jnp.ones, (2, D)))],
        "theta": [("-1", -1.0), ("nan", NAN)],
    }),
    *bf.key_rows(_l + "sample_sparse_secret", lambda k: relu.sample_sparse_secret(k, D, 2)),
    *table(_l + "sample_sparse_secret", over(relu.sample_sparse_secret, K, D, 2), {
        "sparsity": [("0", 0), (">dim", D + 1)],
        "dtype": [("int32", jnp.int32), ("complex64", jnp.complex64)],
    }),
    *cases(_l + "sample_sparse_secret", "dim", lambda d: relu.sample_sparse_secret(K, d, 1),
        [("0", 0), ("4.0", 4.0)]),
    *bf.key_rows(_l + "spiked_gaussian", lambda k: relu.spiked_gaussian(k, S, 4, theta=1.0)),
    *table(_l + "spiked_gaussian", over(relu.spiked_gaussian, K, S, 4, theta=1.0), {
        "s": [("nan", lazy(bf.nan_at, S), "NaN"), ("non-unit", lazy(lambda: 2 * S), "unit"),
              ("int32", lazy(jnp.ones, D, jnp.int32)), ("empty", lazy(jnp.ones, 0))],
        "num": [("-1", -1)],
        "theta": [("-1", -1.0), ("nan", NAN)],
    }),
    *cases(_l + "spiked_gaussian", "s", lambda s: _spiked_jit(s, 1.0), [
        ("non-unit", lazy(lambda: 2 * S), "unit"), ("nan", lazy(bf.nan_at, S), "NaN")], mode="jit", compiled=True),
    *cases(_l + "spiked_gaussian", "theta", lambda t: _spiked_jit(S, t), [("-1", -1.0)],
        mode="jit", compiled=True),
    *cases(_l + "spiked_gaussian", "theta", lambda t: relu.spiked_gaussian(K, S, 4, theta=t),
        [("-1", lazy(jnp.asarray, [1.0, -1.0]))], mode="vmap"),
    *table(_l + "fit_threshold", over(relu.fit_threshold, F, Y), {
        "f": [("nan", lazy(bf.nan_at, F), "NaN"), ("int32", lazy(jnp.arange, N)),
              ("matrix", lazy(jnp.ones, (N, 2)))],
        "y": [("zero-one", lazy(lambda: (Y + 1) / 2), "-1"), ("short", lazy(lambda: Y[:-1]))],
    }),
    *cases(_l + "fit_threshold", "f", lambda f: relu.fit_threshold(f, jnp.ones(0)),
        [("empty", lazy(jnp.ones, 0))]),
    *cases(_l + "fit_threshold", "f", lambda f: _fit_threshold_jit(f, Y),
        [("nan", lazy(bf.nan_at, F), "NaN")], mode="jit", compiled=True),
    *cases(_l + "fit_threshold", "y", lambda y: _fit_threshold_jit(F, y),
        [("zero-one", lazy(lambda: (Y + 1) / 2), "-1")], mode="jit", compiled=True),
]  # fmt: skip

test_bad_input = badinput_rows.bad_input_test(ROWS)


def test_valid_traced_values_pass_the_checks():
    """The traced checks fire only on bad values: the same compiled calls run on good ones."""
    assert bool(jnp.all(jnp.isfinite(_spiked_jit(S, 0.0))))
    tau, acc = _fit_threshold_jit(F, Y)
    assert bool(jnp.isfinite(tau)) and 0 <= float(acc) <= 1
    act = jax.vmap(lambda st: relu.activate(LKEY, X0, strength=st))(jnp.asarray([0.0, 2.0]))
    assert act.shape == (2, D) and bool(jnp.all(jnp.isfinite(act)))


def test_models_and_keys_build_under_jit_and_vmap():
    """`__check_init__` checks values only when concrete: building from tracers still works."""
    g = jax.jit(lambda g: relu.RandomReLU(g, RELU.w, RELU.tau, RELU.scale).g)(RELU.g)
    assert g.shape == (W, D)
    sec = jax.vmap(lambda s: relu.ReLUBackdoorKey(secret=s, theta=1.0).secret)(jnp.stack([S, -S]))
    assert sec.shape == (2, D)
