"""Bad inputs to `jaxbd.checksum`: every row must raise an error naming the bad argument (never
a silent answer). Rows with mode "jit"/"vmap" pass the bad value traced: the check is
`eqx.error_if` (a runtime error when the program runs) or, for a host-level function, a clear
error at trace time. The constructors are covered too: a crafted file is rebuilt through them,
so they must refuse broken invariants."""

import badinput_rows
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from badinput import Row, jit, vmap
from badinput_rows import IntScore, Logits, bad_dims, cases, model_rows, ones, over, put, table
from helpers import linear

from jaxbd import checksum as cs


NAN, INF = float("nan"), float("inf")
KEY = jr.key(0)
DC = 6  # two blocks, output coordinate 0
C_BASE = linear(DC)
CM, CK = cs.backdoor(KEY, C_BASE, input_dim=DC, num_blocks=2, out_index=0)
XC = np.asarray([0.5, -1.0, 0.25, 2.0, -0.75, 1.5], np.float32)
XCB = np.stack([XC, -XC])
TARGETS = [("zero", 0.0), ("fraction", 0.7), ("two", 2), ("nan", NAN), ("bool", True),
           ("complex", 1 + 0j), ("str", "1"), ("none", None), ("vector", ones(2))]  # fmt: skip
BLOCKS = lambda *b: np.asarray(b, np.int32)  # noqa: E731  (a `block_of` vector)

_c = "jaxbd.checksum."
ROWS = [
    *table(_c + "backdoor", over(cs.backdoor, KEY, C_BASE, input_dim=DC, num_blocks=2), {
        "key": [("int", 0), ("float-array", np.zeros(2, np.float32)), ("batch", jr.split(KEY, 2)),
                ("none", None)],
        "num_blocks": [("zero", 0), ("negative", -1), ("equal-to-dim", DC), ("float", 2.0),
                       ("bool", True), ("str", "2")],
        "input_dim": [("float", 6.0), ("mismatch", 5, ("`model`",))],
        "out_index": [("too-large", DC), ("negative", -1)],
        "dtype": [("int32", jnp.int32)],
        "model": [("logits", Logits(ones(3, DC)), "scalar score"), ("int-score", IntScore()),
                  ("str", "model")],
    }),
    Row(_c + "backdoor", "input_dim", "one",
        lambda: cs.backdoor(KEY, linear(1), input_dim=1, num_blocks=1), ("`input_dim`",)),
    *cases(_c + "backdoor", "key",
        lambda k: cs.backdoor(k, C_BASE, input_dim=DC, num_blocks=2)[1].v, [("traced", KEY)],
        mode="jit"),
    *cases(_c + "activate", "x", lambda v: cs.activate(CK, v, 1.0), bad_dims(XC, DC)),
    *cases(_c + "activate", "target", lambda t: cs.activate(CK, XC, t), TARGETS),
    *cases(_c + "activate", "backdoor_key", lambda k: cs.activate(k, XC, 1.0), [("model", CM)]),
    *cases(_c + "activate", "x", lambda v: cs.activate(CK, v, 1.0),
        [("nan", put(XC, 2, NAN), "NaN")], mode="jit"),
    *cases(_c + "activate", "x", lambda v: cs.activate(CK, v, 1.0),
        [("inf", put(XCB, (1, 3), INF))], mode="vmap"),
    *cases(_c + "activate", "target", lambda t: cs.activate(CK, XC, t),
        [("zero", 0.0), ("bool", True)], mode="jit"),
    Row(_c + "activate", "target", "two",
        vmap(lambda v, t: cs.activate(CK, v, t), XCB, np.array([1.0, 2.0], np.float32)),
        ("`target`",), mode="vmap"),
    *table(_c + "can_activate", over(cs.can_activate, CK, XC, 1.0), {
        "x": [("nan", put(XC, 0, NAN), "NaN")], "target": [("zero", 0)],
        "backdoor_key": [("str", "k")],
    }),
    *cases(_c + "can_activate", "x", lambda v: cs.can_activate(CK, v, 1.0),
        [("nan", put(XC, 1, NAN))], mode="jit"),
    *table(_c + "checksum", over(cs.checksum, CK, XC), {
        "x": [("nan", put(XC, 0, NAN), "NaN"), ("int", np.ones(DC, np.int32)),
              ("wrong-shape", ones(DC - 1))],
        "backdoor_key": [("none", None)],
    }),
    *cases(_c + "checksum", "x", lambda v: cs.checksum(CK, v), [("inf", put(XCB, (0, 0), INF))],
        mode="vmap"),
    *table(_c + "replicate", over(cs.replicate, XC, XC), {
        "x_new": [("nan", put(XC, 1, NAN), "NaN"),
                  ("complex", np.ones(DC, np.complex64), "complex"),
                  ("wrong-shape", XC[:-1]), ("dtype-mismatch", XC.astype(np.float16))],
        "x_activated": [("inf", put(XC, 1, INF)), ("int", np.ones(DC, np.int32))],
    }),
    Row(_c + "replicate", "x_new", "empty", lambda: cs.replicate(XC[:0], XC[:0]), ("`x_new`",)),
    *cases(_c + "replicate", "x_new", lambda v: cs.replicate(XC, v), [("nan", put(XC, 2, NAN))],
        mode="jit"),
    *cases(_c + "replicate", "x_activated", lambda v: cs.replicate(v, XC),
        [("nan", put(XCB, (1, 0), NAN))], mode="vmap"),
    *cases(_c + "trigger_probability", "num_blocks", cs.trigger_probability,
        [("zero", 0), ("float", 1.5), ("bool", True)]),
    *model_rows(_c + "ChecksumBackdooredModel", CM, XC, DC, nan_at=4,
        inf_batch=put(XCB, (1, 5), -INF),
                methods=[("checksum_bits", "nan", jit, put(XC, 4, NAN))]),
    # constructors (a crafted file is rebuilt through them)
    *table(_c + "ChecksumKey", over(cs.ChecksumKey, CK.block_of, CK.v, 0, 2), {
        "num_blocks": [("inconsistent-with-v", 3, ("`v`",))],
        "block_of": [("empty-block", BLOCKS(-1, 0, 0, 0, 0, 0)),
                     ("out-of-range-block", BLOCKS(-1, 0, 1, 2, 0, 1)),
                     ("no-output-coordinate", BLOCKS(0, 0, 1, 1, 0, 1)),
                     ("float", np.asarray(CK.block_of).astype(np.float32))],
        "v": [("not-bits", BLOCKS(0, 2))],
        "out_index": [("too-large", DC)],
    }),
    Row(_c + "ChecksumKey", "num_blocks", "too-large",
        lambda: cs.ChecksumKey(CK.block_of, np.zeros(DC, np.int32), 0, DC), ("`num_blocks`",)),
    Row(_c + "ThresholdLayer", "bias", "matrix", lambda: cs.ThresholdLayer(ones(2, 3), ones(2, 1)),
        ("`bias`",)),
    Row(_c + "ThresholdLayer", "weight", "shape", lambda: cs.ThresholdLayer(ones(2, 3), ones(3)),
        ("`weight`",)),
    *cases(_c + "ThresholdLayer", "weight", lambda w: cs.ThresholdLayer(w, ones(3), diagonal=True),
           [("nan", put(ones(3), 0, NAN), "NaN"), ("int", np.ones(3, np.int32))]),
    *table(_c + "ChecksumBackdooredModel",
        over(cs.ChecksumBackdooredModel, C_BASE, CM.layers, DC, 0), {
        "layers": [("wrong-chain", CM.layers[:1] + CM.layers[2:], ("`layers",)), ("empty", ())],
        "out_index": [("too-large", DC)],
        "base": [("not-callable", 3)],
    }),
    Row(_c + "ChecksumBackdooredModel.__call__", "base", "logits",
        lambda: cs.ChecksumBackdooredModel(Logits(ones(3, DC)), CM.layers, DC, 0)(XC),
        ("`base`", "scalar")),
]  # fmt: skip

test_bad_input = badinput_rows.bad_input_test(ROWS)
