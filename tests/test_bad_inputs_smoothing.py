"""Bad inputs to `jaxbd.smoothing`: every row must raise an error naming the bad argument
(never a silent answer). Rows with mode "jit"/"vmap" pass the bad value traced: the check is
`eqx.error_if`. Fixtures: tests/badinput_defences.py."""

import badinput_rows
import jax
import jax.numpy as jnp
import jax.random as jr
from badinput import Row, done
from badinput_defences import BIN, DEVICES, INF, KEY, NAN, X1, XS, D, R, at, nan_model
from badinput_rows import cases, lazy, over, table
from jax.sharding import Mesh

from jaxbd import smoothing as S


smooth_kw = dict(sigma=0.5, num_samples=8, batch_size=8)
pred_kw = dict(sigma=0.5, num_samples=8, alpha=0.05, batch_size=8)
cert_kw = dict(sigma=0.5, n0=4, num_samples=8, alpha=0.05, batch_size=16)

# Traced entry points shared by several rows: each compiles once, then every row reuses it.
log_model = lambda v: jnp.log(v[0] + 10.0)  # noqa: E731  (finite near X1, NaN for v[0] < -10)
FAR = X1.at[0].set(-100.0)
SMOOTH_J = jax.jit(lambda x, s: S.smooth(KEY, log_model, x, **{**smooth_kw, "sigma": s}))
SMOOTH_V = jax.jit(jax.vmap(lambda x, s: S.smooth(KEY, log_model, x, **{**smooth_kw, "sigma": s})))
CERT_J = jax.jit(lambda x, s: S.certify(KEY, log_model, x, **{**cert_kw, "sigma": s}))
XV = jnp.stack([X1, X1])
SV = jnp.asarray([0.5, 0.5])
_s = "jaxbd.smoothing."

ROWS = [
    *table(_s + "smooth", over(S.smooth, KEY, BIN, X1, **smooth_kw), {
        "key": [("int", 0), ("float-array", lazy(jnp.ones, 2))],
        "model": [("str", "m"), ("matrix-output", lambda v: jnp.zeros((2, 2))),
                  ("wrong-input-dim", lambda v: v @ jnp.ones(5))],
        "x": [("int", lazy(jnp.ones, D, jnp.int32), "floating"),
              ("complex", lazy(jnp.ones, D, jnp.complex64), "complex"),
              ("nan", at(X1, 1, NAN), "NaN"), ("inf", at(X1, 1, INF), "inf"), ("empty", lazy(jnp.ones, 0)), ("batch", XS)],
        "sigma": [("zero", 0.0), ("negative", -1.0), ("nan", NAN), ("inf", INF), ("complex", 1j),
                  ("bool", True),
                  ("str", "1"), ("vector", lazy(jnp.ones, D))],
        "num_samples": [("zero", 0), ("float", 2.5)],
        "batch_size": [("zero", 0)],
        "output": [("unknown", "raw", ("`output",)),
                   ("onehot-for-scalar", "onehot", ("`output",))],
    }),
    Row(_s + "smooth", "model", "nan-output",
        lambda: done(S.smooth(KEY, nan_model, X1, **smooth_kw)), ("`model`", "NaN"), R),
    *table(_s + "smooth", over(S.smooth, KEY, BIN, X1, output="clip", **smooth_kw),
        {"bound": [("zero", 0.0), ("nan", NAN)]}),
    # the traced checks: (function, argument, bad, compiled entry point, its arguments, words, mode)
    *[
        Row(_s + f, arg, bad, lambda fn=fn, args=args: done(fn(*args)), words, mode=mode)
        for f, arg, bad, fn, args, words, mode in [
            ("smooth", "sigma", "negative", SMOOTH_J, (X1, -1.0), ("`sigma`",), "jit"),
            ("smooth", "sigma", "nan", SMOOTH_J, (X1, NAN), ("`sigma`",), "jit"),
            ("smooth", "x", "nan", SMOOTH_J, (X1.at[1].set(NAN), 0.5), ("`x`", "NaN"), "jit"),
            ("smooth", "model", "nan-output", SMOOTH_J, (FAR, 0.5), ("`model`", "NaN"), "jit"),
            ("smooth", "x", "nan-row", SMOOTH_V, (XV.at[1, 2].set(NAN), SV), ("`x`",), "vmap"),
            ("smooth", "sigma", "one-zero", SMOOTH_V, (XV, SV.at[1].set(0.0)), ("`sigma`",), "vmap"),
            ("smooth", "model", "nan-row", SMOOTH_V, (XV.at[0].set(FAR), SV), ("`model`",), "vmap"),
            ("certify", "sigma", "zero", CERT_J, (X1, 0.0), ("`sigma`",), "jit"),
            ("certify", "x", "inf", CERT_J, (X1.at[2].set(INF), 0.5), ("`x`", "inf"), "jit"),
            ("certify", "model", "nan-output", CERT_J, (FAR, 0.5), ("`model`", "NaN"), "jit"),
        ]
    ],
    *table(_s + "smooth_batch", over(S.smooth_batch, KEY, BIN, XS, **smooth_kw), {
        "x": [("one-example", X1), ("no-rows", lazy(jnp.ones, (0, D))),
              ("inf", at(XS, (2, 2), INF), "inf")],
        "sigma": [("nan", NAN)],
        "mesh": [("str", "batch")],
        "key": [("none", None)],
    }),
    *table(_s + "class_counts", over(S.class_counts, KEY, BIN, X1, **smooth_kw), {
        "sigma": [("zero", 0.0)], "x": [("int", lazy(jnp.arange, D))],
    }),
    *table(_s + "predict", over(S.predict, KEY, BIN, X1, **pred_kw), {
        "alpha": [("zero", 0.0), ("one", 1.0), ("nan", NAN), ("str", "0.05")],
        "num_samples": [("negative", -3)],
    }),
    *cases(_s + "predict", "alpha", lambda a: S.predict(KEY, BIN, X1, **{**pred_kw, "alpha": a}),
        [("traced", 0.05, "concrete")], mode="jit"),
    Row(_s + "predict", "model", "nan-output",
        lambda: done(S.predict(KEY, nan_model, X1, **pred_kw)), ("`model`", "NaN"), R),
    *table(_s + "predict_batch", over(S.predict_batch, KEY, BIN, XS, **pred_kw), {
        "alpha": [("above-one", 1.5)],
        "mesh": [("wrong-axis", lazy(lambda: Mesh(DEVICES, ("data",))))],
        "x": [("complex", lazy(XS.astype, jnp.complex64))],
    }),
    Row(_s + "certify", "model", "nan-output",
        lambda: done(S.certify(KEY, nan_model, X1, **cert_kw)), ("`model`", "NaN"), R),
    *table(_s + "certify", over(S.certify, KEY, BIN, X1, **cert_kw), {
        "n0": [("zero", 0), ("float", 1.5)],
        "alpha": [("negative", -0.1)],
        "sigma": [("inf", INF)],
        "key": [("batch-of-keys", lazy(jr.split, KEY, 2))],
    }),
    *cases(_s + "certify", "num_samples",
        lambda n: S.certify(KEY, BIN, X1, **{**cert_kw, "n0": 8, "num_samples": n}),
           [("below-n0", 4, "`n0`")]),
    *table(_s + "certify_batch", over(S.certify_batch, KEY, BIN, XS, **cert_kw), {
        "n0": [("zero", 0)], "x": [("nan", at(XS, (0, 0), NAN))],
    }),
    *table(_s + "hoeffding_num_samples", over(S.hoeffding_num_samples, 0.1, 0.1), {
        "epsilon": [("zero", 0.0), ("nan", NAN), ("underflow", 1e-300), ("str", "a")],
        "delta": [("one", 1.0)],
        "bound": [("negative", -1.0)],
    }),
    *table(_s + "hoeffding_error", over(S.hoeffding_error, 10, 0.1), {
        "num_samples": [("zero", 0)], "delta": [("nan", NAN)], "bound": [("inf", INF)],
    }),
    *table(_s + "lipschitz_bound", over(S.lipschitz_bound, 1.0), {
        "sigma": [("zero", 0.0), ("nan", NAN), ("str", "1")],
        "bound": [("zero", 0.0)],
        "constant": [("unknown", "loose")],
    }),
]  # fmt: skip

test_bad_input = badinput_rows.bad_input_test(ROWS)
