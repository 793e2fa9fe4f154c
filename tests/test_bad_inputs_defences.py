"""Bad inputs to the defences and measurements: smoothing, metrics, universality, finetune,
sharding and detect. Every row must raise an error naming the bad argument (never a silent
answer). Rows with mode "jit"/"vmap" pass the bad value traced: the check is `eqx.error_if`."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from badinput import Row, check_row, done, ids, jit, vmap
from helpers import linear
from jax.sharding import Mesh

from jaxbd import finetune as F, metrics as M, sharding as SH, smoothing as S, universality as U
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


# ----------------------------------------------------------------------------- shared fixtures

NAN, INF = float("nan"), float("inf")
KEY = jr.key(0)
D = 3
BIN = linear(D)  # scalar score: labels ±1


class Logits(eqx.Module):
    w: jax.Array

    def __call__(self, x):
        return self.w @ x


MULTI = Logits(jr.normal(jr.key(1), (3, D)))  # 3 logits: labels 0..2
X1 = jnp.asarray([0.5, -0.25, 1.0])
XS = jr.normal(jr.key(2), (8, D))
Y = M.predict(BIN, XS)  # ±1 floats
YM = M.predict(MULTI, XS)  # 0..2
XA = XS + 0.5
DUP = jnp.zeros((8, D)).at[0].set(1.0)  # median nearest-neighbour distance 0
nan_model = lambda v: jnp.nan * v[0]  # noqa: E731
shift = lambda v: v + 0.5  # noqa: E731
W = jr.normal(jr.key(3), (40, 4))  # honest first-layer weights
W_NAN = W.at[0, 0].set(jnp.nan)
Z = jr.normal(jr.key(4), (2, 4))
ZP = jr.normal(jr.key(5), (2, 4))
z, zp = Z[0], ZP[0]
HEAD = U.invalidating_head(z, zp, 1, num_classes=3)
SGD = optax.sgd(0.1)
DEVICES = np.asarray(jax.devices()[:1])

smooth_kw = dict(sigma=0.5, num_samples=8, batch_size=8)
pred_kw = dict(sigma=0.5, num_samples=8, alpha=0.05, batch_size=8)
cert_kw = dict(sigma=0.5, n0=4, num_samples=8, alpha=0.05, batch_size=16)


def kw(base, **over):
    return {**base, **over}


R = RuntimeError  # eqx.error_if at run time (an EquinoxRuntimeError)

# Traced entry points shared by several rows: each compiles once, then every row reuses it.
log_model = lambda v: jnp.log(v[0] + 10.0)  # noqa: E731  (finite near X1, NaN for v[0] < -10)
FAR = X1.at[0].set(-100.0)
SMOOTH_J = jax.jit(lambda x, s: S.smooth(KEY, log_model, x, **kw(smooth_kw, sigma=s)))
SMOOTH_V = jax.jit(jax.vmap(lambda x, s: S.smooth(KEY, log_model, x, **kw(smooth_kw, sigma=s))))
CERT_J = jax.jit(lambda x, s: S.certify(KEY, log_model, x, **kw(cert_kw, sigma=s)))
PRED_J = jax.jit(lambda x: M.predict(log_model, x))
MARGINS_J = jax.jit(lambda a, t: U.head_margins(HEAD, a, zp, t))
XV = jnp.stack([X1, X1])
SV = jnp.asarray([0.5, 0.5])


def traced(f, *args):
    return lambda: done(f(*args))


# ----------------------------------------------------------------------------- smoothing

_s = "jaxbd.smoothing."
SMOOTHING = [
    Row(_s + "smooth", "key", "int", lambda: S.smooth(0, BIN, X1, **smooth_kw), ("`key`",)),
    Row(
        _s + "smooth",
        "key",
        "float-array",
        lambda: S.smooth(jnp.ones(2), BIN, X1, **smooth_kw),
        ("`key`",),
    ),
    Row(_s + "smooth", "model", "str", lambda: S.smooth(KEY, "m", X1, **smooth_kw), ("`model`",)),
    Row(
        _s + "smooth",
        "model",
        "matrix-output",
        lambda: S.smooth(KEY, lambda v: jnp.zeros((2, 2)), X1, **smooth_kw),
        ("`model`",),
    ),
    Row(
        _s + "smooth",
        "model",
        "wrong-input-dim",
        lambda: S.smooth(KEY, lambda v: v @ jnp.ones(5), X1, **smooth_kw),
        ("`model`",),
    ),
    Row(
        _s + "smooth",
        "model",
        "nan-output",
        lambda: done(S.smooth(KEY, nan_model, X1, **smooth_kw)),
        ("`model`", "NaN"),
        R,
    ),
    Row(
        _s + "smooth",
        "x",
        "int",
        lambda: S.smooth(KEY, BIN, jnp.ones(D, jnp.int32), **smooth_kw),
        ("`x`", "floating"),
    ),
    Row(
        _s + "smooth",
        "x",
        "complex",
        lambda: S.smooth(KEY, BIN, jnp.ones(D, jnp.complex64), **smooth_kw),
        ("`x`", "complex"),
    ),
    Row(
        _s + "smooth",
        "x",
        "nan",
        lambda: S.smooth(KEY, BIN, X1.at[1].set(NAN), **smooth_kw),
        ("`x`", "NaN"),
    ),
    Row(
        _s + "smooth",
        "x",
        "inf",
        lambda: S.smooth(KEY, BIN, X1.at[1].set(INF), **smooth_kw),
        ("`x`", "inf"),
    ),
    Row(
        _s + "smooth", "x", "empty", lambda: S.smooth(KEY, BIN, jnp.ones(0), **smooth_kw), ("`x`",)
    ),
    Row(_s + "smooth", "x", "batch", lambda: S.smooth(KEY, BIN, XS, **smooth_kw), ("`x`",)),
    *[
        Row(
            _s + "smooth",
            "sigma",
            name,
            (lambda v=v: S.smooth(KEY, BIN, X1, **kw(smooth_kw, sigma=v))),
            ("`sigma`",),
        )
        for name, v in [
            ("zero", 0.0),
            ("negative", -1.0),
            ("nan", NAN),
            ("inf", INF),
            ("complex", 1j),
            ("bool", True),
            ("str", "1"),
            ("vector", jnp.ones(D)),
        ]
    ],
    Row(
        _s + "smooth",
        "num_samples",
        "zero",
        lambda: S.smooth(KEY, BIN, X1, **kw(smooth_kw, num_samples=0)),
        ("`num_samples`",),
    ),
    Row(
        _s + "smooth",
        "num_samples",
        "float",
        lambda: S.smooth(KEY, BIN, X1, **kw(smooth_kw, num_samples=2.5)),
        ("`num_samples`",),
    ),
    Row(
        _s + "smooth",
        "batch_size",
        "zero",
        lambda: S.smooth(KEY, BIN, X1, **kw(smooth_kw, batch_size=0)),
        ("`batch_size`",),
    ),
    Row(
        _s + "smooth",
        "output",
        "unknown",
        lambda: S.smooth(KEY, BIN, X1, output="raw", **smooth_kw),
        ("`output",),
    ),
    Row(
        _s + "smooth",
        "output",
        "onehot-for-scalar",
        lambda: S.smooth(KEY, BIN, X1, output="onehot", **smooth_kw),
        ("`output",),
    ),
    Row(
        _s + "smooth",
        "bound",
        "zero",
        lambda: S.smooth(KEY, BIN, X1, output="clip", bound=0.0, **smooth_kw),
        ("`bound`",),
    ),
    Row(
        _s + "smooth",
        "bound",
        "nan",
        lambda: S.smooth(KEY, BIN, X1, output="clip", bound=NAN, **smooth_kw),
        ("`bound`",),
    ),
    *[
        Row(_s + f, arg, bad, traced(fn, *args), words, mode=mode)
        for f, arg, bad, fn, args, words, mode in [
            ("smooth", "sigma", "negative", SMOOTH_J, (X1, -1.0), ("`sigma`",), "jit"),
            ("smooth", "sigma", "nan", SMOOTH_J, (X1, NAN), ("`sigma`",), "jit"),
            ("smooth", "x", "nan", SMOOTH_J, (X1.at[1].set(NAN), 0.5), ("`x`", "NaN"), "jit"),
            ("smooth", "model", "nan-output", SMOOTH_J, (FAR, 0.5), ("`model`", "NaN"), "jit"),
            ("smooth", "x", "nan-row", SMOOTH_V, (XV.at[1, 2].set(NAN), SV), ("`x`",), "vmap"),
            (
                "smooth",
                "sigma",
                "one-zero",
                SMOOTH_V,
                (XV, SV.at[1].set(0.0)),
                ("`sigma`",),
                "vmap",
            ),
            (
                "smooth",
                "model",
                "nan-row",
                SMOOTH_V,
                (XV.at[0].set(FAR), SV),
                ("`model`",),
                "vmap",
            ),
            ("certify", "sigma", "zero", CERT_J, (X1, 0.0), ("`sigma`",), "jit"),
            ("certify", "x", "inf", CERT_J, (X1.at[2].set(INF), 0.5), ("`x`", "inf"), "jit"),
            ("certify", "model", "nan-output", CERT_J, (FAR, 0.5), ("`model`", "NaN"), "jit"),
        ]
    ],
    # smooth_batch
    Row(
        _s + "smooth_batch",
        "x",
        "one-example",
        lambda: S.smooth_batch(KEY, BIN, X1, **smooth_kw),
        ("`x`",),
    ),
    Row(
        _s + "smooth_batch",
        "x",
        "no-rows",
        lambda: S.smooth_batch(KEY, BIN, jnp.ones((0, D)), **smooth_kw),
        ("`x`",),
    ),
    Row(
        _s + "smooth_batch",
        "x",
        "inf",
        lambda: S.smooth_batch(KEY, BIN, XS.at[2, 2].set(INF), **smooth_kw),
        ("`x`", "inf"),
    ),
    Row(
        _s + "smooth_batch",
        "sigma",
        "nan",
        lambda: S.smooth_batch(KEY, BIN, XS, **kw(smooth_kw, sigma=NAN)),
        ("`sigma`",),
    ),
    Row(
        _s + "smooth_batch",
        "mesh",
        "str",
        lambda: S.smooth_batch(KEY, BIN, XS, mesh="batch", **smooth_kw),
        ("`mesh`",),
    ),
    Row(
        _s + "smooth_batch",
        "key",
        "none",
        lambda: S.smooth_batch(None, BIN, XS, **smooth_kw),
        ("`key`",),
    ),
    # class_counts
    Row(
        _s + "class_counts",
        "sigma",
        "zero",
        lambda: S.class_counts(KEY, BIN, X1, **kw(smooth_kw, sigma=0.0)),
        ("`sigma`",),
    ),
    Row(
        _s + "class_counts",
        "x",
        "int",
        lambda: S.class_counts(KEY, BIN, jnp.arange(D), **smooth_kw),
        ("`x`",),
    ),
    # predict / predict_batch
    *[
        Row(
            _s + "predict",
            "alpha",
            name,
            (lambda v=v: S.predict(KEY, BIN, X1, **kw(pred_kw, alpha=v))),
            ("`alpha`",),
        )
        for name, v in [("zero", 0.0), ("one", 1.0), ("nan", NAN), ("str", "0.05")]
    ],
    Row(
        _s + "predict",
        "alpha",
        "traced",
        jit(lambda a: S.predict(KEY, BIN, X1, **kw(pred_kw, alpha=a)), 0.05),
        ("`alpha`", "concrete"),
        mode="jit",
    ),
    Row(
        _s + "predict",
        "model",
        "nan-output",
        lambda: done(S.predict(KEY, nan_model, X1, **pred_kw)),
        ("`model`", "NaN"),
        R,
    ),
    Row(
        _s + "predict",
        "num_samples",
        "negative",
        lambda: S.predict(KEY, BIN, X1, **kw(pred_kw, num_samples=-3)),
        ("`num_samples`",),
    ),
    Row(
        _s + "predict_batch",
        "alpha",
        "above-one",
        lambda: S.predict_batch(KEY, BIN, XS, **kw(pred_kw, alpha=1.5)),
        ("`alpha`",),
    ),
    Row(
        _s + "predict_batch",
        "mesh",
        "wrong-axis",
        lambda: S.predict_batch(KEY, BIN, XS, mesh=Mesh(DEVICES, ("data",)), **pred_kw),
        ("`mesh`",),
    ),
    Row(
        _s + "predict_batch",
        "x",
        "complex",
        lambda: S.predict_batch(KEY, BIN, XS.astype(jnp.complex64), **pred_kw),
        ("`x`",),
    ),
    # certify / certify_batch
    Row(
        _s + "certify",
        "model",
        "nan-output",
        lambda: done(S.certify(KEY, nan_model, X1, **cert_kw)),
        ("`model`", "NaN"),
        R,
    ),
    Row(
        _s + "certify",
        "n0",
        "zero",
        lambda: S.certify(KEY, BIN, X1, **kw(cert_kw, n0=0)),
        ("`n0`",),
    ),
    Row(
        _s + "certify",
        "n0",
        "float",
        lambda: S.certify(KEY, BIN, X1, **kw(cert_kw, n0=1.5)),
        ("`n0`",),
    ),
    Row(
        _s + "certify",
        "num_samples",
        "below-n0",
        lambda: S.certify(KEY, BIN, X1, **kw(cert_kw, n0=8, num_samples=4)),
        ("`num_samples`", "`n0`"),
    ),
    Row(
        _s + "certify",
        "alpha",
        "negative",
        lambda: S.certify(KEY, BIN, X1, **kw(cert_kw, alpha=-0.1)),
        ("`alpha`",),
    ),
    Row(
        _s + "certify",
        "sigma",
        "inf",
        lambda: S.certify(KEY, BIN, X1, **kw(cert_kw, sigma=INF)),
        ("`sigma`",),
    ),
    Row(
        _s + "certify",
        "key",
        "batch-of-keys",
        lambda: S.certify(jr.split(KEY, 2), BIN, X1, **cert_kw),
        ("`key`",),
    ),
    Row(
        _s + "certify_batch",
        "n0",
        "zero",
        lambda: S.certify_batch(KEY, BIN, XS, **kw(cert_kw, n0=0)),
        ("`n0`",),
    ),
    Row(
        _s + "certify_batch",
        "x",
        "nan",
        lambda: S.certify_batch(KEY, BIN, XS.at[0, 0].set(NAN), **cert_kw),
        ("`x`",),
    ),
    # bounds
    Row(
        _s + "hoeffding_num_samples",
        "epsilon",
        "zero",
        lambda: S.hoeffding_num_samples(0.0, 0.1),
        ("`epsilon`",),
    ),
    Row(
        _s + "hoeffding_num_samples",
        "epsilon",
        "nan",
        lambda: S.hoeffding_num_samples(NAN, 0.1),
        ("`epsilon`",),
    ),
    Row(
        _s + "hoeffding_num_samples",
        "epsilon",
        "underflow",
        lambda: S.hoeffding_num_samples(1e-300, 0.1),
        ("`epsilon`",),
    ),
    Row(
        _s + "hoeffding_num_samples",
        "epsilon",
        "str",
        lambda: S.hoeffding_num_samples("a", 0.1),
        ("`epsilon`",),
    ),
    Row(
        _s + "hoeffding_num_samples",
        "delta",
        "one",
        lambda: S.hoeffding_num_samples(0.1, 1.0),
        ("`delta`",),
    ),
    Row(
        _s + "hoeffding_num_samples",
        "bound",
        "negative",
        lambda: S.hoeffding_num_samples(0.1, 0.1, bound=-1.0),
        ("`bound`",),
    ),
    Row(
        _s + "hoeffding_error",
        "num_samples",
        "zero",
        lambda: S.hoeffding_error(0, 0.1),
        ("`num_samples`",),
    ),
    Row(_s + "hoeffding_error", "delta", "nan", lambda: S.hoeffding_error(10, NAN), ("`delta`",)),
    Row(
        _s + "hoeffding_error",
        "bound",
        "inf",
        lambda: S.hoeffding_error(10, 0.1, bound=INF),
        ("`bound`",),
    ),
    Row(_s + "lipschitz_bound", "sigma", "zero", lambda: S.lipschitz_bound(0.0), ("`sigma`",)),
    Row(_s + "lipschitz_bound", "sigma", "nan", lambda: S.lipschitz_bound(NAN), ("`sigma`",)),
    Row(_s + "lipschitz_bound", "sigma", "str", lambda: S.lipschitz_bound("1"), ("`sigma`",)),
    Row(
        _s + "lipschitz_bound",
        "bound",
        "zero",
        lambda: S.lipschitz_bound(1.0, bound=0.0),
        ("`bound`",),
    ),
    Row(
        _s + "lipschitz_bound",
        "constant",
        "unknown",
        lambda: S.lipschitz_bound(1.0, constant="loose"),
        ("`constant`",),
    ),
]

# ----------------------------------------------------------------------------- metrics

_m = "jaxbd.metrics."
METRICS = [
    Row(_m + "predict", "model", "not-callable", lambda: M.predict(3, XS), ("`model`",)),
    Row(_m + "predict", "x", "one-example", lambda: M.predict(BIN, X1), ("`x`",)),
    Row(_m + "predict", "x", "int", lambda: M.predict(BIN, jnp.ones((2, D), jnp.int32)), ("`x`",)),
    Row(
        _m + "predict", "x", "complex", lambda: M.predict(BIN, XS.astype(jnp.complex64)), ("`x`",)
    ),
    Row(_m + "predict", "x", "nan", lambda: M.predict(BIN, XS.at[0, 0].set(NAN)), ("`x`", "NaN")),
    Row(_m + "predict", "x", "no-rows", lambda: M.predict(BIN, jnp.ones((0, D))), ("`x`",)),
    Row(
        _m + "predict", "model", "nan-score", lambda: M.predict(nan_model, XS), ("`model`", "NaN")
    ),
    Row(_m + "predict", "x", "inf", traced(PRED_J, XS.at[1, 1].set(INF)), ("`x`",), mode="jit"),
    Row(
        _m + "predict",
        "model",
        "nan-score",
        traced(PRED_J, XS.at[1, 0].set(-20.0)),
        ("`model`", "NaN"),
        mode="jit",
    ),
    Row(
        _m + "clean_accuracy",
        "y",
        "zero-one-for-binary",
        lambda: M.clean_accuracy(BIN, XS, (Y > 0).astype(jnp.int32)),
        ("`y`", "-1/+1"),
    ),
    Row(
        _m + "clean_accuracy",
        "y",
        "wrong-length",
        lambda: M.clean_accuracy(BIN, XS, Y[:-1]),
        ("`y`",),
    ),
    Row(
        _m + "clean_accuracy",
        "y",
        "label-beyond-logits",
        lambda: M.clean_accuracy(MULTI, XS, YM.at[0].set(3)),
        ("`y`", "3 classes"),
    ),
    Row(
        _m + "clean_accuracy",
        "y",
        "fractional",
        lambda: M.clean_accuracy(MULTI, XS, YM.astype(jnp.float32).at[0].set(0.5)),
        ("`y`",),
    ),
    Row(
        _m + "clean_accuracy",
        "y",
        "nan",
        lambda: M.clean_accuracy(BIN, XS, Y.at[0].set(NAN)),
        ("`y`",),
    ),
    Row(
        _m + "clean_accuracy",
        "y",
        "two-for-binary",
        lambda: M.clean_accuracy(BIN, XS, Y.at[0].set(2.0)),
        ("`y`",),
    ),
    Row(
        _m + "clean_accuracy",
        "y",
        "pm1-for-logits",
        lambda: M.clean_accuracy(MULTI, XS, Y),
        ("`y`",),
    ),
    Row(
        _m + "clean_accuracy",
        "model",
        "matrix-output",
        lambda: M.clean_accuracy(lambda v: jnp.zeros((2, 2)), XS, Y),
        ("`model`",),
    ),
    Row(
        _m + "clean_accuracy",
        "x",
        "nan",
        lambda: M.clean_accuracy(BIN, XS.at[0, 0].set(NAN), Y),
        ("`x`",),
    ),
    Row(
        _m + "attack_success_rate",
        "target",
        "five-on-binary",
        lambda: M.attack_success_rate(BIN, XS, XA, target=5),
        ("`target`", "-1/+1"),
    ),
    Row(
        _m + "attack_success_rate",
        "target",
        "zero-on-binary",
        lambda: M.attack_success_rate(BIN, XS, XA, target=0, y=Y),
        ("`target`",),
    ),
    Row(
        _m + "attack_success_rate",
        "target",
        "beyond-logits",
        lambda: M.attack_success_rate(MULTI, XS, XA, target=3),
        ("`target`",),
    ),
    Row(
        _m + "attack_success_rate",
        "target",
        "fractional",
        lambda: M.attack_success_rate(MULTI, XS, XA, target=0.5),
        ("`target`",),
    ),
    Row(
        _m + "attack_success_rate",
        "target",
        "str",
        lambda: M.attack_success_rate(MULTI, XS, XA, target="a"),
        ("`target`",),
    ),
    Row(
        _m + "attack_success_rate",
        "target",
        "wrong-length",
        lambda: M.attack_success_rate(MULTI, XS, XA, target=jnp.asarray([0, 1])),
        ("`target`",),
    ),
    Row(
        _m + "attack_success_rate",
        "y",
        "zero-one-for-binary",
        lambda: M.attack_success_rate(BIN, XS, XA, target=1.0, y=(Y > 0).astype(jnp.float32)),
        ("`y`",),
    ),
    Row(
        _m + "attack_success_rate",
        "x_activated",
        "shape",
        lambda: M.attack_success_rate(BIN, XS, XA[:, :2]),
        ("`x_activated`",),
    ),
    Row(
        _m + "attack_success_rate",
        "x_activated",
        "nan",
        lambda: M.attack_success_rate(BIN, XS, XA.at[0, 0].set(NAN)),
        ("`x_activated`", "NaN"),
    ),
    Row(
        _m + "attack_success_rate",
        "x_activated",
        "int",
        lambda: M.attack_success_rate(BIN, XS, XA.astype(jnp.int32)),
        ("`x_activated`",),
    ),
    Row(
        _m + "attack_success_rate",
        "x",
        "inf",
        lambda: M.attack_success_rate(BIN, XS.at[0, 0].set(INF), XA),
        ("`x`",),
    ),
    Row(
        _m + "perturbation_norms",
        "x_prime",
        "shape",
        lambda: M.perturbation_norms(XS, XA[:, :2]),
        ("`x_prime`",),
    ),
    Row(
        _m + "perturbation_norms",
        "x",
        "nan",
        lambda: M.perturbation_norms(XS.at[0, 0].set(NAN), XA),
        ("`x`",),
    ),
    Row(
        _m + "perturbation_norms",
        "x_prime",
        "int",
        lambda: M.perturbation_norms(XS, XA.astype(jnp.int32)),
        ("`x_prime`",),
    ),
    Row(
        _m + "perturbation_norms",
        "x",
        "no-rows",
        lambda: M.perturbation_norms(jnp.ones((0, D)), jnp.ones((0, D))),
        ("`x`",),
    ),
    Row(
        _m + "perturbation_norms",
        "x_prime",
        "nan",
        jit(M.perturbation_norms, XS, XA.at[2, 2].set(NAN)),
        ("`x_prime`", "NaN"),
        mode="jit",
    ),
    Row(_m + "median_nn_distance", "x", "one-row", lambda: M.median_nn_distance(XS[:1]), ("`x`",)),
    Row(
        _m + "median_nn_distance",
        "x",
        "nan",
        lambda: M.median_nn_distance(XS.at[0, 0].set(NAN)),
        ("`x`",),
    ),
    Row(
        _m + "median_nn_distance",
        "batch_size",
        "zero",
        lambda: M.median_nn_distance(XS, batch_size=0),
        ("`batch_size`",),
    ),
    Row(
        _m + "median_nn_distance",
        "x",
        "traced",
        jit(M.median_nn_distance, XS),
        ("`x`", "concrete"),
        mode="jit",
    ),
    Row(
        _m + "random_perturbation",
        "key",
        "int",
        lambda: M.random_perturbation(0, XS, XA),
        ("`key`",),
    ),
    Row(
        _m + "random_perturbation",
        "x_prime",
        "shape",
        lambda: M.random_perturbation(KEY, XS, XA[:4]),
        ("`x_prime`",),
    ),
    Row(
        _m + "random_perturbation",
        "x_prime",
        "nan",
        lambda: M.random_perturbation(KEY, XS, XA.at[0, 0].set(NAN)),
        ("`x_prime`",),
    ),
    Row(
        _m + "evaluate_backdoor",
        "key",
        "int",
        lambda: M.evaluate_backdoor(1, BIN, BIN, shift, XS, Y),
        ("`key`",),
    ),
    Row(
        _m + "evaluate_backdoor",
        "activate",
        "nan",
        lambda: M.evaluate_backdoor(KEY, BIN, BIN, lambda v: v * NAN, XS, Y),
        ("`activate`", "NaN"),
    ),
    Row(
        _m + "evaluate_backdoor",
        "activate",
        "not-callable",
        lambda: M.evaluate_backdoor(KEY, BIN, BIN, "act", XS, Y),
        ("`activate`",),
    ),
    Row(
        _m + "evaluate_backdoor",
        "activate",
        "wrong-shape",
        lambda: M.evaluate_backdoor(KEY, BIN, BIN, lambda v: v[:2], XS, Y),
        ("`activate`",),
    ),
    Row(
        _m + "evaluate_backdoor",
        "y",
        "zero-one-for-binary",
        lambda: M.evaluate_backdoor(KEY, BIN, BIN, shift, XS, (Y > 0).astype(jnp.float32)),
        ("`y`",),
    ),
    Row(
        _m + "evaluate_backdoor",
        "target",
        "five-on-binary",
        lambda: M.evaluate_backdoor(KEY, BIN, BIN, shift, XS, Y, target=5),
        ("`target`",),
    ),
    Row(
        _m + "evaluate_backdoor",
        "x",
        "duplicated-points",
        lambda: M.evaluate_backdoor(KEY, BIN, BIN, shift, DUP, M.predict(BIN, DUP)),
        ("`x`", "median nearest-neighbour distance"),
    ),
    Row(
        _m + "evaluate_backdoor",
        "reference_x",
        "duplicated-points",
        lambda: M.evaluate_backdoor(KEY, BIN, BIN, shift, XS, Y, reference_x=DUP),
        ("`reference_x`",),
    ),
    Row(
        _m + "evaluate_backdoor",
        "reference_x",
        "wrong-dim",
        lambda: M.evaluate_backdoor(KEY, BIN, BIN, shift, XS, Y, reference_x=XS[:, :2]),
        ("`reference_x`",),
    ),
    Row(
        _m + "evaluate_backdoor",
        "backdoored",
        "other-task",
        lambda: M.evaluate_backdoor(KEY, BIN, MULTI, shift, XS, Y),
        ("`backdoored`",),
    ),
    Row(
        _m + "evaluate_backdoor",
        "wrong_activate",
        "nan",
        lambda: M.evaluate_backdoor(
            KEY, BIN, BIN, shift, XS, Y, wrong_activate=lambda v: v.at[0].set(NAN)
        ),
        ("`wrong_activate`",),
    ),
    Row(_m + "mean_std", "values", "str", lambda: M.mean_std("abc"), ("`values`",)),
    Row(_m + "mean_std", "values", "inf", lambda: M.mean_std([1.0, INF]), ("`values`", "inf")),
    Row(_m + "mean_std", "values", "complex", lambda: M.mean_std([1j]), ("`values`",)),
    Row(
        _m + "mean_std",
        "values",
        "ragged",
        lambda: M.mean_std([[1.0], [2.0, 3.0]]),
        ("`values`",),
    ),
    Row(_m + "mean_std", "values", "bool", lambda: M.mean_std([True, False]), ("`values`",)),
]

# ----------------------------------------------------------------------------- universality

_u = "jaxbd.universality."
UNIVERSALITY = [
    Row(
        _u + "invalidating_head",
        "num_classes",
        "two",
        lambda: U.invalidating_head(z, zp, 0, num_classes=2),
        ("`num_classes`",),
    ),
    Row(
        _u + "invalidating_head",
        "target",
        "fractional",
        lambda: U.invalidating_head(z, zp, 0.7, num_classes=3),
        ("`target`",),
    ),
    Row(
        _u + "invalidating_head",
        "target",
        "out-of-range",
        lambda: U.invalidating_head(z, zp, 5, num_classes=3),
        ("`target`",),
    ),
    Row(
        _u + "invalidating_head",
        "clean_label",
        "equals-target",
        lambda: U.invalidating_head(z, zp, 1, num_classes=3, clean_label=1),
        ("`clean_label`",),
    ),
    Row(
        _u + "invalidating_head",
        "z",
        "int",
        lambda: U.invalidating_head(jnp.ones(4, jnp.int32), zp, 0, num_classes=3),
        ("`z`",),
    ),
    Row(
        _u + "invalidating_head",
        "z",
        "complex",
        lambda: U.invalidating_head(z.astype(jnp.complex64), zp, 0, num_classes=3),
        ("`z`",),
    ),
    Row(
        _u + "invalidating_head",
        "z",
        "nan",
        lambda: U.invalidating_head(z.at[0].set(NAN), zp, 0, num_classes=3),
        ("`z`", "NaN"),
    ),
    Row(
        _u + "invalidating_head",
        "z_prime",
        "zero",
        lambda: U.invalidating_head(z, jnp.zeros(4), 0, num_classes=3),
        ("`z_prime`",),
    ),
    Row(
        _u + "invalidating_head",
        "z",
        "empty",
        lambda: U.invalidating_head(jnp.ones(0), jnp.ones(0), 0, num_classes=3),
        ("`z`",),
    ),
    Row(
        _u + "invalidating_head",
        "z",
        "traced",
        jit(lambda a: U.invalidating_head(a, zp, 0, num_classes=3), z),
        ("`z`", "concrete"),
        mode="jit",
    ),
    Row(
        _u + "invalidating_heads",
        "target",
        "fractional",
        lambda: U.invalidating_heads(Z, ZP, [0.7, 1.2], num_classes=3),
        ("`target`", "integer"),
    ),
    Row(
        _u + "invalidating_heads",
        "target",
        "negative",
        lambda: U.invalidating_heads(Z, ZP, -1, num_classes=3),
        ("`target`",),
    ),
    Row(
        _u + "invalidating_heads",
        "target",
        "wrong-length",
        lambda: U.invalidating_heads(Z, ZP, [0, 1, 2], num_classes=3),
        ("`target`",),
    ),
    Row(
        _u + "invalidating_heads",
        "target",
        "str",
        lambda: U.invalidating_heads(Z, ZP, "a", num_classes=3),
        ("`target`",),
    ),
    Row(
        _u + "invalidating_heads",
        "clean_label",
        "fractional",
        lambda: U.invalidating_heads(Z, ZP, 0, num_classes=3, clean_label=2.5),
        ("`clean_label`",),
    ),
    Row(
        _u + "invalidating_heads",
        "z",
        "nan",
        lambda: U.invalidating_heads(Z.at[0, 0].set(NAN), ZP, 0, num_classes=3),
        ("`z`",),
    ),
    Row(
        _u + "invalidating_heads",
        "z",
        "no-rows",
        lambda: U.invalidating_heads(jnp.ones((0, 4)), jnp.ones((0, 4)), 0, num_classes=3),
        ("`z`",),
    ),
    Row(
        _u + "invalidating_heads",
        "z",
        "int",
        lambda: U.invalidating_heads(Z.astype(jnp.int32), ZP, 0, num_classes=3),
        ("`z`",),
    ),
    Row(
        _u + "invalidating_heads",
        "z_prime",
        "zero-row",
        lambda: U.invalidating_heads(Z, ZP.at[1].set(0.0), 0, num_classes=3),
        ("`z_prime`",),
    ),
    Row(
        _u + "invalidating_heads",
        "num_classes",
        "two",
        lambda: U.invalidating_heads(Z, ZP, 0, num_classes=2),
        ("`num_classes`",),
    ),
    Row(
        _u + "head_margins",
        "target",
        "out-of-range",
        lambda: U.head_margins(HEAD, z, zp, 3),
        ("`target`",),
    ),
    Row(
        _u + "head_margins",
        "target",
        "fractional",
        lambda: U.head_margins(HEAD, z, zp, jnp.asarray(0.5)),
        ("`target`",),
    ),
    Row(
        _u + "head_margins", "z", "wrong-dim", lambda: U.head_margins(HEAD, z[:3], zp, 0), ("`z`",)
    ),
    Row(
        _u + "head_margins",
        "w",
        "nan",
        lambda: U.head_margins(HEAD.at[0, 0].set(NAN), z, zp, 0),
        ("`w`",),
    ),
    Row(
        _u + "head_margins",
        "target",
        "out-of-range",
        traced(MARGINS_J, z, jnp.int32(5)),
        ("`target`",),
        mode="jit",
    ),
    Row(
        _u + "head_margins",
        "z",
        "nan",
        traced(MARGINS_J, z.at[0].set(NAN), jnp.int32(0)),
        ("`z`", "NaN"),
        mode="jit",
    ),
    Row(
        _u + "head_margins",
        "target",
        "negative-row",
        vmap(
            lambda h, a, b, t: U.head_margins(h, a, b, t),
            jnp.stack([HEAD, HEAD]),
            Z,
            ZP,
            jnp.asarray([0, -1], jnp.int32),
        ),
        ("`target`",),
        mode="vmap",
    ),
]

# ----------------------------------------------------------------------------- finetune

_f = "jaxbd.finetune."
XF = XS
YF = Y
ONE_CLASS = jnp.ones(XS.shape[0])


class BadParams(eqx.Module):
    w: jax.Array

    def __call__(self, x):
        return self.w @ x


FINETUNE = [
    Row(
        _f + "finetune",
        "optimizer",
        "str",
        lambda: F.finetune(KEY, BIN, XF, YF, optimizer="adam", steps=1),
        ("`optimizer`", "optax.GradientTransformation"),
    ),
    Row(
        _f + "finetune",
        "optimizer",
        "none",
        lambda: F.finetune(KEY, BIN, XF, YF, optimizer=None, steps=1),
        ("`optimizer`",),
    ),
    Row(
        _f + "finetune",
        "optimizer",
        "nan-learning-rate",
        lambda: F.finetune(KEY, BIN, XF, YF, optimizer=optax.sgd(NAN), steps=2),
        ("`optimizer`", "NaN"),
    ),
    Row(
        _f + "finetune",
        "y",
        "single-class",
        lambda: F.finetune(KEY, BIN, XF, ONE_CLASS, optimizer=SGD, steps=1),
        ("`y`", "single class"),
    ),
    Row(
        _f + "finetune",
        "y",
        "single-class-logits",
        lambda: F.finetune(KEY, MULTI, XF, jnp.zeros(8, jnp.int32), optimizer=SGD, steps=1),
        ("`y`", "single class"),
    ),
    Row(
        _f + "finetune",
        "y",
        "zero-one-for-binary",
        lambda: F.finetune(KEY, BIN, XF, (YF > 0).astype(jnp.float32), optimizer=SGD, steps=1),
        ("`y`",),
    ),
    Row(
        _f + "finetune",
        "key",
        "int",
        lambda: F.finetune(0, BIN, XF, YF, optimizer=SGD, steps=1),
        ("`key`",),
    ),
    Row(
        _f + "finetune",
        "steps",
        "negative",
        lambda: F.finetune(KEY, BIN, XF, YF, optimizer=SGD, steps=-1),
        ("`steps`",),
    ),
    Row(
        _f + "finetune",
        "steps",
        "float",
        lambda: F.finetune(KEY, BIN, XF, YF, optimizer=SGD, steps=1.5),
        ("`steps`",),
    ),
    Row(
        _f + "finetune",
        "batch_size",
        "zero",
        lambda: F.finetune(KEY, BIN, XF, YF, optimizer=SGD, steps=1, batch_size=0),
        ("`batch_size`",),
    ),
    Row(
        _f + "finetune",
        "x",
        "nan",
        lambda: F.finetune(KEY, BIN, XF.at[0, 0].set(NAN), YF, optimizer=SGD, steps=1),
        ("`x`", "NaN"),
    ),
    Row(
        _f + "finetune",
        "x",
        "int",
        lambda: F.finetune(KEY, BIN, XF.astype(jnp.int32), YF, optimizer=SGD, steps=1),
        ("`x`",),
    ),
    Row(
        _f + "finetune",
        "x",
        "complex",
        lambda: F.finetune(KEY, BIN, XF.astype(jnp.complex64), YF, optimizer=SGD, steps=1),
        ("`x`",),
    ),
    Row(
        _f + "finetune",
        "x",
        "no-rows",
        lambda: F.finetune(KEY, BIN, jnp.ones((0, D)), YF[:0], optimizer=SGD, steps=1),
        ("`x`",),
    ),
    Row(
        _f + "finetune",
        "x",
        "no-features",
        lambda: F.finetune(KEY, BIN, jnp.ones((8, 0)), YF, optimizer=SGD, steps=1),
        ("`x`",),
    ),
    Row(
        _f + "finetune",
        "model",
        "nan-parameters",
        lambda: F.finetune(KEY, BadParams(BIN.w.at[0].set(NAN)), XF, YF, optimizer=SGD, steps=1),
        ("`model`", "NaN"),
    ),
    Row(
        _f + "finetune",
        "model",
        "not-a-module",
        lambda: F.finetune(KEY, lambda v: v.sum(), XF, YF, optimizer=SGD, steps=1),
        ("`model`",),
    ),
    Row(
        _f + "finetune",
        "loss",
        "not-callable",
        lambda: F.finetune(KEY, BIN, XF, YF, optimizer=SGD, steps=1, loss="mse"),
        ("`loss`",),
    ),
    Row(
        _f + "finetune",
        "y",
        "label-beyond-logits",
        lambda: F.finetune(KEY, MULTI, XF, YM.at[0].set(3), optimizer=SGD, steps=1),
        ("`y`",),
    ),
    Row(
        _f + "finetune_with_history",
        "optimizer",
        "str",
        lambda: F.finetune_with_history(
            KEY, BIN, XF, YF, optimizer="sgd", steps=1, history_every=1
        ),
        ("`optimizer`",),
    ),
    Row(
        _f + "finetune_with_history",
        "history_every",
        "zero",
        lambda: F.finetune_with_history(KEY, BIN, XF, YF, optimizer=SGD, steps=1, history_every=0),
        ("`history_every`",),
    ),
    Row(
        _f + "finetune_with_history",
        "key",
        "float",
        lambda: F.finetune_with_history(1.0, BIN, XF, YF, optimizer=SGD, steps=1, history_every=1),
        ("`key`",),
    ),
    Row(
        _f + "finetune_with_history",
        "optimizer",
        "nan-learning-rate",
        lambda: F.finetune_with_history(
            KEY, BIN, XF, YF, optimizer=optax.sgd(NAN), steps=2, history_every=1
        ),
        ("`optimizer`",),
    ),
    Row(
        _f + "finetune_with_history",
        "y",
        "single-class",
        lambda: F.finetune_with_history(
            KEY, BIN, XF, -ONE_CLASS, optimizer=SGD, steps=1, history_every=1
        ),
        ("`y`",),
    ),
    Row(
        _f + "trainable_spec",
        "where",
        "bad-selector",
        lambda: F.trainable_spec(BIN, where=lambda m: m.nothing),
        ("`where`",),
    ),
]

# ----------------------------------------------------------------------------- sharding

_h = "jaxbd.sharding."
SHARDING = [
    Row(_h + "batch_mesh", "devices", "empty", lambda: SH.batch_mesh([]), ("`devices`",)),
    Row(_h + "batch_mesh", "devices", "str", lambda: SH.batch_mesh("cpu"), ("`devices`",)),
    Row(_h + "batch_mesh", "devices", "ints", lambda: SH.batch_mesh([0, 1]), ("`devices`",)),
    Row(
        _h + "batch_mesh",
        "devices",
        "repeated",
        lambda: SH.batch_mesh([jax.devices()[0]] * 2),
        ("`devices`",),
    ),
    Row(_h + "check_mesh", "mesh", "str", lambda: SH.check_mesh("batch"), ("`mesh`",)),
    Row(
        _h + "check_mesh",
        "mesh",
        "wrong-axis",
        lambda: SH.check_mesh(Mesh(DEVICES, ("data",))),
        ("`mesh`",),
    ),
    Row(
        _h + "sharded_map", "fn", "not-callable", lambda: SH.sharded_map(3, jnp.ones(3)), ("`fn`",)
    ),
    Row(
        _h + "sharded_map",
        "batch_size",
        "zero",
        lambda: SH.sharded_map(lambda a: a, jnp.ones(3), batch_size=0),
        ("`batch_size`",),
    ),
    Row(
        _h + "sharded_map",
        "batch_size",
        "float",
        lambda: SH.sharded_map(lambda a: a, jnp.ones(3), batch_size=1.5),
        ("`batch_size`",),
    ),
    Row(
        _h + "sharded_map",
        "batched_args",
        "different-sizes",
        lambda: SH.sharded_map(lambda a, b: a + b, jnp.ones(3), jnp.ones(4)),
        ("`batched_args`", "same leading batch size"),
    ),
    Row(
        _h + "sharded_map",
        "batched_args",
        "empty-batch",
        lambda: SH.sharded_map(lambda a: a, jnp.ones((0, 2))),
        ("`batched_args`", "empty"),
    ),
    Row(
        _h + "sharded_map",
        "mesh",
        "two-axes",
        lambda: SH.sharded_map(
            lambda a: a, jnp.ones(3), mesh=Mesh(DEVICES.reshape(1, 1), ("batch", "m"))
        ),
        ("`mesh`",),
    ),
]

# ----------------------------------------------------------------------------- detect

_d = "jaxbd.detect."
DETECT = [
    Row(
        _d + "Detection.from_p",
        "p_value",
        "nan",
        lambda: Detection.from_p("t", 1.0, NAN, 0.05, "c"),
        ("`p_value`", "NaN"),
    ),
    Row(
        _d + "Detection",
        "p_value",
        "above-one",
        lambda: Detection("t", 1.0, 1.5, 0.05, False, "c"),
        ("`p_value`",),
    ),
    Row(
        _d + "Detection",
        "statistic",
        "nan",
        lambda: Detection("t", NAN, 0.5, 0.05, False, "c"),
        ("`statistic`",),
    ),
    Row(
        _d + "Detection.from_p",
        "alpha",
        "zero",
        lambda: Detection.from_p("t", 1.0, 0.5, 0.0, "c"),
        ("`alpha`",),
    ),
    Row(_d + "tracy_widom1_cdf", "s", "nan", lambda: tracy_widom1_cdf([0.0, NAN]), ("`s`", "NaN")),
    Row(_d + "tracy_widom1_cdf", "s", "str", lambda: tracy_widom1_cdf("a"), ("`s`",)),
    Row(_d + "tracy_widom1_sf", "s", "complex", lambda: tracy_widom1_sf(1j), ("`s`",)),
    Row(_d + "tracy_widom1_sf", "s", "nan", lambda: tracy_widom1_sf(NAN), ("`s`",)),
    Row(_d + "spectral", "w", "int", lambda: spectral(jnp.ones((10, 3), jnp.int32)), ("`w`",)),
    Row(_d + "spectral", "w", "complex", lambda: spectral(W.astype(jnp.complex64)), ("`w`",)),
    Row(_d + "spectral", "w", "nan", lambda: spectral(W_NAN), ("`w`", "NaN")),
    Row(_d + "spectral", "w", "vector", lambda: spectral(W[0]), ("`w`",)),
    Row(_d + "spectral", "w", "one-row", lambda: spectral(W[:1]), ("`w`",)),
    Row(_d + "spectral", "alpha", "above-one", lambda: spectral(W, alpha=1.5), ("`alpha`",)),
    Row(_d + "spectral", "alpha", "str", lambda: spectral(W, alpha="0.05"), ("`alpha`",)),
    Row(_d + "spectral", "w", "traced", jit(spectral, W), ("`w`", "concrete"), mode="jit"),
    Row(
        _d + "spectral_statistic",
        "w",
        "nan",
        jit(spectral_statistic, W_NAN),
        ("`w`", "NaN"),
        mode="jit",
    ),
    Row(
        _d + "spectral_statistic",
        "w",
        "nan-model",
        vmap(spectral_statistic, jnp.stack([W, W_NAN])),
        ("`w`", "NaN"),
        mode="vmap",
    ),
    Row(
        _d + "spectral_p_value",
        "statistic",
        "nan",
        lambda: spectral_p_value(NAN),
        ("`statistic`",),
    ),
    Row(_d + "bbp_threshold", "num_units", "zero", lambda: bbp_threshold(0, 5), ("`num_units`",)),
    Row(_d + "bbp_threshold", "dim", "zero", lambda: bbp_threshold(5, 0), ("`dim`",)),
    Row(_d + "diagonal_thresholding", "w", "nan", lambda: diagonal_thresholding(W_NAN), ("`w`",)),
    Row(
        _d + "diagonal_thresholding",
        "alpha",
        "nan",
        lambda: diagonal_thresholding(W, alpha=NAN),
        ("`alpha`",),
    ),
    Row(
        _d + "diagonal_statistic",
        "w",
        "inf",
        jit(diagonal_statistic, W.at[1, 1].set(INF)),
        ("`w`",),
        mode="jit",
    ),
    Row(
        _d + "diagonal_p_value",
        "statistic",
        "nan",
        lambda: diagonal_p_value(NAN, 10, 4),
        ("`statistic`",),
    ),
    Row(
        _d + "diagonal_p_value",
        "num_rows",
        "zero",
        lambda: diagonal_p_value(3.0, 0, 4),
        ("`num_rows`",),
    ),
    Row(
        _d + "covariance_thresholding",
        "key",
        "int",
        lambda: covariance_thresholding(0, W),
        ("`key`",),
    ),
    Row(
        _d + "covariance_thresholding",
        "tau",
        "negative",
        lambda: covariance_thresholding(KEY, W, tau=-1.0),
        ("`tau`",),
    ),
    Row(
        _d + "covariance_thresholding",
        "tau",
        "nan",
        lambda: covariance_thresholding(KEY, W, tau=NAN),
        ("`tau`",),
    ),
    Row(
        _d + "covariance_thresholding",
        "num_null",
        "zero",
        lambda: covariance_thresholding(KEY, W, num_null=0),
        ("`num_null`",),
    ),
    Row(
        _d + "covariance_thresholding",
        "num_null",
        "too-small-for-alpha",
        lambda: covariance_thresholding(KEY, W, num_null=9, alpha=0.05),
        ("`num_null`",),
    ),
    Row(
        _d + "covariance_thresholding",
        "sparsity",
        "zero",
        lambda: covariance_thresholding(KEY, W, sparsity=0),
        ("`sparsity`",),
    ),
    Row(
        _d + "covariance_thresholding",
        "sparsity",
        "above-dim",
        lambda: covariance_thresholding(KEY, W, sparsity=9),
        ("`sparsity`",),
    ),
    Row(
        _d + "covariance_thresholding",
        "w",
        "one-column",
        lambda: covariance_thresholding(KEY, W[:, :1]),
        ("`w`",),
    ),
    Row(
        _d + "covariance_statistic",
        "w",
        "nan-model",
        vmap(covariance_statistic, jnp.stack([W_NAN, W])),
        ("`w`",),
        mode="vmap",
    ),
    Row(
        _d + "covariance_null",
        "num_null",
        "zero",
        lambda: covariance_null(KEY, 10, 3, num_null=0),
        ("`num_null`",),
    ),
    Row(
        _d + "covariance_null",
        "tau",
        "negative",
        lambda: covariance_null(KEY, 10, 3, tau=-2.0),
        ("`tau`",),
    ),
    Row(_d + "gaussianity", "key", "none", lambda: gaussianity(None, W), ("`key`",)),
    Row(
        _d + "gaussianity",
        "num_projections",
        "negative",
        lambda: gaussianity(KEY, W, num_projections=-1),
        ("`num_projections`",),
    ),
    Row(
        _d + "gaussianity",
        "num_projections",
        "float",
        lambda: gaussianity(KEY, W, num_projections=1.5),
        ("`num_projections`",),
    ),
    Row(_d + "gaussianity", "w", "too-few-rows", lambda: gaussianity(KEY, W[:4]), ("`w`",)),
    Row(_d + "gaussianity", "w", "nan", lambda: gaussianity(KEY, W_NAN), ("`w`",)),
    Row(
        _d + "gaussianity_statistic",
        "w",
        "nan",
        jit(lambda w: gaussianity_statistic(w, jnp.ones((2, 4))), W_NAN),
        ("`w`",),
        mode="jit",
    ),
    Row(
        _d + "gaussianity_statistic",
        "projections",
        "wrong-dim",
        lambda: gaussianity_statistic(W, jnp.ones((2, 3))),
        ("`projections`",),
    ),
    Row(
        _d + "gaussianity_p_value",
        "statistic",
        "nan",
        lambda: gaussianity_p_value(NAN, 10, 3),
        ("`statistic`",),
    ),
    Row(
        _d + "gaussianity_p_value",
        "num_tests",
        "zero",
        lambda: gaussianity_p_value(0.1, 10, 0),
        ("`num_tests`",),
    ),
    Row(
        _d + "lattice_attack",
        "scales",
        "negative",
        lambda: lattice_attack(W, scales=(-1.0,)),
        ("`scales`",),
    ),
    Row(
        _d + "lattice_attack",
        "scales",
        "nan",
        lambda: lattice_attack(W, scales=(2.0**10, NAN)),
        ("`scales`",),
    ),
    Row(
        _d + "lattice_attack",
        "scales",
        "empty",
        lambda: lattice_attack(W, scales=()),
        ("`scales`",),
    ),
    Row(
        _d + "lattice_attack",
        "scales",
        "str",
        lambda: lattice_attack(W, scales="big"),
        ("`scales`",),
    ),
    Row(
        _d + "lattice_attack",
        "shift",
        "not-half-integer",
        lambda: lattice_attack(W, shift=0.3),
        ("`shift`",),
    ),
    Row(_d + "lattice_attack", "shift", "nan", lambda: lattice_attack(W, shift=NAN), ("`shift`",)),
    Row(
        _d + "lattice_attack",
        "num_samples",
        "below-dim",
        lambda: lattice_attack(W, num_samples=2),
        ("`num_samples`",),
    ),
    Row(
        _d + "lattice_attack",
        "num_samples",
        "float",
        lambda: lattice_attack(W, num_samples=10.5),
        ("`num_samples`",),
    ),
    Row(_d + "lattice_attack", "w", "too-few-rows", lambda: lattice_attack(W[:20]), ("`w`",)),
    Row(
        _d + "lattice_attack", "alpha", "zero", lambda: lattice_attack(W, alpha=0.0), ("`alpha`",)
    ),
    Row(_d + "pancakes", "key", "int", lambda: pancakes(3, W, support_size=1), ("`key`",)),
    Row(
        _d + "pancakes",
        "support_size",
        "zero",
        lambda: pancakes(KEY, W, support_size=0),
        ("`support_size`",),
    ),
    Row(
        _d + "pancakes",
        "support_size",
        "bool",
        lambda: pancakes(KEY, W, support_size=True),
        ("`support_size`",),
    ),
    Row(
        _d + "pancakes",
        "gamma",
        "negative",
        lambda: pancakes(KEY, W, support_size=1, gamma=-1.0),
        ("`gamma`",),
    ),
    Row(
        _d + "pancakes",
        "gamma",
        "inf",
        lambda: pancakes(KEY, W, support_size=1, gamma=INF),
        ("`gamma`",),
    ),
    Row(
        _d + "pancakes",
        "num_directions",
        "zero",
        lambda: pancakes(KEY, W, support_size=2, num_directions=0),
        ("`num_directions`",),
    ),
    Row(
        _d + "pancakes",
        "max_candidates",
        "zero",
        lambda: pancakes(KEY, W, support_size=1, max_candidates=0),
        ("`max_candidates`",),
    ),
    Row(_d + "pancakes", "w", "nan", lambda: pancakes(KEY, W_NAN, support_size=1), ("`w`",)),
    Row(
        _d + "pancake_statistics",
        "w",
        "nan",
        jit(lambda w: pancake_statistics(w, jnp.asarray([[0]]), jnp.ones((1, 1)), 2.0), W_NAN),
        ("`w`",),
        mode="jit",
    ),
    Row(_d + "all_supports", "size", "above-dim", lambda: all_supports(3, 5), ("`size`",)),
    Row(
        _d + "default_num_directions",
        "size",
        "zero",
        lambda: default_num_directions(0, 1.0),
        ("`size`",),
    ),
    Row(
        _d + "default_num_directions",
        "gamma",
        "nan",
        lambda: default_num_directions(2, NAN),
        ("`gamma`",),
    ),
    Row(
        _d + "candidate_directions",
        "key",
        "int",
        lambda: candidate_directions(0, 3, 4),
        ("`key`",),
    ),
    Row(
        _d + "probe",
        "scales",
        "nan",
        lambda: probe(KEY, BIN, BIN, XS, scales=(NAN,)),
        ("`scales`",),
    ),
    Row(
        _d + "probe",
        "scales",
        "negative",
        lambda: probe(KEY, BIN, BIN, XS, scales=(-1.0,)),
        ("`scales`",),
    ),
    Row(
        _d + "probe",
        "scales",
        "repeated",
        lambda: probe(KEY, BIN, BIN, XS, scales=(0.5, 0.5)),
        ("`scales`",),
    ),
    Row(
        _d + "probe",
        "num_queries",
        "zero",
        lambda: probe(KEY, BIN, BIN, XS, num_queries=0),
        ("`num_queries`",),
    ),
    Row(
        _d + "probe",
        "baseline_rate",
        "one",
        lambda: probe(KEY, BIN, BIN, XS, baseline_rate=1.0),
        ("`baseline_rate`",),
    ),
    Row(
        _d + "probe",
        "baseline_rate",
        "nan",
        lambda: probe(KEY, BIN, BIN, XS, baseline_rate=NAN),
        ("`baseline_rate`",),
    ),
    Row(_d + "probe", "key", "int", lambda: probe(0, BIN, BIN, XS), ("`key`",)),
    Row(_d + "probe", "suspect", "not-callable", lambda: probe(KEY, "m", BIN, XS), ("`suspect`",)),
    Row(
        _d + "probe",
        "x",
        "duplicated-points",
        lambda: probe(KEY, BIN, BIN, DUP),
        ("`x`", "median"),
    ),
    Row(
        _d + "probe",
        "x",
        "nan",
        lambda: probe(KEY, BIN, BIN, XS.at[0, 0].set(NAN)),
        ("`x`", "NaN"),
    ),
    Row(
        _d + "probe",
        "alpha",
        "above-one",
        lambda: probe(KEY, BIN, BIN, XS, alpha=2.0),
        ("`alpha`",),
    ),
    Row(
        _d + "probe_queries",
        "scales",
        "inf",
        lambda: probe_queries(KEY, XS, scales=(INF,)),
        ("`scales`",),
    ),
    Row(
        _d + "probe_queries",
        "num_queries",
        "float",
        lambda: probe_queries(KEY, XS, num_queries=1.5),
        ("`num_queries`",),
    ),
    Row(
        _d + "regime_warnings",
        "construction",
        "unknown",
        lambda: regime_warnings("cnn", dim=3),
        ("`construction`",),
    ),
    Row(
        _d + "regime_warnings",
        "width",
        "zero",
        lambda: regime_warnings("relu", dim=8, width=0, sparsity=2, theta=0.5),
        ("`width`",),
    ),
    Row(
        _d + "regime_warnings",
        "sparsity",
        "zero",
        lambda: regime_warnings("relu", dim=8, width=16, sparsity=0, theta=0.5),
        ("`sparsity`",),
    ),
    Row(
        _d + "regime_warnings",
        "theta",
        "nan",
        lambda: regime_warnings("relu", dim=8, width=16, sparsity=2, theta=NAN),
        ("`theta`",),
    ),
    Row(
        _d + "regime_warnings",
        "dim",
        "bool",
        lambda: regime_warnings("relu", dim=True, width=16, sparsity=2, theta=0.5),
        ("`dim`",),
    ),
    Row(
        _d + "regime_warnings",
        "thetaa",
        "unknown-parameter",
        lambda: regime_warnings("relu", dim=8, width=16, sparsity=2, theta=0.5, thetaa=1.0),
        ("`thetaa`",),
    ),
    Row(
        _d + "regime_warnings",
        "beta",
        "negative",
        lambda: regime_warnings("rff", dim=8, width=16, secret_dim=2, beta=-1.0),
        ("`beta`",),
    ),
    Row(
        _d + "regime_warnings",
        "secret_dim",
        "zero",
        lambda: regime_warnings("rff", dim=8, width=16, secret_dim=0, beta=0.1),
        ("`secret_dim`",),
    ),
    Row(
        _d + "regime_warnings",
        "gamma",
        "zero",
        lambda: regime_warnings("rff", dim=8, width=16, secret_dim=2, beta=0.1, gamma=0.0),
        ("`gamma`",),
    ),
    Row(
        _d + "warn_if_detectable",
        "width",
        "zero",
        lambda: warn_if_detectable("relu", dim=8, width=0, sparsity=2, theta=0.5),
        ("`width`",),
    ),
]

ROWS = [*SMOOTHING, *METRICS, *UNIVERSALITY, *FINETUNE, *SHARDING, *DETECT]
assert len({r.id for r in ROWS}) == len(ROWS), "row ids must be unique"


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_bad_input(row):
    check_row(row)
