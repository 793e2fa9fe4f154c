"""Bad inputs to `jaxbd.detect` (the white-box tests, the black-box probe and the regime
warnings): every row must raise an error naming the bad argument (never a silent answer). Rows
with mode "jit"/"vmap" pass the bad value traced: the check is `eqx.error_if`. Fixtures:
tests/badinput_defences.py (`W`: honest first-layer weights, 40 units in d = 4)."""

import badinput_rows
import jax.numpy as jnp
from badinput import Row
from badinput_defences import BIN, DUP, INF, KEY, NAN, W_NAN, XS, W, at
from badinput_rows import cases, lazy, over, table

from jaxbd.detect import (
    Detection,
    bbp_threshold,
    covariance_thresholding,
    diagonal_thresholding,
    gaussianity,
    lattice_attack,
    pancakes,
    probe,
    regime_warnings,
    spectral,
    tracy_widom1_cdf,
    tracy_widom1_sf,
    warn_if_detectable,
)
from jaxbd.detect.blackbox import probe_queries
from jaxbd.detect.gaussianity import gaussianity_p_value, gaussianity_statistic
from jaxbd.detect.pancakes import (
    all_supports,
    candidate_directions,
    default_num_directions,
    pancake_statistics,
)
from jaxbd.detect.sparse_pca import (
    covariance_null,
    covariance_statistic,
    diagonal_p_value,
    diagonal_statistic,
)
from jaxbd.detect.spectral import spectral_p_value, spectral_statistic


_d = "jaxbd.detect."
RELU_REGIME = dict(dim=8, width=16, sparsity=2, theta=0.5)
RFF_REGIME = dict(dim=8, width=16, secret_dim=2, beta=0.1)
few_rows = lambda n: lazy(lambda: W[:n])  # noqa: E731  (the first `n` units of `W`)

ROWS = [
    *table(_d + "Detection.from_p", over(Detection.from_p, "t", 1.0, 0.5, 0.05, "c"), {
        "p_value": [("nan", NAN, "NaN")], "alpha": [("zero", 0.0)],
    }),
    *table(_d + "Detection", over(Detection, "t", 1.0, 0.5, 0.05, False, "c"), {
        "p_value": [("above-one", 1.5)], "statistic": [("nan", NAN)],
    }),
    *cases(_d + "tracy_widom1_cdf", "s", tracy_widom1_cdf,
        [("nan", [0.0, NAN], "NaN"), ("str", "a")]),
    *cases(_d + "tracy_widom1_sf", "s", tracy_widom1_sf, [("complex", 1j), ("nan", NAN)]),
    *table(_d + "spectral", over(spectral, W), {
        "w": [("int", lazy(jnp.ones, (10, 3), jnp.int32)),
              ("complex", lazy(W.astype, jnp.complex64)),
              ("nan", W_NAN, "NaN"), ("vector", lazy(lambda: W[0])), ("one-row", few_rows(1))],
        "alpha": [("above-one", 1.5), ("str", "0.05")],
    }),
    *cases(_d + "spectral", "w", spectral, [("traced", W, "concrete")], mode="jit"),
    *cases(_d + "spectral_statistic", "w", spectral_statistic, [("nan", W_NAN, "NaN")],
        mode="jit"),
    *cases(_d + "spectral_statistic", "w", spectral_statistic,
        [("nan-model", lazy(jnp.stack, [W, W_NAN]), "NaN")], mode="vmap"),
    *cases(_d + "spectral_p_value", "statistic", spectral_p_value, [("nan", NAN)]),
    *table(_d + "bbp_threshold", over(bbp_threshold, 5, 5),
        {"num_units": [("zero", 0)], "dim": [("zero", 0)]}),
    *table(_d + "diagonal_thresholding", over(diagonal_thresholding, W),
        {"w": [("nan", W_NAN)], "alpha": [("nan", NAN)]}),
    *cases(_d + "diagonal_statistic", "w", diagonal_statistic, [("inf", W.at[1, 1].set(INF))],
        mode="jit"),
    *table(_d + "diagonal_p_value", over(diagonal_p_value, 3.0, 10, 4),
        {"statistic": [("nan", NAN)], "num_rows": [("zero", 0)]}),
    *table(_d + "covariance_thresholding", over(covariance_thresholding, KEY, W), {
        "key": [("int", 0)],
        "tau": [("negative", -1.0), ("nan", NAN)],
        "num_null": [("zero", 0)],
        "sparsity": [("zero", 0), ("above-dim", 9)],
        "w": [("one-column", lazy(lambda: W[:, :1]))],
    }),
    *cases(_d + "covariance_thresholding", "num_null",
        lambda n: covariance_thresholding(KEY, W, num_null=n, alpha=0.05),
        [("too-small-for-alpha", 9)]),
    *cases(_d + "covariance_statistic", "w", covariance_statistic,
        [("nan-model", lazy(jnp.stack, [W_NAN, W]))], mode="vmap"),
    *table(_d + "covariance_null", over(covariance_null, KEY, 10, 3),
        {"num_null": [("zero", 0)], "tau": [("negative", -2.0)]}),
    *table(_d + "gaussianity", over(gaussianity, KEY, W), {
        "key": [("none", None)],
        "num_projections": [("negative", -1), ("float", 1.5)],
        "w": [("too-few-rows", few_rows(4)), ("nan", W_NAN)],
    }),
    *cases(_d + "gaussianity_statistic", "w", lambda w: gaussianity_statistic(w, jnp.ones((2, 4))),
        [("nan", W_NAN)], mode="jit"),
    *cases(_d + "gaussianity_statistic", "projections", lambda p: gaussianity_statistic(W, p),
        [("wrong-dim", lazy(jnp.ones, (2, 3)))]),
    *table(_d + "gaussianity_p_value", over(gaussianity_p_value, 0.1, 10, 3),
        {"statistic": [("nan", NAN)]}),
    *table(_d + "gaussianity_p_value", over(gaussianity_p_value, 0.1, 10, 0),
        {"num_tests": [("zero", 0)]}),
    *table(_d + "lattice_attack", over(lattice_attack, W), {
        "scales": [("negative", (-1.0,)), ("nan", (2.0**10, NAN)), ("empty", ()), ("str", "big")],
        "shift": [("not-half-integer", 0.3), ("nan", NAN)],
        "num_samples": [("below-dim", 2), ("float", 10.5)],
        "w": [("too-few-rows", few_rows(20))],
        "alpha": [("zero", 0.0)],
    }),
    *table(_d + "pancakes", over(pancakes, KEY, W, support_size=1), {
        "key": [("int", 3)],
        "support_size": [("zero", 0), ("bool", True)],
        "gamma": [("negative", -1.0), ("inf", INF)],
        "max_candidates": [("zero", 0)],
        "w": [("nan", W_NAN)],
    }),
    *cases(_d + "pancakes", "num_directions",
        lambda n: pancakes(KEY, W, support_size=2, num_directions=n), [("zero", 0)]),
    *cases(_d + "pancake_statistics", "w",
        lambda w: pancake_statistics(w, jnp.asarray([[0]]), jnp.ones((1, 1)), 2.0),
        [("nan", W_NAN)], mode="jit"),
    *cases(_d + "all_supports", "size", lambda s: all_supports(3, s), [("above-dim", 5)]),
    *table(_d + "default_num_directions", over(default_num_directions, 2, 1.0),
        {"size": [("zero", 0)], "gamma": [("nan", NAN)]}),
    *cases(_d + "candidate_directions", "key", lambda k: candidate_directions(k, 3, 4),
        [("int", 0)]),
    *table(_d + "probe", over(probe, KEY, BIN, BIN, XS), {
        "scales": [("nan", (NAN,)), ("negative", (-1.0,)), ("repeated", (0.5, 0.5))],
        "num_queries": [("zero", 0)],
        "baseline_rate": [("one", 1.0), ("nan", NAN)],
        "key": [("int", 0)],
        "suspect": [("not-callable", "m")],
        "x": [("duplicated-points", DUP, "median"), ("nan", at(XS, (0, 0), NAN), "NaN")],
        "alpha": [("above-one", 2.0)],
    }),
    *table(_d + "probe_queries", over(probe_queries, KEY, XS), {
        "scales": [("inf", (INF,))], "num_queries": [("float", 1.5)],
    }),
    Row(_d + "regime_warnings", "construction", "unknown", lambda: regime_warnings("cnn", dim=3),
        ("`construction`",)),
    *table(_d + "regime_warnings", lambda **bad: regime_warnings("relu", **{**RELU_REGIME, **bad}),
        {
        "width": [("zero", 0)], "sparsity": [("zero", 0)], "theta": [("nan", NAN)], "dim": [("bool", True)],
        "thetaa": [("unknown-parameter", 1.0)],
    }),
    *table(_d + "regime_warnings", lambda **bad: regime_warnings("rff", **{**RFF_REGIME, **bad}), {
        "beta": [("negative", -1.0)], "secret_dim": [("zero", 0)], "gamma": [("zero", 0.0)],
    }),
    *cases(_d + "warn_if_detectable", "width",
        lambda w: warn_if_detectable("relu", **{**RELU_REGIME, "width": w}), [("zero", 0)]),
]  # fmt: skip

test_bad_input = badinput_rows.bad_input_test(ROWS)
