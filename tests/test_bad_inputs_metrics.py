"""Bad inputs to `jaxbd.metrics`: every row must raise an error naming the bad argument (never
a silent answer). Rows with mode "jit"/"vmap" pass the bad value traced: the check is
`eqx.error_if`. Fixtures: tests/badinput_defences.py."""

import badinput_defences as bd
import badinput_rows
import jax
import jax.numpy as jnp
from badinput import Row, done, jit
from badinput_defences import BIN, DUP, INF, KEY, MULTI, NAN, X1, XA, XS, YM, D, Y, at, shift
from badinput_rows import cases, lazy, over, table

from jaxbd import metrics as M


log_model = lambda v: jnp.log(v[0] + 10.0)  # noqa: E731  (finite near X1, NaN for v[0] < -10)
PRED_J = jax.jit(lambda x: M.predict(log_model, x))  # compiled once, reused by its rows
_m = "jaxbd.metrics."

ROWS = [
    *table(_m + "predict", over(M.predict, BIN, XS), {
        "model": [("not-callable", 3), ("nan-score", bd.nan_model, "NaN")],
        "x": [("one-example", X1), ("int", lazy(jnp.ones, (2, D), jnp.int32)),
              ("complex", lazy(XS.astype, jnp.complex64)),
              ("nan", at(XS, (0, 0), NAN), "NaN"), ("no-rows", lazy(jnp.ones, (0, D)))],
    }),
    Row(_m + "predict", "x", "inf", lambda: done(PRED_J(XS.at[1, 1].set(INF))), ("`x`",),
        mode="jit"),
    Row(_m + "predict", "model", "nan-score", lambda: done(PRED_J(XS.at[1, 0].set(-20.0))),
        ("`model`", "NaN"), mode="jit"),
    *table(_m + "clean_accuracy", over(M.clean_accuracy, BIN, XS, Y), {
        "y": [("zero-one-for-binary", lazy(lambda: (Y > 0).astype(jnp.int32)), "-1/+1"),
              ("wrong-length", lazy(lambda: Y[:-1])),
              ("nan", at(Y, 0, NAN)), ("two-for-binary", at(Y, 0, 2.0))],
        "model": [("matrix-output", lambda v: jnp.zeros((2, 2)))],
        "x": [("nan", at(XS, (0, 0), NAN))],
    }),
    *table(_m + "clean_accuracy", over(M.clean_accuracy, MULTI, XS, YM), {
        "y": [("label-beyond-logits", at(YM, 0, 3), "3 classes"),
              ("fractional", lazy(lambda: YM.astype(jnp.float32).at[0].set(0.5))), ("pm1-for-logits", Y)],
    }),
    *table(_m + "attack_success_rate", over(M.attack_success_rate, BIN, XS, XA), {
        "target": [("five-on-binary", 5, "-1/+1")],
        "x_activated": [("shape", lazy(lambda: XA[:, :2])), ("nan", at(XA, (0, 0), NAN), "NaN"),
                        ("int", lazy(XA.astype, jnp.int32))],
        "x": [("inf", at(XS, (0, 0), INF))],
    }),
    *table(_m + "attack_success_rate", over(M.attack_success_rate, BIN, XS, XA, y=Y),
        {"target": [("zero-on-binary", 0)]}),
    *table(_m + "attack_success_rate", over(M.attack_success_rate, BIN, XS, XA, target=1.0), {
        "y": [("zero-one-for-binary", lazy(lambda: (Y > 0).astype(jnp.float32)))],
    }),
    *table(_m + "attack_success_rate", over(M.attack_success_rate, MULTI, XS, XA), {
        "target": [("beyond-logits", 3), ("fractional", 0.5), ("str", "a"),
                   ("wrong-length", lazy(jnp.asarray, [0, 1]))],
    }),
    *table(_m + "perturbation_norms", over(M.perturbation_norms, XS, XA), {
        "x_prime": [("shape", lazy(lambda: XA[:, :2])), ("int", lazy(XA.astype, jnp.int32))],
        "x": [("nan", at(XS, (0, 0), NAN))],
    }),
    Row(_m + "perturbation_norms", "x", "no-rows",
        lambda: M.perturbation_norms(jnp.ones((0, D)), jnp.ones((0, D))), ("`x`",)),
    Row(_m + "perturbation_norms", "x_prime", "nan",
        jit(M.perturbation_norms, XS, XA.at[2, 2].set(NAN)), ("`x_prime`", "NaN"), mode="jit"),
    *table(_m + "median_nn_distance", over(M.median_nn_distance, XS), {
        "x": [("one-row", lazy(lambda: XS[:1])), ("nan", at(XS, (0, 0), NAN))],
        "batch_size": [("zero", 0)],
    }),
    *cases(_m + "median_nn_distance", "x", M.median_nn_distance, [("traced", XS, "concrete")],
        mode="jit"),
    *table(_m + "random_perturbation", over(M.random_perturbation, KEY, XS, XA), {
        "key": [("int", 0)],
        "x_prime": [("shape", lazy(lambda: XA[:4])), ("nan", at(XA, (0, 0), NAN))],
    }),
    *table(_m + "evaluate_backdoor", over(M.evaluate_backdoor, KEY, BIN, BIN, shift, XS, Y), {
        "key": [("int", 1)],
        "activate": [("nan", lambda v: v * NAN, "NaN"), ("not-callable", "act"),
                     ("wrong-shape", lambda v: v[:2])],
        "y": [("zero-one-for-binary", lazy(lambda: (Y > 0).astype(jnp.float32)))],
        "target": [("five-on-binary", 5)],
        "reference_x": [("duplicated-points", DUP), ("wrong-dim", lazy(lambda: XS[:, :2]))],
        "backdoored": [("other-task", MULTI)],
        "wrong_activate": [("nan", lambda v: v.at[0].set(NAN))],
    }),
    Row(_m + "evaluate_backdoor", "x", "duplicated-points",
        lambda: M.evaluate_backdoor(KEY, BIN, BIN, shift, DUP, M.predict(BIN, DUP)),
        ("`x`", "median nearest-neighbour distance")),
    *cases(_m + "mean_std", "values", M.mean_std, [
        ("str", "abc"), ("inf", [1.0, INF], "inf"), ("complex", [1j]), ("ragged", [[1.0], [2.0, 3.0]]), ("bool", [True, False])]),
]  # fmt: skip

test_bad_input = badinput_rows.bad_input_test(ROWS)
