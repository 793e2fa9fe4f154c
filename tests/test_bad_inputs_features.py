"""Bad-input table for the feature models and their data: `jaxbd.rff`, `jaxbd.relu`,
`jaxbd.clwe` and `jaxbd.datasets` (issue 13 items 4 and 6).

Every row is one (public function, argument, bad value) and the words its error must contain
(always the argument's name as the library prints it, in backticks). Rows with `mode="jit"` or
`mode="vmap"` pass the bad value as a traced argument: the check must hold inside the trace
(`eqx.error_if`), not only on the host. Fixtures are tiny and built once, by the constructors
(no training at import time).
"""

import atexit
import gzip
import itertools
import os
import shutil
import struct
import tempfile

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from badinput import Row, check_row, ids

from jaxbd import clwe, datasets, relu, rff


# ----------------------------------------------------------------------------- fixtures

# Built host-side with numpy (an eager jax op compiles on first use: import time counts).
_rng = np.random.default_rng(0)
K = jr.key(0)
N, D, W = 16, 4, 8
X = jnp.asarray(_rng.standard_normal((N, D)), jnp.float32)
Y = jnp.asarray(np.where(np.arange(N) % 2 == 0, 1.0, -1.0), jnp.float32)
XM = jnp.asarray(_rng.standard_normal((18, D)), jnp.float32)
YM = jnp.asarray(np.arange(18) % 3, jnp.int32)
X0 = X[0]
NAN = float("nan")
INF = float("inf")

MODEL = rff.RFFClassifier(
    jnp.asarray(_rng.standard_normal((W, D)), jnp.float32),
    jnp.asarray(_rng.random(W), jnp.float32),
    jnp.asarray(_rng.standard_normal(W), jnp.float32),
    1.0,
)
OMEGA4 = jnp.asarray([2.0, 0.0, -2.0, 0.0], jnp.float32)  # support 2, norm 2 sqrt(2)
RKEY = rff.RFFBackdoorKey(OMEGA4, 1.0, 0.05)
RELU = relu.RandomReLU(
    g=jnp.asarray(_rng.standard_normal((W, D)), jnp.float32),
    w=jnp.full((W,), 1.0 / W),
    tau=jnp.asarray(0.5),
    scale=jnp.asarray(1.0),
)
S = jnp.asarray([0.0, 1.0, 0.0, -1.0], jnp.float32) / np.float32(np.sqrt(2.0))  # unit, 2-sparse
LKEY = relu.ReLUBackdoorKey(secret=S, theta=1.0)
OMEGA = jnp.asarray([2.0, 0.0, 2.0, 0.0, -2.0, 0.0], jnp.float32)  # support 3, norm 2 sqrt(3)
F = jnp.linspace(-1.0, 1.0, N)

# Traced calls shared by several rows, so each is compiled once per test process (the error is
# raised when the compiled program runs, so every row still runs it with its own bad value).
_pancakes_jit = jax.jit(lambda o, b: clwe.pancakes(K, o, 4, beta=b))
_clwe_jit = jax.jit(lambda o, b: clwe.clwe(K, o, 4, beta=b))
_spiked_jit = jax.jit(lambda s, t: relu.spiked_gaussian(K, s, 4, theta=t))
_fit_threshold_jit = jax.jit(relu.fit_threshold)

TRAIN = dict(width=W, bandwidth=1.0, steps=1)
BACKDOOR = dict(width=W, bandwidth=1.0, steps=1, secret_dim=2, beta=0.05)
RTRAIN = dict(width=W)
RBACKDOOR = dict(width=W, sparsity=2, theta=1.0)


def nan_at(a, value=NAN):
    a = jnp.asarray(a)
    return a.at[(0,) * a.ndim].set(value)


def _raw_digits():
    x = np.arange(40 * 3, dtype=np.float64).reshape(40, 3) % 7
    y = np.arange(40) % 2
    return x, y


XR, YR = _raw_digits()


def _idx_file(path, arr, code):
    arr = np.asarray(arr)
    header = struct.pack(">HBB", 0, code, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    with open(path, "wb") as f:
        f.write(header + arr.astype(arr.dtype.newbyteorder(">")).tobytes())
    return str(path)


_DIR = tempfile.mkdtemp(prefix="jaxbd-bad-inputs-")
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)
_COUNT = itertools.count()


def _tmp(name):
    """A fresh path in this module's temporary folder (removed at exit)."""
    return os.path.join(_DIR, f"{next(_COUNT)}-{name}")


def _write(path, data: bytes):
    with open(path, "wb") as f:
        f.write(data)
    return path


def _npz(**arrays):
    path = _tmp("data.npz")
    np.savez(path, **arrays)
    return path


def _huge_idx():
    # Header declares (2^31, 2^31, 2^31) float64 elements: the count overflows int64.
    path = _tmp("huge.idx")
    with open(path, "wb") as f:
        f.write(struct.pack(">HBB", 0, 0x0E, 3) + struct.pack(">III", 2**31, 2**31, 2**31))
        f.write(b"\0" * 64)
    return path


def _gz_idx(arr, code):
    raw = _tmp("x.idx")
    _idx_file(raw, arr, code)
    with open(raw, "rb") as f:
        data = f.read()
    path = raw + ".gz"
    with gzip.open(path, "wb") as f:
        f.write(data[:-3])  # truncated payload
    return path


def _idx_pair(n_img=10, n_lab=10):
    img = _idx_file(
        _tmp("img.idx"), np.arange(n_img * 4, dtype=np.uint8).reshape(n_img, 2, 2), 0x08
    )
    lab = _idx_file(_tmp("lab.idx"), np.arange(n_lab, dtype=np.uint8) % 2, 0x08)
    return img, lab


# ----------------------------------------------------------------------------- row builders


def matrix_rows(target, argument, call, dim=D, n=N):
    """The standard bad-matrix rows for a function of an `(n, dim)` floating matrix."""
    good = jnp.ones((n, dim))
    name = f"`{argument}`"
    return [
        Row(target, argument, "nan", lambda: call(nan_at(good)), (name, "NaN")),
        Row(target, argument, "inf", lambda: call(nan_at(good, INF)), (name, "inf")),
        Row(target, argument, "int32", lambda: call(good.astype(jnp.int32)), (name, "int32")),
        Row(target, argument, "bool", lambda: call(good > 0), (name, "bool")),
        Row(
            target,
            argument,
            "complex",
            lambda: call(good.astype(jnp.complex64)),
            (name, "complex"),
        ),
        Row(target, argument, "no-features", lambda: call(jnp.ones((n, 0))), (name,)),
        Row(target, argument, "no-rows", lambda: call(jnp.ones((0, dim))), (name,)),
        Row(target, argument, "vector", lambda: call(jnp.ones((dim,))), (name,)),
    ]


def example_rows(target, call, dim=D, traced=True):
    """The standard bad-example rows for a function of one example `x` `(dim,)`."""
    good = jnp.ones((dim,))
    rows = [
        Row(target, "x", "nan", lambda: call(nan_at(good)), ("`x`", "NaN")),
        Row(target, "x", "inf", lambda: call(nan_at(good, -INF)), ("`x`", "inf")),
        Row(target, "x", "int32", lambda: call(good.astype(jnp.int32)), ("`x`", "int32")),
        Row(target, "x", "complex", lambda: call(good.astype(jnp.complex64)), ("`x`", "complex")),
        Row(target, "x", "wrong-dim", lambda: call(jnp.ones((dim + 1,))), ("`x`", "shape")),
        Row(target, "x", "batch", lambda: call(jnp.ones((3, dim))), ("`x`", "vmap")),
    ]
    if traced:
        bad = jnp.stack([good, nan_at(good)])
        rows += [
            Row(
                target, "x", "nan", lambda: jax.jit(call)(nan_at(good)), ("`x`", "NaN"), mode="jit"
            ),
            Row(target, "x", "nan", lambda: jax.vmap(call)(bad), ("`x`", "NaN"), mode="vmap"),
        ]
    return rows


def key_rows(target, call):
    return [
        Row(target, "key", "int", lambda: call(0), ("`key`", "PRNG key")),
        Row(target, "key", "float-array", lambda: call(jnp.zeros(2)), ("`key`", "PRNG key")),
        Row(target, "key", "batch", lambda: call(jr.split(K, 2)), ("`key`",)),
    ]


def label_rows(target, call, *, multiclass=True):
    """Bad training labels (for `call(y)` with `X`'s 16 rows)."""
    rows = [
        # all +1: `check_labels` reads {1} as a 0/1 label set ("looks binary"); it names `y`
        Row(target, "y", "single-class", lambda: call(jnp.ones(N)), ("`y`",)),
        Row(target, "y", "single-class-neg", lambda: call(-jnp.ones(N)), ("`y`", "single class")),
        Row(target, "y", "zero-one", lambda: call((Y + 1) / 2), ("`y`", "-1/+1")),
        Row(target, "y", "nan", lambda: call(nan_at(Y)), ("`y`", "NaN")),
        Row(target, "y", "short", lambda: call(Y[:-1]), ("`y`",)),
        Row(target, "y", "bool", lambda: call(Y > 0), ("`y`",)),
        Row(target, "y", "fraction", lambda: call(Y * 0.5), ("`y`",)),
    ]
    if multiclass:
        gap = jnp.asarray(np.arange(N) % 3 * np.array([1, 1, 5])[np.arange(N) % 3]).astype(
            jnp.int32
        )
        rows += [
            Row(target, "y", "classes-0-1-5", lambda: call(gap), ("`y`", "never occur")),
            # 10**5, not 10**7: `check_labels` builds the set 0..c-1 (4 s at c = 10**7)
            Row(
                target,
                "y",
                "label-huge",
                lambda: call(YM[:N].at[0].set(10**5)),
                ("`y`", "never occur"),
            ),
        ]
    return rows


def _traced_scalar(call, value):
    return lambda: jax.jit(call)(jnp.asarray(value))


def _vmapped_scalar(call, values):
    return lambda: jax.vmap(call)(jnp.asarray(values))


# ----------------------------------------------------------------------------- rff rows

ROWS: list[Row] = []

T = "jaxbd.rff.train"
ROWS += key_rows(T, lambda k: rff.train(k, X, Y, **TRAIN))
ROWS += matrix_rows(
    T,
    "x",
    lambda x: rff.train(
        K, x, jnp.where(jnp.arange(x.shape[0]) % 2 == 0, 1.0, -1.0) if x.ndim == 2 else Y, **TRAIN
    ),
)
ROWS += label_rows(T, lambda y: rff.train(K, X, y, **TRAIN))
ROWS += [
    Row(T, "width", "0", lambda: rff.train(K, X, Y, **{**TRAIN, "width": 0}), ("`width`",)),
    Row(T, "width", "-3", lambda: rff.train(K, X, Y, **{**TRAIN, "width": -3}), ("`width`",)),
    Row(T, "width", "2.5", lambda: rff.train(K, X, Y, **{**TRAIN, "width": 2.5}), ("`width`",)),
    Row(
        T,
        "bandwidth",
        "0",
        lambda: rff.train(K, X, Y, **{**TRAIN, "bandwidth": 0.0}),
        ("`bandwidth`",),
    ),
    Row(
        T,
        "bandwidth",
        "-1",
        lambda: rff.train(K, X, Y, **{**TRAIN, "bandwidth": -1.0}),
        ("`bandwidth`",),
    ),
    Row(
        T,
        "bandwidth",
        "nan",
        lambda: rff.train(K, X, Y, **{**TRAIN, "bandwidth": NAN}),
        ("`bandwidth`",),
    ),
    Row(
        T,
        "bandwidth",
        "inf",
        lambda: rff.train(K, X, Y, **{**TRAIN, "bandwidth": INF}),
        ("`bandwidth`",),
    ),
    Row(
        T,
        "bandwidth",
        "bool",
        lambda: rff.train(K, X, Y, **{**TRAIN, "bandwidth": True}),
        ("`bandwidth`",),
    ),
    Row(
        T,
        "bandwidth",
        "traced",
        lambda: jax.jit(lambda b: rff.train(K, X, Y, **{**TRAIN, "bandwidth": b}).head)(1.0),
        ("`bandwidth`", "concrete"),
        mode="jit",
    ),
    Row(T, "loss", "square", lambda: rff.train(K, X, Y, **TRAIN, loss="square"), ("`loss`",)),
    Row(T, "steps", "-1", lambda: rff.train(K, X, Y, **{**TRAIN, "steps": -1}), ("`steps`",)),
    Row(
        T,
        "learning_rate",
        "0",
        lambda: rff.train(K, X, Y, **TRAIN, learning_rate=0.0),
        ("`learning_rate`",),
    ),
    Row(
        T,
        "learning_rate",
        "nan",
        lambda: rff.train(K, X, Y, **TRAIN, learning_rate=NAN),
        ("`learning_rate`",),
    ),
    Row(
        T,
        "weight_decay",
        "-1",
        lambda: rff.train(K, X, Y, **TRAIN, weight_decay=-1.0),
        ("`weight_decay`",),
    ),
    Row(
        T,
        "x",
        "nan",
        lambda: jax.jit(lambda x: rff.train(K, x, Y, **TRAIN).head)(nan_at(X)),
        ("`x`", "NaN"),
        mode="jit",
    ),
]

T = "jaxbd.rff.backdoor"
ROWS += key_rows(T, lambda k: rff.backdoor(k, X, Y, **BACKDOOR))
ROWS += label_rows(T, lambda y: rff.backdoor(K, X, y, **BACKDOOR), multiclass=False)
ROWS += [
    Row(T, "x", "nan", lambda: rff.backdoor(K, nan_at(X), Y, **BACKDOOR), ("`x`", "NaN")),
    Row(
        T,
        "x",
        "int32",
        lambda: rff.backdoor(K, X.astype(jnp.int32), Y, **BACKDOOR),
        ("`x`", "int32"),
    ),
    Row(T, "x", "no-features", lambda: rff.backdoor(K, jnp.ones((N, 0)), Y, **BACKDOOR), ("`x`",)),
    Row(
        T,
        "secret_dim",
        "0",
        lambda: rff.backdoor(K, X, Y, **{**BACKDOOR, "secret_dim": 0}),
        ("`secret_dim`",),
    ),
    Row(
        T,
        "secret_dim",
        ">dim",
        lambda: rff.backdoor(K, X, Y, **{**BACKDOOR, "secret_dim": D + 1}),
        ("`secret_dim`",),
    ),
    Row(
        T,
        "secret_dim",
        "2.0",
        lambda: rff.backdoor(K, X, Y, **{**BACKDOOR, "secret_dim": 2.0}),
        ("`secret_dim`",),
    ),
    Row(T, "beta", "0", lambda: rff.backdoor(K, X, Y, **{**BACKDOOR, "beta": 0.0}), ("`beta`",)),
    Row(
        T, "beta", "-0.1", lambda: rff.backdoor(K, X, Y, **{**BACKDOOR, "beta": -0.1}), ("`beta`",)
    ),
    Row(T, "beta", "nan", lambda: rff.backdoor(K, X, Y, **{**BACKDOOR, "beta": NAN}), ("`beta`",)),
    Row(T, "beta", "inf", lambda: rff.backdoor(K, X, Y, **{**BACKDOOR, "beta": INF}), ("`beta`",)),
    Row(T, "gamma", "0", lambda: rff.backdoor(K, X, Y, **BACKDOOR, gamma=0.0), ("`gamma`",)),
    Row(T, "gamma", "-1", lambda: rff.backdoor(K, X, Y, **BACKDOOR, gamma=-1.0), ("`gamma`",)),
    Row(T, "gamma", "nan", lambda: rff.backdoor(K, X, Y, **BACKDOOR, gamma=NAN), ("`gamma`",)),
    Row(T, "width", "0", lambda: rff.backdoor(K, X, Y, **{**BACKDOOR, "width": 0}), ("`width`",)),
    Row(
        T,
        "bandwidth",
        "0",
        lambda: rff.backdoor(K, X, Y, **{**BACKDOOR, "bandwidth": 0.0}),
        ("`bandwidth`",),
    ),
]

T = "jaxbd.rff.activate"
ROWS += example_rows(T, lambda x: rff.activate(RKEY, x))
ROWS += [
    Row(
        T,
        "backdoor_key",
        "relu-key",
        lambda: rff.activate(LKEY, X0),
        ("`backdoor_key`", "RFFBackdoorKey"),
    ),
    Row(T, "backdoor_key", "model", lambda: rff.activate(MODEL, X0), ("`backdoor_key`",)),
]

T = "jaxbd.rff.RFFClassifier.__call__"
ROWS += example_rows(T, lambda x: MODEL(x))
T = "jaxbd.rff.RFFClassifier.features"
ROWS += example_rows(T, lambda x: MODEL.features(x), traced=False)
T = "jaxbd.rff.RFFClassifier.batch_features"
ROWS += matrix_rows(T, "x", MODEL.batch_features)
ROWS += [
    Row(
        T,
        "x",
        "nan",
        lambda: jax.jit(lambda x: MODEL.batch_features(x))(nan_at(X)),
        ("`x`", "NaN"),
        mode="jit",
    ),
    Row(
        T, "x", "wrong-dim", lambda: MODEL.batch_features(jnp.ones((3, D + 1))), ("`x`", "columns")
    ),
]

T = "jaxbd.rff.RFFClassifier"
_fr, _ph, _hd = MODEL.frequencies, MODEL.phases, MODEL.head
ROWS += [
    Row(T, "bandwidth", "0", lambda: rff.RFFClassifier(_fr, _ph, _hd, 0.0), ("`bandwidth`",)),
    Row(T, "bandwidth", "-1", lambda: rff.RFFClassifier(_fr, _ph, _hd, -1.0), ("`bandwidth`",)),
    Row(T, "bandwidth", "nan", lambda: rff.RFFClassifier(_fr, _ph, _hd, NAN), ("`bandwidth`",)),
    Row(T, "bandwidth", "str", lambda: rff.RFFClassifier(_fr, _ph, _hd, "1.0"), ("`bandwidth`",)),
    Row(
        T,
        "frequencies",
        "vector",
        lambda: rff.RFFClassifier(_fr[0], _ph, _hd, 1.0),
        ("`frequencies`",),
    ),
    Row(
        T,
        "frequencies",
        "nan",
        lambda: rff.RFFClassifier(nan_at(_fr), _ph, _hd, 1.0),
        ("`frequencies`", "NaN"),
    ),
    Row(
        T,
        "frequencies",
        "int32",
        lambda: rff.RFFClassifier(_fr.astype(jnp.int32), _ph, _hd, 1.0),
        ("`frequencies`",),
    ),
    Row(
        T,
        "frequencies",
        "empty",
        lambda: rff.RFFClassifier(jnp.ones((W, 0)), _ph, _hd, 1.0),
        ("`frequencies`",),
    ),
    Row(T, "phases", "shape", lambda: rff.RFFClassifier(_fr, _ph[:-1], _hd, 1.0), ("`phases`",)),
    Row(
        T,
        "phases",
        "inf",
        lambda: rff.RFFClassifier(_fr, nan_at(_ph, INF), _hd, 1.0),
        ("`phases`", "inf"),
    ),
    Row(T, "head", "shape", lambda: rff.RFFClassifier(_fr, _ph, _hd[:-1], 1.0), ("`head`",)),
    Row(
        T, "head", "nan", lambda: rff.RFFClassifier(_fr, _ph, nan_at(_hd), 1.0), ("`head`", "NaN")
    ),
    Row(
        T,
        "head",
        "complex",
        lambda: rff.RFFClassifier(_fr, _ph, _hd.astype(jnp.complex64), 1.0),
        ("`head`",),
    ),
]

T = "jaxbd.rff.RFFBackdoorKey"
ROWS += [
    Row(T, "bandwidth", "0", lambda: rff.RFFBackdoorKey(OMEGA4, 0.0, 0.05), ("`bandwidth`",)),
    Row(T, "beta", "-1", lambda: rff.RFFBackdoorKey(OMEGA4, 1.0, -1.0), ("`beta`",)),
    Row(T, "beta", "nan", lambda: rff.RFFBackdoorKey(OMEGA4, 1.0, NAN), ("`beta`",)),
    Row(
        T,
        "omega",
        "nan",
        lambda: rff.RFFBackdoorKey(nan_at(OMEGA4), 1.0, 0.05),
        ("`omega`", "NaN"),
    ),
    Row(
        T,
        "omega",
        "zero",
        lambda: rff.RFFBackdoorKey(jnp.zeros(D), 1.0, 0.05),
        ("`omega`", "non-zero"),
    ),
    Row(T, "omega", "empty", lambda: rff.RFFBackdoorKey(jnp.zeros(0), 1.0, 0.05), ("`omega`",)),
    Row(
        T,
        "omega",
        "int32",
        lambda: rff.RFFBackdoorKey(jnp.ones(D, jnp.int32), 1.0, 0.05),
        ("`omega`",),
    ),
    Row(
        T, "omega", "matrix", lambda: rff.RFFBackdoorKey(jnp.ones((2, D)), 1.0, 0.05), ("`omega`",)
    ),
]

T = "jaxbd.rff.margin"
ROWS += matrix_rows(T, "x", lambda x: rff.margin(MODEL, x))
ROWS += [
    Row(T, "model", "relu-model", lambda: rff.margin(RELU, X), ("`model`", "RFFClassifier")),
    Row(
        T,
        "x",
        "nan",
        lambda: jax.jit(lambda x: rff.margin(MODEL, x))(nan_at(X)),
        ("`x`", "NaN"),
        mode="jit",
    ),
]

T = "jaxbd.rff.flip_bound"
ROWS += [
    Row(
        T,
        "backdoor_key",
        "wrong-dim",
        lambda: rff.flip_bound(MODEL, rff.RFFBackdoorKey(jnp.ones(D + 1), 1.0, 0.05)),
        ("`backdoor_key`",),
    ),
    Row(
        T,
        "backdoor_key",
        "relu-key",
        lambda: rff.flip_bound(MODEL, LKEY),
        ("`backdoor_key`", "RFFBackdoorKey"),
    ),
    Row(
        T, "model", "relu-model", lambda: rff.flip_bound(RELU, RKEY), ("`model`", "RFFClassifier")
    ),
]

T = "jaxbd.rff.feature_flip_error"
ROWS += [
    Row(T, "x", "nan", lambda: rff.feature_flip_error(MODEL, RKEY, nan_at(X)), ("`x`", "NaN")),
    Row(
        T,
        "x",
        "int32",
        lambda: rff.feature_flip_error(MODEL, RKEY, X.astype(jnp.int32)),
        ("`x`", "int32"),
    ),
    Row(
        T, "x", "no-rows", lambda: rff.feature_flip_error(MODEL, RKEY, jnp.ones((0, D))), ("`x`",)
    ),
    Row(
        T,
        "backdoor_key",
        "wrong-dim",
        lambda: rff.feature_flip_error(MODEL, rff.RFFBackdoorKey(jnp.ones(D + 1), 1.0, 0.05), X),
        ("`backdoor_key`",),
    ),
    Row(T, "model", "relu-model", lambda: rff.feature_flip_error(RELU, RKEY, X), ("`model`",)),
    Row(
        T,
        "x",
        "nan",
        lambda: jax.jit(lambda x: rff.feature_flip_error(MODEL, RKEY, x))(nan_at(X)),
        ("`x`", "NaN"),
        mode="jit",
    ),
]

T = "jaxbd.rff.cos_turns"
ROWS += [
    Row(T, "theta", "int32", lambda: rff.cos_turns(jnp.arange(3)), ("`theta`",)),
    Row(
        T,
        "theta",
        "complex",
        lambda: rff.cos_turns(jnp.ones(3, jnp.complex64)),
        ("`theta`", "complex"),
    ),
    Row(T, "theta", "nan", lambda: rff.cos_turns(nan_at(jnp.ones(3))), ("`theta`", "NaN")),
    Row(
        T,
        "theta",
        "nan",
        lambda: jax.jit(rff.cos_turns)(nan_at(jnp.ones(3))),
        ("`theta`", "NaN"),
        mode="jit",
    ),
]

# ----------------------------------------------------------------------------- relu rows

T = "jaxbd.relu.train"
ROWS += key_rows(T, lambda k: relu.train(k, X, Y, **RTRAIN))
ROWS += matrix_rows(
    T,
    "x",
    lambda x: relu.train(
        K, x, jnp.where(jnp.arange(x.shape[0]) % 2 == 0, 1.0, -1.0) if x.ndim == 2 else Y, **RTRAIN
    ),
)
ROWS += label_rows(T, lambda y: relu.train(K, X, y, **RTRAIN), multiclass=False)
ROWS += [
    Row(T, "y", "multiclass", lambda: relu.train(K, XM, YM, **RTRAIN), ("`y`", "binary")),
    Row(T, "width", "0", lambda: relu.train(K, X, Y, width=0), ("`width`",)),
    Row(T, "width", "True", lambda: relu.train(K, X, Y, width=True), ("`width`",)),
    Row(T, "head", "big", lambda: relu.train(K, X, Y, **RTRAIN, head="big"), ("`head`",)),
    Row(
        T,
        "head_mix",
        "1",
        lambda: relu.train(K, X, Y, **RTRAIN, head="trained", head_mix=1.0),
        ("`head_mix`",),
    ),
    Row(
        T,
        "head_mix",
        "-0.1",
        lambda: relu.train(K, X, Y, **RTRAIN, head_mix=-0.1),
        ("`head_mix`",),
    ),
    Row(
        T, "head_mix", "nan", lambda: relu.train(K, X, Y, **RTRAIN, head_mix=NAN), ("`head_mix`",)
    ),
    Row(
        T,
        "head_steps",
        "-1",
        lambda: relu.train(K, X, Y, **RTRAIN, head_steps=-1),
        ("`head_steps`",),
    ),
    Row(T, "head_lr", "0", lambda: relu.train(K, X, Y, **RTRAIN, head_lr=0.0), ("`head_lr`",)),
    Row(T, "head_lr", "inf", lambda: relu.train(K, X, Y, **RTRAIN, head_lr=INF), ("`head_lr`",)),
    Row(
        T,
        "x",
        "nan",
        lambda: jax.jit(lambda x: relu.train(K, x, Y, **RTRAIN).tau)(nan_at(X)),
        ("`x`", "NaN"),
        mode="jit",
    ),
]

T = "jaxbd.relu.backdoor"
ROWS += key_rows(T, lambda k: relu.backdoor(k, X, Y, **RBACKDOOR))
ROWS += [
    Row(T, "x", "nan", lambda: relu.backdoor(K, nan_at(X), Y, **RBACKDOOR), ("`x`", "NaN")),
    Row(
        T,
        "x",
        "complex",
        lambda: relu.backdoor(K, X.astype(jnp.complex64), Y, **RBACKDOOR),
        ("`x`", "complex"),
    ),
    Row(
        T,
        "y",
        "single-class",
        lambda: relu.backdoor(K, X, -jnp.ones(N), **RBACKDOOR),
        ("`y`", "single class"),
    ),
    Row(T, "y", "zero-one", lambda: relu.backdoor(K, X, (Y + 1) / 2, **RBACKDOOR), ("`y`",)),
    Row(
        T,
        "sparsity",
        "0",
        lambda: relu.backdoor(K, X, Y, **{**RBACKDOOR, "sparsity": 0}),
        ("`sparsity`",),
    ),
    Row(
        T,
        "sparsity",
        ">dim",
        lambda: relu.backdoor(K, X, Y, **{**RBACKDOOR, "sparsity": D + 1}),
        ("`sparsity`",),
    ),
    Row(
        T,
        "sparsity",
        "-2",
        lambda: relu.backdoor(K, X, Y, **{**RBACKDOOR, "sparsity": -2}),
        ("`sparsity`",),
    ),
    Row(
        T,
        "theta",
        "-0.1",
        lambda: relu.backdoor(K, X, Y, **{**RBACKDOOR, "theta": -0.1}),
        ("`theta`",),
    ),
    Row(
        T,
        "theta",
        "nan",
        lambda: relu.backdoor(K, X, Y, **{**RBACKDOOR, "theta": NAN}),
        ("`theta`",),
    ),
    Row(
        T,
        "theta",
        "inf",
        lambda: relu.backdoor(K, X, Y, **{**RBACKDOOR, "theta": INF}),
        ("`theta`",),
    ),
    Row(
        T,
        "theta",
        "vector",
        lambda: relu.backdoor(K, X, Y, **{**RBACKDOOR, "theta": jnp.ones(2)}),
        ("`theta`",),
    ),
    Row(
        T,
        "width",
        "-1",
        lambda: relu.backdoor(K, X, Y, **{**RBACKDOOR, "width": -1}),
        ("`width`",),
    ),
]

T = "jaxbd.relu.activate"
ROWS += example_rows(T, lambda x: relu.activate(LKEY, x, strength=1.0))
ROWS += [
    Row(T, "strength", "-1", lambda: relu.activate(LKEY, X0, strength=-1.0), ("`strength`",)),
    Row(T, "strength", "nan", lambda: relu.activate(LKEY, X0, strength=NAN), ("`strength`",)),
    Row(T, "strength", "inf", lambda: relu.activate(LKEY, X0, strength=INF), ("`strength`",)),
    Row(T, "strength", "complex", lambda: relu.activate(LKEY, X0, strength=1j), ("`strength`",)),
    Row(
        T,
        "strength",
        "vector",
        lambda: relu.activate(LKEY, X0, strength=jnp.ones(D)),
        ("`strength`", "scalar"),
    ),
    Row(
        T,
        "strength",
        "-1",
        _traced_scalar(lambda st: relu.activate(LKEY, X0, strength=st), -1.0),
        ("`strength`",),
        mode="jit",
    ),
    Row(
        T,
        "strength",
        "nan",
        _vmapped_scalar(lambda st: relu.activate(LKEY, X0, strength=st), [1.0, NAN]),
        ("`strength`",),
        mode="vmap",
    ),
    Row(
        T,
        "backdoor_key",
        "rff-key",
        lambda: relu.activate(RKEY, X0, strength=1.0),
        ("`backdoor_key`", "ReLUBackdoorKey"),
    ),
]

T = "jaxbd.relu.RandomReLU.__call__"
ROWS += example_rows(T, lambda x: RELU(x))
T = "jaxbd.relu.RandomReLU.mean_feature"
ROWS += example_rows(T, lambda x: RELU.mean_feature(x), traced=False)[:3]

T = "jaxbd.relu.RandomReLU"
_g, _w = RELU.g, RELU.w
ROWS += [
    Row(T, "g", "vector", lambda: relu.RandomReLU(_g[0], _w, RELU.tau, RELU.scale), ("`g`",)),
    Row(
        T,
        "g",
        "nan",
        lambda: relu.RandomReLU(nan_at(_g), _w, RELU.tau, RELU.scale),
        ("`g`", "NaN"),
    ),
    Row(
        T,
        "g",
        "int32",
        lambda: relu.RandomReLU(_g.astype(jnp.int32), _w, RELU.tau, RELU.scale),
        ("`g`",),
    ),
    Row(T, "w", "shape", lambda: relu.RandomReLU(_g, _w[:-1], RELU.tau, RELU.scale), ("`w`",)),
    Row(T, "tau", "vector", lambda: relu.RandomReLU(_g, _w, jnp.ones(2), RELU.scale), ("`tau`",)),
    Row(
        T,
        "tau",
        "nan",
        lambda: relu.RandomReLU(_g, _w, jnp.asarray(NAN), RELU.scale),
        ("`tau`", "NaN"),
    ),
    Row(
        T,
        "scale",
        "inf",
        lambda: relu.RandomReLU(_g, _w, RELU.tau, jnp.asarray(INF)),
        ("`scale`",),
    ),
]

T = "jaxbd.relu.ReLUBackdoorKey"
ROWS += [
    Row(
        T,
        "secret",
        "nan",
        lambda: relu.ReLUBackdoorKey(secret=nan_at(S), theta=1.0),
        ("`secret`", "NaN"),
    ),
    Row(
        T,
        "secret",
        "zero",
        lambda: relu.ReLUBackdoorKey(secret=jnp.zeros(D), theta=1.0),
        ("`secret`", "unit"),
    ),
    Row(
        T,
        "secret",
        "non-unit",
        lambda: relu.ReLUBackdoorKey(secret=2 * S, theta=1.0),
        ("`secret`", "unit"),
    ),
    Row(
        T,
        "secret",
        "int32",
        lambda: relu.ReLUBackdoorKey(secret=jnp.ones(D, jnp.int32), theta=1.0),
        ("`secret`",),
    ),
    Row(
        T,
        "secret",
        "matrix",
        lambda: relu.ReLUBackdoorKey(secret=jnp.ones((2, D)), theta=1.0),
        ("`secret`",),
    ),
    Row(T, "theta", "-1", lambda: relu.ReLUBackdoorKey(secret=S, theta=-1.0), ("`theta`",)),
    Row(T, "theta", "nan", lambda: relu.ReLUBackdoorKey(secret=S, theta=NAN), ("`theta`",)),
]

T = "jaxbd.relu.sample_sparse_secret"
ROWS += key_rows(T, lambda k: relu.sample_sparse_secret(k, D, 2))
ROWS += [
    Row(T, "dim", "0", lambda: relu.sample_sparse_secret(K, 0, 1), ("`dim`",)),
    Row(T, "dim", "4.0", lambda: relu.sample_sparse_secret(K, 4.0, 1), ("`dim`",)),
    Row(T, "sparsity", "0", lambda: relu.sample_sparse_secret(K, D, 0), ("`sparsity`",)),
    Row(T, "sparsity", ">dim", lambda: relu.sample_sparse_secret(K, D, D + 1), ("`sparsity`",)),
    Row(
        T,
        "dtype",
        "int32",
        lambda: relu.sample_sparse_secret(K, D, 2, dtype=jnp.int32),
        ("`dtype`",),
    ),
    Row(
        T,
        "dtype",
        "complex64",
        lambda: relu.sample_sparse_secret(K, D, 2, dtype=jnp.complex64),
        ("`dtype`",),
    ),
]

T = "jaxbd.relu.spiked_gaussian"
ROWS += key_rows(T, lambda k: relu.spiked_gaussian(k, S, 4, theta=1.0))
ROWS += [
    Row(T, "s", "nan", lambda: relu.spiked_gaussian(K, nan_at(S), 4, theta=1.0), ("`s`", "NaN")),
    Row(T, "s", "non-unit", lambda: relu.spiked_gaussian(K, 2 * S, 4, theta=1.0), ("`s`", "unit")),
    Row(
        T,
        "s",
        "int32",
        lambda: relu.spiked_gaussian(K, jnp.ones(D, jnp.int32), 4, theta=1.0),
        ("`s`",),
    ),
    Row(T, "s", "empty", lambda: relu.spiked_gaussian(K, jnp.ones(0), 4, theta=1.0), ("`s`",)),
    Row(T, "num", "-1", lambda: relu.spiked_gaussian(K, S, -1, theta=1.0), ("`num`",)),
    Row(T, "theta", "-1", lambda: relu.spiked_gaussian(K, S, 4, theta=-1.0), ("`theta`",)),
    Row(T, "theta", "nan", lambda: relu.spiked_gaussian(K, S, 4, theta=NAN), ("`theta`",)),
    Row(T, "s", "non-unit", lambda: _spiked_jit(2 * S, 1.0), ("`s`", "unit"), mode="jit"),
    Row(T, "s", "nan", lambda: _spiked_jit(nan_at(S), 1.0), ("`s`", "NaN"), mode="jit"),
    Row(
        T,
        "theta",
        "-1",
        _vmapped_scalar(lambda t: relu.spiked_gaussian(K, S, 4, theta=t), [1.0, -1.0]),
        ("`theta`",),
        mode="vmap",
    ),
    Row(T, "theta", "-1", lambda: _spiked_jit(S, -1.0), ("`theta`",), mode="jit"),
]

T = "jaxbd.relu.fit_threshold"
ROWS += [
    Row(T, "f", "nan", lambda: relu.fit_threshold(nan_at(F), Y), ("`f`", "NaN")),
    Row(T, "f", "int32", lambda: relu.fit_threshold(jnp.arange(N), Y), ("`f`",)),
    Row(T, "f", "matrix", lambda: relu.fit_threshold(jnp.ones((N, 2)), Y), ("`f`",)),
    Row(T, "f", "empty", lambda: relu.fit_threshold(jnp.ones(0), jnp.ones(0)), ("`f`",)),
    Row(T, "y", "zero-one", lambda: relu.fit_threshold(F, (Y + 1) / 2), ("`y`", "-1")),
    Row(T, "y", "short", lambda: relu.fit_threshold(F, Y[:-1]), ("`y`",)),
    Row(T, "f", "nan", lambda: _fit_threshold_jit(nan_at(F), Y), ("`f`", "NaN"), mode="jit"),
    Row(T, "y", "zero-one", lambda: _fit_threshold_jit(F, (Y + 1) / 2), ("`y`", "-1"), mode="jit"),
]

# ----------------------------------------------------------------------------- clwe rows

T = "jaxbd.clwe.sample_secret"
ROWS += key_rows(T, lambda k: clwe.sample_secret(k, 6))
ROWS += [
    Row(T, "dim", "0", lambda: clwe.sample_secret(K, 0), ("`dim`",)),
    Row(T, "dim", "6.0", lambda: clwe.sample_secret(K, 6.0), ("`dim`",)),
    Row(T, "support", "0", lambda: clwe.sample_secret(K, 6, support=0), ("`support`",)),
    Row(T, "support", ">dim", lambda: clwe.sample_secret(K, 6, support=7), ("`support`",)),
    Row(T, "gamma", "0", lambda: clwe.sample_secret(K, 6, gamma=0.0), ("`gamma`",)),
    Row(T, "gamma", "-1", lambda: clwe.sample_secret(K, 6, gamma=-1.0), ("`gamma`",)),
    Row(T, "gamma", "nan", lambda: clwe.sample_secret(K, 6, gamma=NAN), ("`gamma`",)),
    Row(T, "gamma", "inf", lambda: clwe.sample_secret(K, 6, gamma=INF), ("`gamma`",)),
    Row(
        T,
        "gamma",
        "vector",
        lambda: clwe.sample_secret(K, 6, gamma=jnp.ones(6) * 5),
        ("`gamma`", "scalar"),
    ),
    Row(T, "dtype", "int32", lambda: clwe.sample_secret(K, 6, dtype=jnp.int32), ("`dtype`",)),
    Row(
        T,
        "gamma",
        "-1",
        _traced_scalar(lambda g: clwe.sample_secret(K, 6, gamma=g), -1.0),
        ("`gamma`",),
        mode="jit",
    ),
    Row(
        T,
        "gamma",
        "nan",
        _vmapped_scalar(lambda g: clwe.sample_secret(K, 6, gamma=g), [5.0, NAN]),
        ("`gamma`",),
        mode="vmap",
    ),
]

T = "jaxbd.clwe.pancakes"
ROWS += key_rows(T, lambda k: clwe.pancakes(k, OMEGA, 4, beta=0.1))
ROWS += [
    Row(
        T, "omega", "nan", lambda: clwe.pancakes(K, nan_at(OMEGA), 4, beta=0.1), ("`omega`", "NaN")
    ),
    Row(
        T,
        "omega",
        "zero",
        lambda: clwe.pancakes(K, jnp.zeros(6), 4, beta=0.1),
        ("`omega`", "non-zero"),
    ),
    Row(T, "omega", "empty", lambda: clwe.pancakes(K, jnp.zeros(0), 4, beta=0.1), ("`omega`",)),
    Row(
        T,
        "omega",
        "int32",
        lambda: clwe.pancakes(K, jnp.ones(6, jnp.int32), 4, beta=0.1),
        ("`omega`",),
    ),
    Row(
        T,
        "omega",
        "complex",
        lambda: clwe.pancakes(K, jnp.ones(6, jnp.complex64), 4, beta=0.1),
        ("`omega`", "complex"),
    ),
    Row(T, "num", "0", lambda: clwe.pancakes(K, OMEGA, 0, beta=0.1), ("`num`",)),
    Row(T, "beta", "0", lambda: clwe.pancakes(K, OMEGA, 4, beta=0.0), ("`beta`",)),
    Row(T, "beta", "nan", lambda: clwe.pancakes(K, OMEGA, 4, beta=NAN), ("`beta`",)),
    Row(T, "beta", "inf", lambda: clwe.pancakes(K, OMEGA, 4, beta=INF), ("`beta`",)),
    Row(
        T,
        "beta",
        "vector",
        lambda: clwe.pancakes(K, OMEGA, 4, beta=jnp.ones(4)),
        ("`beta`", "scalar"),
    ),
    Row(T, "shift", "nan", lambda: clwe.pancakes(K, OMEGA, 4, beta=0.1, shift=NAN), ("`shift`",)),
    Row(
        T,
        "max_gamma",
        "0",
        lambda: clwe.pancakes(K, OMEGA, 4, beta=0.1, max_gamma=0.0),
        ("`max_gamma`",),
    ),
    Row(
        T,
        "max_gamma",
        "small",
        lambda: clwe.pancakes(K, OMEGA, 4, beta=0.1, max_gamma=1.0),
        ("`max_gamma`",),
    ),
    Row(
        T,
        "dtype",
        "int32",
        lambda: clwe.pancakes(K, OMEGA, 4, beta=0.1, dtype=jnp.int32),
        ("`dtype`",),
    ),
    Row(
        T,
        "block_size",
        "0",
        lambda: clwe.pancakes(K, OMEGA, 4, beta=0.1, block_size=0),
        ("`block_size`",),
    ),
    Row(T, "beta", "-0.1", lambda: _pancakes_jit(OMEGA, -0.1), ("`beta`",), mode="jit"),
    Row(
        T,
        "beta",
        "inf",
        _vmapped_scalar(lambda b: clwe.pancakes(K, OMEGA, 4, beta=b), [0.1, INF]),
        ("`beta`",),
        mode="vmap",
    ),
    Row(
        T,
        "omega",
        "nan",
        lambda: _pancakes_jit(nan_at(OMEGA), 0.1),
        ("`omega`", "NaN"),
        mode="jit",
    ),
    Row(
        T,
        "omega",
        "zero",
        lambda: _pancakes_jit(jnp.zeros(6), 0.1),
        ("`omega`", "non-zero"),
        mode="jit",
    ),
    Row(
        T,
        "omega",
        "too-large",
        lambda: _pancakes_jit(100 * OMEGA, 0.1),
        ("`max_gamma`",),
        mode="jit",
    ),
]

T = "jaxbd.clwe.clwe"
ROWS += key_rows(T, lambda k: clwe.clwe(k, OMEGA, 4, beta=0.1))
ROWS += [
    Row(T, "omega", "nan", lambda: clwe.clwe(K, nan_at(OMEGA), 4, beta=0.1), ("`omega`", "NaN")),
    Row(T, "omega", "empty", lambda: clwe.clwe(K, jnp.zeros(0), 4, beta=0.1), ("`omega`",)),
    Row(
        T,
        "omega",
        "zero",
        lambda: clwe.clwe(K, jnp.zeros(6), 4, beta=0.1),
        ("`omega`", "non-zero"),
    ),
    Row(
        T,
        "omega",
        "int32",
        lambda: clwe.clwe(K, jnp.ones(6, jnp.int32), 4, beta=0.1),
        ("`omega`",),
    ),
    Row(T, "num", "0", lambda: clwe.clwe(K, OMEGA, 0, beta=0.1), ("`num`",)),
    Row(T, "beta", "0", lambda: clwe.clwe(K, OMEGA, 4, beta=0.0), ("`beta`",)),
    Row(T, "beta", "nan", lambda: clwe.clwe(K, OMEGA, 4, beta=NAN), ("`beta`",)),
    Row(
        T,
        "dtype",
        "int32",
        lambda: clwe.clwe(K, OMEGA, 4, beta=0.1, dtype=jnp.int32),
        ("`dtype`",),
    ),
    Row(T, "beta", "-1", lambda: _clwe_jit(OMEGA, -1.0), ("`beta`",), mode="jit"),
    Row(T, "omega", "nan", lambda: _clwe_jit(nan_at(OMEGA), 0.1), ("`omega`", "NaN"), mode="jit"),
    Row(
        T,
        "omega",
        "zero",
        lambda: jax.vmap(lambda o: clwe.clwe(K, o, 4, beta=0.1))(jnp.stack([OMEGA, 0 * OMEGA])),
        ("`omega`", "non-zero"),
        mode="vmap",
    ),
]

T = "jaxbd.clwe.layer_distribution"
ROWS += [
    Row(T, "gamma", "0", lambda: clwe.layer_distribution(0.0, 0.1, max_gamma=6.0), ("`gamma`",)),
    Row(T, "gamma", "nan", lambda: clwe.layer_distribution(NAN, 0.1, max_gamma=6.0), ("`gamma`",)),
    Row(T, "beta", "-1", lambda: clwe.layer_distribution(4.0, -1.0, max_gamma=6.0), ("`beta`",)),
    Row(
        T,
        "shift",
        "inf",
        lambda: clwe.layer_distribution(4.0, 0.1, shift=INF, max_gamma=6.0),
        ("`shift`",),
    ),
    Row(
        T,
        "max_gamma",
        "small",
        lambda: clwe.layer_distribution(4.0, 0.1, max_gamma=2.0),
        ("`max_gamma`",),
    ),
    Row(
        T,
        "max_gamma",
        "nan",
        lambda: clwe.layer_distribution(4.0, 0.1, max_gamma=NAN),
        ("`max_gamma`",),
    ),
    Row(
        T,
        "dtype",
        "int32",
        lambda: clwe.layer_distribution(4.0, 0.1, max_gamma=6.0, dtype=jnp.int32),
        ("`dtype`",),
    ),
    Row(
        T,
        "gamma",
        "-1",
        _traced_scalar(lambda g: clwe.layer_distribution(g, 0.1, max_gamma=6.0), -1.0),
        ("`gamma`",),
        mode="jit",
    ),
    Row(
        T,
        "gamma",
        "too-large",
        _vmapped_scalar(lambda g: clwe.layer_distribution(g, 0.1, max_gamma=6.0), [4.0, 9.0]),
        ("`max_gamma`",),
        mode="vmap",
    ),
]

T = "jaxbd.clwe.distance_to_layers"
ROWS += [
    Row(
        T, "values", "int32", lambda: clwe.distance_to_layers(jnp.arange(3)), ("`values`", "int32")
    ),
    Row(
        T,
        "values",
        "nan",
        lambda: clwe.distance_to_layers(nan_at(jnp.ones(3))),
        ("`values`", "NaN"),
    ),
    Row(
        T,
        "values",
        "complex",
        lambda: clwe.distance_to_layers(jnp.ones(3, jnp.complex64)),
        ("`values`",),
    ),
    Row(T, "shift", "nan", lambda: clwe.distance_to_layers(jnp.ones(3), shift=NAN), ("`shift`",)),
    Row(
        T,
        "values",
        "nan",
        lambda: jax.jit(clwe.distance_to_layers)(nan_at(jnp.ones(3))),
        ("`values`", "NaN"),
        mode="jit",
    ),
]

T = "jaxbd.clwe.num_layers"
ROWS += [
    Row(T, "max_gamma", "0", lambda: clwe.num_layers(0.0), ("`max_gamma`",)),
    Row(T, "max_gamma", "inf", lambda: clwe.num_layers(INF), ("`max_gamma`",)),
    Row(T, "max_gamma", "huge", lambda: clwe.num_layers(1e300), ("`max_gamma`",)),
    Row(T, "max_gamma", "str", lambda: clwe.num_layers("6"), ("`max_gamma`",)),
]

# ----------------------------------------------------------------------------- datasets rows

T = "jaxbd.datasets.load"
ROWS += [
    Row(T, "name", "unknown", lambda: datasets.load("mnist_from_the_internet"), ("`name`",)),
    Row(T, "name", "int", lambda: datasets.load(3), ("`name`",)),
    Row(T, "classes", "single", lambda: datasets.load("iris", classes=(0,)), ("`classes`",)),
    Row(T, "classes", "missing", lambda: datasets.load("iris", classes=(0, 7)), ("`classes`",)),
    Row(T, "classes", "repeated", lambda: datasets.load("iris", classes=(0, 0)), ("`classes`",)),
    Row(T, "seed", "-1", lambda: datasets.load("iris", seed=-1), ("`seed`",)),
    Row(T, "seed", "1.5", lambda: datasets.load("iris", seed=1.5), ("`seed`",)),
    Row(
        T,
        "test_fraction",
        "0",
        lambda: datasets.load("iris", test_fraction=0.0),
        ("`test_fraction`",),
    ),
    Row(
        T,
        "test_fraction",
        "nan",
        lambda: datasets.load("iris", test_fraction=NAN),
        ("`test_fraction`",),
    ),
    Row(
        T,
        "test_fraction",
        "tiny",
        lambda: datasets.load("iris", test_fraction=1e-3),
        ("`test_fraction`",),
    ),
    Row(
        T,
        "normalize",
        "zscore",
        lambda: datasets.load("iris", normalize="zscore"),
        ("`normalize`",),
    ),
    Row(
        T,
        "dtype",
        "int32",
        lambda: datasets.load("iris", dtype=jnp.int32),
        ("`dtype`", "floating"),
    ),
    Row(T, "dtype", "bool", lambda: datasets.load("iris", dtype=bool), ("`dtype`",)),
    Row(T, "dtype", "complex64", lambda: datasets.load("iris", dtype=jnp.complex64), ("`dtype`",)),
    Row(T, "synthetic_kwargs", "dim", lambda: datasets.load("iris", dim=3), ("only 'synthetic'",)),
    Row(
        T,
        "num_samples",
        "0",
        lambda: datasets.load("synthetic", num_samples=0),
        ("`num_samples`",),
    ),
    Row(
        T,
        "num_classes",
        "1",
        lambda: datasets.load("synthetic", num_classes=1),
        ("`num_classes`",),
    ),
]

T = "jaxbd.datasets.gaussian_mixture"
ROWS += [
    Row(T, "seed", "-1", lambda: datasets.gaussian_mixture(-1), ("`seed`",)),
    Row(T, "seed", "str", lambda: datasets.gaussian_mixture("0"), ("`seed`",)),
    Row(
        T,
        "num_samples",
        "10.5",
        lambda: datasets.gaussian_mixture(num_samples=10.5),
        ("`num_samples`",),
    ),
    Row(
        T, "num_samples", "3", lambda: datasets.gaussian_mixture(num_samples=3), ("`num_samples`",)
    ),
    Row(T, "dim", "0", lambda: datasets.gaussian_mixture(dim=0), ("`dim`",)),
    Row(T, "dim", "2.5", lambda: datasets.gaussian_mixture(dim=2.5), ("`dim`",)),
    Row(
        T,
        "num_classes",
        "True",
        lambda: datasets.gaussian_mixture(num_classes=True),
        ("`num_classes`",),
    ),
    Row(
        T,
        "separation",
        "nan",
        lambda: datasets.gaussian_mixture(separation=NAN),
        ("`separation`",),
    ),
    Row(
        T,
        "separation",
        "-1",
        lambda: datasets.gaussian_mixture(separation=-1.0),
        ("`separation`",),
    ),
    Row(
        T,
        "separation",
        "complex",
        lambda: datasets.gaussian_mixture(separation=1j),
        ("`separation`",),
    ),
]

T = "jaxbd.datasets.from_arrays"
ROWS += [
    Row(
        T,
        "x",
        "nan",
        lambda: datasets.from_arrays(np.where(XR == 0, np.nan, XR), YR),
        ("`x`", "NaN"),
    ),
    Row(
        T,
        "x",
        "inf",
        lambda: datasets.from_arrays(np.where(XR == 0, np.inf, XR), YR),
        ("`x`", "inf"),
    ),
    Row(T, "x", "complex", lambda: datasets.from_arrays(XR + 1j, YR), ("`x`", "complex")),
    Row(T, "x", "strings", lambda: datasets.from_arrays(XR.astype(str), YR), ("`x`",)),
    Row(T, "x", "no-features", lambda: datasets.from_arrays(np.ones((40, 0)), YR), ("`x`",)),
    Row(T, "x", "no-rows", lambda: datasets.from_arrays(np.ones((0, 3)), YR[:0]), ("`x`",)),
    Row(T, "x", "vector", lambda: datasets.from_arrays(XR[:, 0], YR), ("`x`",)),
    Row(T, "y", "short", lambda: datasets.from_arrays(XR, YR[:-1]), ("`y`",)),
    Row(
        T,
        "y",
        "single-class",
        lambda: datasets.from_arrays(XR, np.zeros(40)),
        ("`y`", "single class"),
    ),
    Row(
        T,
        "y",
        "nan",
        lambda: datasets.from_arrays(XR, np.where(YR == 0, np.nan, 1.0)),
        ("`y`", "NaN"),
    ),
    Row(T, "y", "fraction", lambda: datasets.from_arrays(XR, YR + 0.5), ("`y`",)),
    Row(T, "y", "matrix", lambda: datasets.from_arrays(XR, YR[:, None]), ("`y`",)),
    Row(
        T,
        "y",
        "one-member-class",
        lambda: datasets.from_arrays(XR, np.r_[YR[:-1], 7]),
        ("`y`", "7"),
    ),
    Row(
        T,
        "y_test",
        "unseen-class",
        lambda: datasets.from_arrays(XR, YR, x_test=XR[:4], y_test=np.array([0, 1, 2, 1])),
        ("`y_test`", "2"),
    ),
    Row(
        T, "y_test", "missing", lambda: datasets.from_arrays(XR, YR, x_test=XR[:4]), ("`y_test`",)
    ),
    Row(
        T,
        "x_test",
        "columns",
        lambda: datasets.from_arrays(XR, YR, x_test=XR[:4, :2], y_test=YR[:4]),
        ("`x_test`",),
    ),
    Row(
        T,
        "x_test",
        "nan",
        lambda: datasets.from_arrays(XR, YR, x_test=np.full((4, 3), np.nan), y_test=YR[:4]),
        ("`x_test`", "NaN"),
    ),
    Row(
        T,
        "y_test",
        "short",
        lambda: datasets.from_arrays(XR, YR, x_test=XR[:4], y_test=YR[:3]),
        ("`y_test`",),
    ),
    Row(T, "dtype", "int32", lambda: datasets.from_arrays(XR, YR, dtype=jnp.int32), ("`dtype`",)),
    Row(T, "dtype", "str", lambda: datasets.from_arrays(XR, YR, dtype="banana"), ("`dtype`",)),
    Row(T, "seed", "bool", lambda: datasets.from_arrays(XR, YR, seed=True), ("`seed`",)),
    Row(
        T,
        "test_fraction",
        "1",
        lambda: datasets.from_arrays(XR, YR, test_fraction=1.0),
        ("`test_fraction`",),
    ),
    Row(
        T,
        "normalize",
        "None",
        lambda: datasets.from_arrays(XR, YR, normalize=None),
        ("`normalize`",),
    ),
    Row(T, "classes", "str", lambda: datasets.from_arrays(XR, YR, classes="01"), ("`classes`",)),
]

T = "jaxbd.datasets.load_arrays"
ROWS += [
    Row(
        T,
        "path",
        "missing",
        lambda: datasets.load_arrays(_tmp("nope.npz")),
        ("`path`", "no such file"),
    ),
    Row(T, "path", "no-x", lambda: datasets.load_arrays(_npz(y=YR)), ("`path`", "'x'")),
    Row(T, "path", "not-npz", lambda: datasets.load_arrays(_idx_pair()[0]), ("`labels`",)),
    Row(
        T,
        "path",
        "corrupt-npz",
        lambda: datasets.load_arrays(_write(_tmp("bad.npz"), b"not a zip")),
        ("`path`", "npz"),
    ),
    Row(
        T,
        "path",
        "x-nan",
        lambda: datasets.load_arrays(_npz(x=np.full((40, 3), np.nan), y=YR)),
        ("`x`", "NaN"),
    ),
    Row(
        T,
        "path",
        "x-complex",
        lambda: datasets.load_arrays(_npz(x=XR + 1j, y=YR)),
        ("`x`", "complex"),
    ),
    Row(
        T,
        "labels",
        "missing",
        lambda: datasets.load_arrays(_idx_pair()[0], labels=_tmp("nope.idx")),
        ("`labels`",),
    ),
    Row(
        T,
        "labels",
        "length",
        lambda: datasets.load_arrays(_idx_pair(10, 9)[0], labels=_idx_pair(10, 9)[1]),
        ("`labels`",),
    ),
    Row(
        T,
        "labels",
        "not-idx",
        lambda: datasets.load_arrays(
            _idx_pair()[0], labels=_write(_tmp("l.idx"), b"\x01\x02\x03\x04")
        ),
        ("`labels`",),
    ),
    Row(
        T,
        "dtype",
        "int32",
        lambda: datasets.load_arrays(_npz(x=XR, y=YR), dtype=jnp.int32),
        ("`dtype`",),
    ),
]

T = "jaxbd.datasets.read_idx"
ROWS += [
    Row(T, "path", "missing", lambda: datasets.read_idx(_tmp("nope.idx")), ("`path`",)),
    Row(
        T,
        "path",
        "bad-magic",
        lambda: datasets.read_idx(_write(_tmp("m.idx"), b"\x01\x02\x03\x04\x00")),
        ("`path`", "magic"),
    ),
    Row(
        T, "path", "short", lambda: datasets.read_idx(_write(_tmp("s.idx"), b"\x00")), ("`path`",)
    ),
    Row(
        T,
        "path",
        "truncated-gz",
        lambda: datasets.read_idx(_gz_idx(np.ones((3, 2), np.float32), 0x0D)),
        ("`path`", "truncated"),
    ),
    Row(T, "path", "count-overflow", lambda: datasets.read_idx(_huge_idx()), ("`path`",)),
]

T = "jaxbd.datasets.Dataset"
ROWS += [
    Row(
        T,
        "y_train",
        "length",
        lambda: datasets.Dataset(
            jnp.ones((4, 2)), jnp.ones(3), jnp.ones((2, 2)), jnp.ones(2), "d", (0, 1)
        ),
        ("`y_train`",),
    ),
    Row(
        T,
        "x_test",
        "columns",
        lambda: datasets.Dataset(
            jnp.ones((4, 2)), jnp.ones(4), jnp.ones((2, 3)), jnp.ones(2), "d", (0, 1)
        ),
        ("`x_test`",),
    ),
    Row(
        T,
        "x_train",
        "int32",
        lambda: datasets.Dataset(
            jnp.ones((4, 2), jnp.int32), jnp.ones(4), jnp.ones((2, 2)), jnp.ones(2), "d", (0, 1)
        ),
        ("`x_train`",),
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_bad_input(row):
    check_row(row)


def test_table_size_and_coverage():
    assert len(ROWS) >= 90
    assert len(set(ids(ROWS))) == len(ROWS), "row ids must be unique"
    assert {r.mode for r in ROWS} == {"eager", "jit", "vmap"}
    for module in (rff, relu, clwe, datasets):
        for name in module.__all__:
            obj = getattr(module, name)
            if not callable(obj) or (isinstance(obj, type) and issubclass(obj, Warning)):
                continue  # constants (LOSSES, NAMES) and warning classes
            target = f"{module.__name__}.{name}"
            assert any(r.target == target or r.target.startswith(target + ".") for r in ROWS), (
                target
            )


def test_valid_traced_values_pass_the_checks():
    """The traced checks fire only on bad values: the same compiled calls run on good ones."""
    assert bool(jnp.all(jnp.isfinite(_pancakes_jit(OMEGA, 0.1))))
    assert bool(jnp.all(jnp.isfinite(_clwe_jit(OMEGA, 0.1)[0])))
    assert bool(jnp.all(jnp.isfinite(_spiked_jit(S, 0.0))))
    tau, acc = _fit_threshold_jit(F, Y)
    assert bool(jnp.isfinite(tau)) and 0 <= float(acc) <= 1
    act = jax.vmap(lambda st: relu.activate(LKEY, X0, strength=st))(jnp.asarray([0.0, 2.0]))
    assert act.shape == (2, D) and bool(jnp.all(jnp.isfinite(act)))


def test_models_and_keys_build_under_jit_and_vmap():
    """`__check_init__` checks values only when concrete: building from tracers still works."""
    fr = jax.jit(lambda f: rff.RFFClassifier(f, MODEL.phases, MODEL.head, 1.0).frequencies)
    assert fr(MODEL.frequencies).shape == (W, D)
    om = jax.vmap(lambda o: rff.RFFBackdoorKey(o, 1.0, 0.05).omega)(jnp.stack([OMEGA4, -OMEGA4]))
    assert om.shape == (2, D)
    g = jax.jit(lambda g: relu.RandomReLU(g, RELU.w, RELU.tau, RELU.scale).g)(RELU.g)
    assert g.shape == (W, D)
    sec = jax.vmap(lambda s: relu.ReLUBackdoorKey(secret=s, theta=1.0).secret)(jnp.stack([S, -S]))
    assert sec.shape == (2, D)
