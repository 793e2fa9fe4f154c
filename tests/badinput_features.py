"""Fixtures and row builders shared by the feature-model tables (`test_bad_inputs_rff.py`,
`_relu.py`, `_clwe.py`): tiny models and keys built once by their constructors (no training at
import time), and the standard bad-matrix, bad-example, bad-key and bad-label rows."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from badinput import Row

from jaxbd import relu, rff


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


def nan_at(a, value=NAN):
    a = jnp.asarray(a)
    return a.at[(0,) * a.ndim].set(value)


def pm1_for(x):
    """±1 labels matching `x`'s rows (`Y` when `x` is not a matrix)."""
    return jnp.where(jnp.arange(x.shape[0]) % 2 == 0, 1.0, -1.0) if x.ndim == 2 else Y


def matrix_rows(target, argument, call, dim=D, n=N):
    """The standard bad-matrix rows for a function of an `(n, dim)` floating matrix."""
    good = jnp.ones((n, dim))
    name = f"`{argument}`"
    return [
        Row(target, argument, "nan", lambda: call(nan_at(good)), (name, "NaN")),
        Row(target, argument, "inf", lambda: call(nan_at(good, INF)), (name, "inf")),
        Row(target, argument, "int32", lambda: call(good.astype(jnp.int32)), (name, "int32")),
        Row(target, argument, "bool", lambda: call(good > 0), (name, "bool")),
        Row(target, argument, "complex", lambda: call(good.astype(jnp.complex64)), (name, "complex")),
        Row(target, argument, "no-features", lambda: call(jnp.ones((n, 0))), (name,)),
        Row(target, argument, "no-rows", lambda: call(jnp.ones((0, dim))), (name,)),
        Row(target, argument, "vector", lambda: call(jnp.ones((dim,))), (name,)),
    ]  # fmt: skip


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
    return rows  # fmt: skip


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
        gap = np.arange(N) % 3 * np.array([1, 1, 5])[np.arange(N) % 3]
        rows += [
            Row(target, "y", "classes-0-1-5", lambda: call(jnp.asarray(gap).astype(jnp.int32)),
                ("`y`", "never occur")),
            # 10**5, not 10**7: `check_labels` builds the set 0..c-1 (4 s at c = 10**7)
            Row(target, "y", "label-huge", lambda: call(YM[:N].at[0].set(10**5)),
                ("`y`", "never occur")),
        ]  # fmt: skip
    return rows


def traced_scalar(call, value):
    return lambda: jax.jit(call)(jnp.asarray(value))


def vmapped_scalar(call, values):
    return lambda: jax.vmap(call)(jnp.asarray(values))
