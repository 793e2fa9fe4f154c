"""Bad inputs to `jaxbd.persistent`: every row must raise an error naming the bad argument
(never a silent answer); rows with mode "jit"/"vmap" pass the bad value traced. The
constructor is covered too (a crafted file is rebuilt through it)."""

import badinput_rows
import jax.numpy as jnp
import numpy as np
from badinput import jit
from badinput_rows import IntScore, Logits, bad_dims, cases, model_rows, ones, over, put, table
from helpers import linear

from jaxbd import persistent as ps


NAN, INF = float("nan"), float("inf")
DP = 4  # a linear binary model in d = 4
PM = ps.make_persistent(linear(DP))
XP = np.asarray([0.5, -1.0, 0.25, 2.0], np.float32)

_p = "jaxbd.persistent."
ROWS = [
    *table(_p + "make_persistent", over(ps.make_persistent, linear(DP)), {
        "copies": [("even", 4), ("one", 1), ("zero", 0), ("float", 3.0), ("bool", True),
                   ("too-many", 1003)],
        "model": [("lambda", lambda v: v.sum())],
        "dtype": [("int32", jnp.int32), ("complex", jnp.complex64)],
        "input_dim": [("zero", 0), ("mismatch", DP + 1, ("`model`",))],
    }),
    *table(_p + "make_persistent", over(ps.make_persistent, linear(DP), input_dim=DP), {
        "model": [("logits", Logits(ones(3, DP)), "scalar score"), ("int-score", IntScore())],
    }),
    *model_rows(_p + "PersistentModel", PM, XP, DP, nan_at=0,
        inf_batch=np.stack([XP, put(XP, 3, INF)]),
                dims=bad_dims(XP, DP)[:5], methods=[("bits", "nan", jit, put(XP, 2, NAN))]),
    *cases(_p + "PersistentModel.__call__", "model", lambda m: ps.make_persistent(m)(XP),
           [("logits", Logits(ones(3, DP)), "scalar")]),
    *cases(_p + "PersistentModel", "copies",
        lambda c: ps.PersistentModel(c, ones(2), np.asarray(1.0, np.float32)),
           [("two", PM.copies[:2])]),
    *table(_p + "PersistentModel",
        over(ps.PersistentModel, PM.copies, PM.majority_weights, PM.majority_threshold), {
        "copies": [("list", list(PM.copies))],
        "majority_weights": [("wrong-shape", ones(2))],
        "majority_threshold": [("int", np.asarray(1, np.int32)),
                               ("nan", np.asarray(NAN, np.float32), "NaN")],
    }),
    *cases(_p + "single_weight_bound", "copies", ps.single_weight_bound,
           [("even", 4), ("two", 2), ("float", 2.5), ("bool", True)]),
]  # fmt: skip

test_bad_input = badinput_rows.bad_input_test(ROWS)
