"""Bad inputs to `jaxbd.memorizing`: every row must raise an error naming the bad argument
(never a silent answer); rows with mode "jit"/"vmap" pass the bad value traced. The
constructor is covered too (a crafted file is rebuilt through it)."""

import dataclasses

import badinput_rows
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from badinput import jit, vmap
from badinput_rows import cases, lazy, model_rows, ones, over, put, table
from helpers import linear

from jaxbd import memorizing as mz


NAN, INF = float("nan"), float("inf")
# 8 points in d = 3, networks built along a fixed direction (no candidate search).
KEY = jr.key(0)
DM = 3
_rng = np.random.default_rng(0)
XM = _rng.standard_normal((8, DM)).astype(np.float32)
YM = np.array([1, -1] * 4, np.float32)
YM3 = np.array([0, 1, 2, 0, 1, 2, 0, 1], np.int32)
WM = _rng.standard_normal(DM).astype(np.float32)
NET = mz.from_direction(WM, XM, YM)
NET3 = mz.from_direction(WM, XM, YM3)
XSTAR = XM[0] + 0.01
FIELDS = {f.name: getattr(NET, f.name) for f in dataclasses.fields(NET)}
REPORT = mz.audit(NET, XM, YM)
SCORES = mz.CandidateScores(
    valid=np.array([True, False, True]),
    num_slices=np.array([3, 1, 2]),
    val_accuracy=np.array([0.5, 1.0, 0.75]),
    eval_accuracy=np.full(3, np.nan),
)
FIT_KW = dict(num_candidates=8, batch_size=8)
F16 = XM.astype(np.float16)
EVAL = dict(x_eval=XM, y_eval=YM)  # candidate_search's evaluation set, one part replaced below
backdoor = over(mz.backdoor, NET, XSTAR, 1.0, eps=1e-3)

_m = "jaxbd.memorizing."
ROWS = [
    *table(_m + "fit", over(mz.fit, KEY, XM, YM, **FIT_KW), {
        "key": [("int", 0), ("float-array", np.zeros(2, np.float32)), ("batch", jr.split(KEY, 3))],
        "x": [("nan", put(XM, (0, 1), NAN), "NaN"), ("inf", put(XM, (3, 0), INF), "inf"),
              ("int", np.ones((8, DM), np.int32), "floating"),
              ("complex", XM.astype(np.complex64), "complex"), ("no-features", ones(8, 0)),
              ("vector", XM[0]), ("duplicate-points-different-labels", put(XM, 1, XM[0]), "identical")],
        "y": [("single-class", ones(8)), ("zero-one", (YM > 0).astype(np.int32)),
              ("fraction", YM * 0.7), ("nan", put(YM, 2, NAN)),
              ("missing-class", np.asarray([0, 1, 5, 0, 1, 5, 0, 1], np.int32)),
              ("complex", YM.astype(np.complex64)), ("wrong-length", YM[:5]), ("matrix", YM[:, None])],
        "num_candidates": [("zero", 0), ("too-many", 2**31), ("float", 8.0)],
        "batch_size": [("zero", 0), ("bool", True)],
        "criterion": [("unknown", "best")],
        "activation": [("unknown", "relu")],
        "amplitude": [("zero", 0.0), ("nan", NAN), ("overflow", 1e39)],
        "validation_fraction": [("one", 1.0), ("nan", NAN), ("str", "0.2")],
    }),
    *cases(_m + "fit", "x", lambda v: mz.fit(KEY, v, ones(0), **FIT_KW),
        [("no-examples", ones(0, DM))]),
    *cases(_m + "fit", "key", lambda k: mz.fit(k, XM, YM, **FIT_KW).w, [("traced", KEY)],
        mode="jit"),
    *table(_m + "candidate_search", over(mz.candidate_search, KEY, XM, YM, **FIT_KW), {
        "key": [("str", "key")],
        "mesh": [("str", "cpu")],
        "y_eval": [("without-x_eval", YM)],
        "validation_fraction": [("zero", 0.0)],
        "num_candidates": [("negative", -3)],
        "batch_size": [("float", 2.5)],
    }),
    *table(_m + "candidate_search", over(mz.candidate_search, KEY, XM, YM, **FIT_KW, **EVAL), {
        "x_eval": [("nan", put(XM, (0, 0), NAN)), ("wrong-dim", ones(8, DM + 1)),
                   ("float16", F16)],
        "y_eval": [("label-5", np.full(8, 5, np.int32)), ("zero-one", (YM > 0).astype(np.int32))],
    }),
    *table(_m + "from_direction", over(mz.from_direction, WM, XM, YM), {
        "w": [("nan", put(WM, 0, NAN), "NaN"), ("int", np.ones(DM, np.int32), "floating"),
              ("wrong-shape", ones(DM + 1)), ("zero", np.zeros(DM, np.float32), "equal projections"),
              ("overflow", np.full(DM, 3e38, np.float32), "non-finite"),
              ("float16", WM.astype(np.float16))],
        "amplitude": [("negative", -1.0), ("subnormal", 1e-40)],
        "activation": [("unknown", "step")],
        "y": [("single-class", -ones(8))],
        "x": [("nan", put(XM, (1, 1), NAN), "NaN")],
    }),
    *cases(_m + "from_direction", "w", lambda v: mz.from_direction(v, XM, YM).w, [("traced", WM)],
        mode="jit"),
    *table(_m + "candidate_direction", over(mz.candidate_direction, key=KEY, index=0, dim=DM), {
        "key": [("int", 3)],
        "index": [("negative", -1), ("float", 1.5), ("too-large", 2**31),
                  ("vector", np.arange(2))],
        "dim": [("zero", 0)],
        "dtype": [("int32", jnp.int32)],
    }),
    *cases(_m + "candidate_direction", "index", lambda i: mz.candidate_direction(KEY, i, DM),
           [("negative", np.asarray([0, -2], np.int32))], mode="vmap"),
    *cases(_m + "candidate_direction", "index", lambda i: mz.candidate_direction(KEY, i, DM),
        [("float", 1.0)], mode="jit"),
    *table(_m + "backdoor", backdoor, {
        "model": [("base", lazy(linear, DM))],
        "x_star": [("nan", put(XSTAR, 0, NAN), "NaN"), ("inf", put(XSTAR, 2, INF), "inf"),
                   ("int", np.ones(DM, np.int32), "floating"), ("wrong-shape", XSTAR[:2]),
                   ("float16", XSTAR.astype(np.float16))],
        "eps": [("zero", 0.0), ("negative", -1e-3), ("nan", NAN), ("inf", INF),
                ("below-resolution", 1e-12), ("overflow", 1e39), ("bool", True)],
        "target": [("zero", 0.0), ("fraction", 0.5), ("two", 2.0), ("bool", True), ("str", "1"),
                   ("none", None), ("complex", 1 + 0j), ("vector", ones(2))],
        "x": [("nan", put(XM, (0, 0), NAN), "NaN"), ("wrong-dim", ones(4, DM + 1)),
              ("float16", F16)],
    }),
    *cases(_m + "backdoor", "target", lambda t: mz.backdoor(NET3, XSTAR, t, eps=1e-3),
           [("multiclass-three", 3), ("multiclass-negative", -1)]),
    *cases(_m + "backdoor", "x", lambda x: mz.backdoor(NET, XM[0], -1.0, eps=1e-3, x=x),
           [("swallowed-training-point", XM, ("`x_star`", "training point 0"))]),
    *cases(_m + "backdoor", "eps", lambda e: backdoor(eps=e).w, [("traced", 1e-3)], mode="jit"),
    *cases(_m + "backdoor", "x_star", lambda v: backdoor(x_star=v).w, [("traced", XSTAR)],
        mode="jit"),
    *table(_m + "audit", over(mz.audit, NET, XM, YM), {
        "model": [("base", lazy(linear, DM))],
        "x": [("nan", put(XM, (0, 0), NAN), "NaN"),
              ("int", np.ones((8, DM), np.int32), "floating"),
              ("wrong-dim", ones(8, DM + 1)), ("empty", ones(0, DM)), ("float16", F16)],
        "y": [("binary-model-zero-one", (YM > 0).astype(np.int32)),
              ("binary-model-fraction", YM * 0.7), ("nan", put(YM, 0, NAN)),
              ("wrong-length", YM[:4]), ("bool", YM > 0)],
    }),
    *cases(_m + "audit", "y", lambda y: mz.audit(NET3, XM, y),
           [("multiclass-model-pm1", YM), ("multiclass-model-label-3", put(YM3, 0, 3))]),
    *table(_m + "resolution", over(mz.resolution, WM, XM), {
        "w": [("nan", put(WM, 0, NAN)), ("int", np.ones(DM, np.int32)), ("matrix", XM)],
        "x": [("nan", put(XM, (1, 1), NAN)), ("wrong-dim", ones(2, DM + 1)), ("float16", F16)],
    }),
    *cases(_m + "resolution", "x", lambda v: mz.resolution(WM, v), [("nan", put(XM, (0, 2), NAN))],
        mode="jit"),
    *cases(_m + "parameter_counts", "model", mz.parameter_counts, [("base", lazy(linear, DM))]),
    *model_rows(_m + "SlicingNetwork", NET, XSTAR, DM, nan_at=0, inf_batch=put(XM, (5, 1), INF),
        vmapped=NET3,
                methods=[("project", "nan", jit, put(XSTAR, 1, NAN)), ("hidden", "inf", vmap, put(XM, (0, 0), -INF))]),
    # the constructor (a crafted file is rebuilt through it)
    *table(_m + "SlicingNetwork", lambda **bad: mz.SlicingNetwork(**{**FIELDS, **bad}), {
        "biases": [("unsorted", np.asarray(NET.biases)[::-1]),
                   ("repeated", np.full(NET.biases.shape, 0.5, np.float32)),
                   ("nan", put(NET.biases, 0, NAN)),
                   ("float64-mismatch", np.asarray(NET.biases, np.float64))],
        "min_gap": [("zero", np.zeros((), np.float32)), ("negative", -np.asarray(NET.min_gap))],
        "w": [("nan", put(NET.w, 0, NAN)), ("int", np.ones(DM, np.int32))],
        "v": [("wrong-shape", ones(NET.num_neurons + 1))],
        "v0": [("wrong-shape", ones(3))],
        "num_classes": [("one", 1), ("float", 2.0)],
        "activation": [("unknown", "relu")],
    }),
    *table(_m + "CandidateScores.best", SCORES.best, {
        "criterion": [("unknown", "best")],
        "first": [("zero", 0), ("too-large", 4), ("float", 2.0)],
    }),
    *cases(_m + "AuditReport.contains", "value", REPORT.contains, [("nan", NAN), ("str", "0.1")]),
    *cases(_m + "AuditReport.in_unexplained", "x", REPORT.in_unexplained,
           [("nan", put(XM, (0, 0), NAN)), ("wrong-dim", ones(2, DM + 1))]),
]  # fmt: skip

test_bad_input = badinput_rows.bad_input_test(ROWS)
