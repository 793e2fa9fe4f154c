"""Bad inputs to the black-box and memorizing constructions: checksum, signature, persistent,
memorizing. Every row must raise an error naming the bad argument (never a silent answer).
Rows with mode "jit"/"vmap" pass the bad value traced: the check is `eqx.error_if` (a runtime
error when the program runs) or, for a host-level function, a clear error at trace time.

Also covered: the constructors and `__check_init__` of the model and key classes (a crafted file
is rebuilt through them, so they must refuse broken invariants)."""

import dataclasses
import os
import tempfile

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from badinput import Row, check_row, ids, jit, vmap
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from helpers import linear

from jaxbd import checksum as cs, memorizing as mz, persistent as ps, signature as sg


# ----------------------------------------------------------------------------- shared fixtures

NAN, INF = float("nan"), float("inf")
KEY = jr.key(0)
R = RuntimeError  # eqx.error_if at run time (an EquinoxRuntimeError)


class Logits(eqx.Module):
    w: jax.Array

    def __call__(self, x):
        return self.w @ x


class IntScore(eqx.Module):
    """A model whose score is an integer (a silent cast would hide it)."""

    def __call__(self, x):
        return jnp.sum(x).astype(jnp.int32)


class Matrix(eqx.Module):
    def __call__(self, x):
        return jnp.zeros((2, 2)) * jnp.sum(x)


def put(x, index, value):
    """A numpy copy of `x` with `x[index] = value` (numpy: building the table compiles nothing)."""
    a = np.array(x, copy=True)
    a[index] = value
    return a


def ones(*shape):
    return np.ones(shape, np.float32)


def bad_dims(x, good: int):
    """Rows for `x` (one example of dimension `good`): NaN, inf, int, complex, bool, shape."""
    return [
        ("nan", put(x, 1, NAN), ("NaN",)),
        ("inf", put(x, 0, -INF), ("inf",)),
        ("int", np.ones(good, np.int32), ("floating",)),
        ("complex", np.ones(good, np.complex64), ("complex",)),
        ("bool", np.ones(good, bool), ()),
        ("wrong-shape", ones(good + 1), ()),
        ("batch", ones(2, good), ()),
    ]


def model_rows(target, model, x, d, *, nan_at, inf_batch, vmapped=None, dims=None, methods=()):
    """The `x` rows of a backdoored model class `target`: `model(x)` on `dims` (default
    `bad_dims(x, d)`), a NaN at `nan_at` under jit, `inf_batch` under vmap (through `vmapped`,
    default `model`), then `(method, bad, jit-or-vmap, value)` rows for its other methods."""
    vmapped = model if vmapped is None else vmapped
    call = target + ".__call__"
    return [
        *[
            Row(call, "x", name, (lambda v=v: model(v)), ("`x`", *w))
            for name, v, w in (bad_dims(x, d) if dims is None else dims)
        ],
        Row(call, "x", "nan", jit(lambda v: model(v), put(x, nan_at, NAN)), ("`x`", "NaN"),
            mode="jit"),
        Row(call, "x", "inf", vmap(lambda v: vmapped(v), inf_batch), ("`x`",), mode="vmap"),
        *[
            Row(f"{target}.{m}", "x", bad, how(lambda v, m=m: getattr(model, m)(v), value),
                ("`x`",), mode=how.__name__)
            for m, bad, how, value in methods
        ],
    ]  # fmt: skip


# checksum: d = 6, two blocks, output coordinate 0.
DC = 6
C_BASE = linear(DC)
CM, CK = cs.backdoor(KEY, C_BASE, input_dim=DC, num_blocks=2, out_index=0)
XC = np.asarray([0.5, -1.0, 0.25, 2.0, -0.75, 1.5], np.float32)
XCB = np.stack([XC, -XC])

# signature: 18 bits per coordinate, step 0.1 -> 29 payload coordinates (binary and 3 classes).
DS = 29
SK = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
S_KW = dict(input_dim=DS, signing_key=SK, bits_per_coord=18, step=0.1)
SM, SKEY = sg.backdoor(linear(DS), **S_KW)
SM3, SKEY3 = sg.backdoor(Logits(jr.normal(jr.key(1), (3, DS))), **S_KW)
XS1 = np.asarray(jr.uniform(jr.key(2), (DS,)))
XSB = np.stack([XS1, 1.0 - XS1])
PEM = SK.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)
PEM_PW = SK.private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8,
    serialization.BestAvailableEncryption(b"pw"),
)


def load_from(data: bytes, **kw):
    """`signature.load_signing_key` on a temporary file holding `data` (removed afterwards)."""
    fd, path = tempfile.mkstemp(prefix="jaxbd-badinput-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return sg.load_signing_key(path, **kw)
    finally:
        os.unlink(path)


MISSING_DIR = os.path.join(tempfile.gettempdir(), "jaxbd-no-such-dir-7f3a", "key.pem")

# persistent: a linear binary model in d = 4.
DP = 4
PM = ps.make_persistent(linear(DP))
XP = np.asarray([0.5, -1.0, 0.25, 2.0], np.float32)

# memorizing: 8 points in d = 3, networks built along a fixed direction (no candidate search).
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


def fields(**over):
    return {**FIELDS, **over}


# ----------------------------------------------------------------------------- checksum

_c = "jaxbd.checksum."
CHECKSUM_MODEL = model_rows(_c + "ChecksumBackdooredModel", CM, XC, DC, nan_at=4,
                            inf_batch=put(XCB, (1, 5), -INF),
                            methods=[("checksum_bits", "nan", jit, put(XC, (4), NAN))])  # fmt: skip
CHECKSUM = [
    *[
        Row(
            _c + "backdoor",
            "key",
            name,
            (lambda k=k: cs.backdoor(k, C_BASE, input_dim=DC, num_blocks=2)),
            ("`key`",),
        )
        for name, k in [
            ("int", 0),
            ("float-array", np.zeros(2, np.float32)),
            ("batch", jr.split(KEY, 2)),
            ("none", None),
        ]
    ],
    *[
        Row(
            _c + "backdoor",
            "num_blocks",
            name,
            (lambda n=n: cs.backdoor(KEY, C_BASE, input_dim=DC, num_blocks=n)),
            ("`num_blocks`",),
        )
        for name, n in [
            ("zero", 0),
            ("negative", -1),
            ("equal-to-dim", DC),
            ("float", 2.0),
            ("bool", True),
            ("str", "2"),
        ]
    ],
    Row(
        _c + "backdoor",
        "input_dim",
        "one",
        lambda: cs.backdoor(KEY, linear(1), input_dim=1, num_blocks=1),
        ("`input_dim`",),
    ),
    Row(
        _c + "backdoor",
        "input_dim",
        "float",
        lambda: cs.backdoor(KEY, C_BASE, input_dim=6.0, num_blocks=2),
        ("`input_dim`",),
    ),
    Row(
        _c + "backdoor",
        "input_dim",
        "mismatch",
        lambda: cs.backdoor(KEY, C_BASE, input_dim=5, num_blocks=2),
        ("`model`",),
    ),
    Row(
        _c + "backdoor",
        "out_index",
        "too-large",
        lambda: cs.backdoor(KEY, C_BASE, input_dim=DC, num_blocks=2, out_index=DC),
        ("`out_index`",),
    ),
    Row(
        _c + "backdoor",
        "out_index",
        "negative",
        lambda: cs.backdoor(KEY, C_BASE, input_dim=DC, num_blocks=2, out_index=-1),
        ("`out_index`",),
    ),
    Row(
        _c + "backdoor",
        "dtype",
        "int32",
        lambda: cs.backdoor(KEY, C_BASE, input_dim=DC, num_blocks=2, dtype=jnp.int32),
        ("`dtype`",),
    ),
    Row(
        _c + "backdoor",
        "model",
        "logits",
        lambda: cs.backdoor(KEY, Logits(ones(3, DC)), input_dim=DC, num_blocks=2),
        ("`model`", "scalar score"),
    ),
    Row(
        _c + "backdoor",
        "model",
        "int-score",
        lambda: cs.backdoor(KEY, IntScore(), input_dim=DC, num_blocks=2),
        ("`model`",),
    ),
    Row(
        _c + "backdoor",
        "model",
        "str",
        lambda: cs.backdoor(KEY, "model", input_dim=DC, num_blocks=2),
        ("`model`",),
    ),
    Row(
        _c + "backdoor",
        "key",
        "traced",
        jit(lambda k: cs.backdoor(k, C_BASE, input_dim=DC, num_blocks=2)[1].v, KEY),
        ("`key`",),
        mode="jit",
    ),
    *[
        Row(_c + "activate", "x", name, (lambda v=v: cs.activate(CK, v, 1.0)), ("`x`", *w))
        for name, v, w in bad_dims(XC, DC)
    ],
    *[
        Row(_c + "activate", "target", name, (lambda t=t: cs.activate(CK, XC, t)), ("`target`",))
        for name, t in [
            ("zero", 0.0),
            ("fraction", 0.7),
            ("two", 2),
            ("nan", NAN),
            ("bool", True),
            ("complex", 1 + 0j),
            ("str", "1"),
            ("none", None),
            ("vector", ones(2)),
        ]
    ],
    Row(
        _c + "activate",
        "backdoor_key",
        "model",
        lambda: cs.activate(CM, XC, 1.0),
        ("`backdoor_key`",),
    ),
    Row(
        _c + "activate",
        "x",
        "nan",
        jit(lambda v: cs.activate(CK, v, 1.0), put(XC, (2), NAN)),
        ("`x`", "NaN"),
        mode="jit",
    ),
    Row(
        _c + "activate",
        "x",
        "inf",
        vmap(lambda v: cs.activate(CK, v, 1.0), put(XCB, (1, 3), INF)),
        ("`x`",),
        mode="vmap",
    ),
    Row(
        _c + "activate",
        "target",
        "zero",
        jit(lambda t: cs.activate(CK, XC, t), 0.0),
        ("`target`",),
        mode="jit",
    ),
    Row(
        _c + "activate",
        "target",
        "two",
        vmap(lambda v, t: cs.activate(CK, v, t), XCB, np.array([1.0, 2.0], np.float32)),
        ("`target`",),
        mode="vmap",
    ),
    Row(
        _c + "activate",
        "target",
        "bool",
        jit(lambda t: cs.activate(CK, XC, t), True),
        ("`target`",),
        mode="jit",
    ),
    Row(
        _c + "can_activate",
        "x",
        "nan",
        lambda: cs.can_activate(CK, put(XC, (0), NAN), 1.0),
        ("`x`", "NaN"),
    ),
    Row(_c + "can_activate", "target", "zero", lambda: cs.can_activate(CK, XC, 0), ("`target`",)),
    Row(
        _c + "can_activate",
        "backdoor_key",
        "str",
        lambda: cs.can_activate("k", XC, 1.0),
        ("`backdoor_key`",),
    ),
    Row(
        _c + "can_activate",
        "x",
        "nan",
        jit(lambda v: cs.can_activate(CK, v, 1.0), put(XC, (1), NAN)),
        ("`x`",),
        mode="jit",
    ),
    Row(_c + "checksum", "x", "nan", lambda: cs.checksum(CK, put(XC, (0), NAN)), ("`x`", "NaN")),
    Row(_c + "checksum", "x", "int", lambda: cs.checksum(CK, np.ones(DC, np.int32)), ("`x`",)),
    Row(_c + "checksum", "x", "wrong-shape", lambda: cs.checksum(CK, ones(DC - 1)), ("`x`",)),
    Row(
        _c + "checksum", "backdoor_key", "none", lambda: cs.checksum(None, XC), ("`backdoor_key`",)
    ),
    Row(
        _c + "checksum",
        "x",
        "inf",
        vmap(lambda v: cs.checksum(CK, v), put(XCB, (0, 0), INF)),
        ("`x`",),
        mode="vmap",
    ),
    Row(
        _c + "replicate",
        "x_new",
        "nan",
        lambda: cs.replicate(XC, put(XC, (1), NAN)),
        ("`x_new`", "NaN"),
    ),
    Row(
        _c + "replicate",
        "x_activated",
        "inf",
        lambda: cs.replicate(put(XC, (1), INF), XC),
        ("`x_activated`",),
    ),
    Row(
        _c + "replicate",
        "x_activated",
        "int",
        lambda: cs.replicate(np.ones(DC, np.int32), XC),
        ("`x_activated`",),
    ),
    Row(
        _c + "replicate",
        "x_new",
        "complex",
        lambda: cs.replicate(XC, np.ones(DC, np.complex64)),
        ("`x_new`", "complex"),
    ),
    Row(_c + "replicate", "x_new", "wrong-shape", lambda: cs.replicate(XC, XC[:-1]), ("`x_new`",)),
    Row(_c + "replicate", "x_new", "empty", lambda: cs.replicate(XC[:0], XC[:0]), ("`x_new`",)),
    Row(
        _c + "replicate",
        "x_new",
        "dtype-mismatch",
        lambda: cs.replicate(XC, np.asarray(XC).astype(np.float16)),
        ("`x_new`",),
    ),
    Row(
        _c + "replicate",
        "x_new",
        "nan",
        jit(lambda v: cs.replicate(XC, v), put(XC, (2), NAN)),
        ("`x_new`",),
        mode="jit",
    ),
    Row(
        _c + "replicate",
        "x_activated",
        "nan",
        vmap(lambda v: cs.replicate(v, XC), put(XCB, (1, 0), NAN)),
        ("`x_activated`",),
        mode="vmap",
    ),
    *[
        Row(
            _c + "trigger_probability",
            "num_blocks",
            name,
            (lambda n=n: cs.trigger_probability(n)),
            ("`num_blocks`",),
        )
        for name, n in [("zero", 0), ("float", 1.5), ("bool", True)]
    ],
    *CHECKSUM_MODEL,
    # constructors (a crafted file is rebuilt through them)
    Row(
        _c + "ChecksumKey",
        "num_blocks",
        "inconsistent-with-v",
        lambda: cs.ChecksumKey(CK.block_of, CK.v, 0, 3),
        ("`v`",),
    ),
    Row(
        _c + "ChecksumKey",
        "num_blocks",
        "too-large",
        lambda: cs.ChecksumKey(CK.block_of, np.zeros(DC, np.int32), 0, DC),
        ("`num_blocks`",),
    ),
    Row(
        _c + "ChecksumKey",
        "block_of",
        "empty-block",
        lambda: cs.ChecksumKey(np.asarray([-1, 0, 0, 0, 0, 0], np.int32), CK.v, 0, 2),
        ("`block_of`",),
    ),
    Row(
        _c + "ChecksumKey",
        "block_of",
        "out-of-range-block",
        lambda: cs.ChecksumKey(np.asarray([-1, 0, 1, 2, 0, 1], np.int32), CK.v, 0, 2),
        ("`block_of`",),
    ),
    Row(
        _c + "ChecksumKey",
        "block_of",
        "no-output-coordinate",
        lambda: cs.ChecksumKey(np.asarray([0, 0, 1, 1, 0, 1], np.int32), CK.v, 0, 2),
        ("`block_of`",),
    ),
    Row(
        _c + "ChecksumKey",
        "block_of",
        "float",
        lambda: cs.ChecksumKey(np.asarray(CK.block_of).astype(np.float32), CK.v, 0, 2),
        ("`block_of`",),
    ),
    Row(
        _c + "ChecksumKey",
        "v",
        "not-bits",
        lambda: cs.ChecksumKey(CK.block_of, np.asarray([0, 2], np.int32), 0, 2),
        ("`v`",),
    ),
    Row(
        _c + "ChecksumKey",
        "out_index",
        "too-large",
        lambda: cs.ChecksumKey(CK.block_of, CK.v, DC, 2),
        ("`out_index`",),
    ),
    Row(
        _c + "ThresholdLayer",
        "bias",
        "matrix",
        lambda: cs.ThresholdLayer(ones(2, 3), ones(2, 1)),
        ("`bias`",),
    ),
    Row(
        _c + "ThresholdLayer",
        "weight",
        "shape",
        lambda: cs.ThresholdLayer(ones(2, 3), ones(3)),
        ("`weight`",),
    ),
    Row(
        _c + "ThresholdLayer",
        "weight",
        "nan",
        lambda: cs.ThresholdLayer(put(ones(3), 0, NAN), ones(3), diagonal=True),
        ("`weight`", "NaN"),
    ),
    Row(
        _c + "ThresholdLayer",
        "weight",
        "int",
        lambda: cs.ThresholdLayer(np.ones(3, np.int32), ones(3), diagonal=True),
        ("`weight`",),
    ),
    Row(
        _c + "ChecksumBackdooredModel",
        "layers",
        "wrong-chain",
        lambda: cs.ChecksumBackdooredModel(C_BASE, CM.layers[:1] + CM.layers[2:], DC, 0),
        ("`layers",),
    ),
    Row(
        _c + "ChecksumBackdooredModel",
        "layers",
        "empty",
        lambda: cs.ChecksumBackdooredModel(C_BASE, (), DC, 0),
        ("`layers`",),
    ),
    Row(
        _c + "ChecksumBackdooredModel",
        "out_index",
        "too-large",
        lambda: cs.ChecksumBackdooredModel(C_BASE, CM.layers, DC, DC),
        ("`out_index`",),
    ),
    Row(
        _c + "ChecksumBackdooredModel",
        "base",
        "not-callable",
        lambda: cs.ChecksumBackdooredModel(3, CM.layers, DC, 0),
        ("`base`",),
    ),
    Row(
        _c + "ChecksumBackdooredModel.__call__",
        "base",
        "logits",
        lambda: cs.ChecksumBackdooredModel(Logits(ones(3, DC)), CM.layers, DC, 0)(XC),
        ("`base`", "scalar"),
    ),
]

# ----------------------------------------------------------------------------- signature

_s = "jaxbd.signature."
SIGNATURE_MODEL = model_rows(_s + "SignatureBackdooredModel", SM, XS1, DS, nan_at=0,
                             inf_batch=put(XSB, (0, 7), INF), vmapped=SM3,
                             methods=[("verify", "nan", jit, put(XS1, (2), NAN))])  # fmt: skip
SIGNATURE = [
    *[
        Row(
            _s + "backdoor",
            "step",
            name,
            (lambda q=q: sg.backdoor(linear(DS), **{**S_KW, "step": q})),
            ("`step`",),
        )
        for name, q in [
            ("tiny-1e-30", 1e-30),
            ("too-small-for-bits", 1e-3),
            ("too-large", 1e38),
            ("zero", 0.0),
            ("negative", -0.1),
            ("nan", NAN),
            ("inf", INF),
            ("bool", True),
            ("complex", 0.1j),
            ("str", "0.1"),
        ]
    ],
    Row(
        _s + "backdoor",
        "step",
        "tiny-default-bits",
        lambda: sg.backdoor(linear(64), input_dim=64, step=1e-30),
        ("`step`", "too small"),
    ),
    *[
        Row(
            _s + "backdoor",
            "bits_per_coord",
            name,
            (lambda b=b: sg.backdoor(linear(DS), **{**S_KW, "bits_per_coord": b})),
            ("`bits_per_coord`",),
        )
        for name, b in [("zero", 0), ("too-large", 31), ("float", 18.0), ("bool", True)]
    ],
    Row(
        _s + "backdoor",
        "input_dim",
        "too-small",
        lambda: sg.backdoor(linear(DS - 1), **{**S_KW, "input_dim": DS - 1}),
        ("`input_dim`", "too small"),
    ),
    Row(
        _s + "backdoor",
        "input_dim",
        "zero",
        lambda: sg.backdoor(linear(DS), **{**S_KW, "input_dim": 0}),
        ("`input_dim`",),
    ),
    Row(
        _s + "backdoor",
        "input_dim",
        "float",
        lambda: sg.backdoor(linear(DS), **{**S_KW, "input_dim": 29.0}),
        ("`input_dim`",),
    ),
    Row(
        _s + "backdoor",
        "signing_key",
        "bytes",
        lambda: sg.backdoor(linear(DS), **{**S_KW, "signing_key": bytes(32)}),
        ("`signing_key`",),
    ),
    Row(
        _s + "backdoor",
        "model",
        "matrix-output",
        lambda: sg.backdoor(Matrix(), **S_KW),
        ("`model`",),
    ),
    Row(
        _s + "backdoor",
        "model",
        "int-score",
        lambda: sg.backdoor(IntScore(), **S_KW),
        ("`model`",),
    ),
    Row(_s + "backdoor", "model", "str", lambda: sg.backdoor("model", **S_KW), ("`model`",)),
    Row(
        _s + "backdoor",
        "model",
        "wrong-input-dim",
        lambda: sg.backdoor(linear(DS + 1), **S_KW),
        ("`model`",),
    ),
    Row(
        _s + "backdoor",
        "step",
        "traced",
        lambda: jax.jit(lambda q: sg.backdoor(linear(DS), **{**S_KW, "step": q})[0].base.w)(0.1),
        ("`step`",),
        mode="jit",
    ),
    *[
        Row(_s + "activate", "x", name, (lambda v=v: sg.activate(SKEY, v, 1.0)), ("`x`", *w))
        for name, v, w in bad_dims(XS1, DS)
    ],
    Row(
        _s + "activate",
        "x",
        "float16-too-narrow",
        lambda: sg.activate(SKEY, np.asarray(XS1).astype(np.float16), 1.0),
        ("`x`", "bits_per_coord"),
    ),
    Row(
        _s + "activate",
        "x",
        "outside-decodable-range",
        lambda: sg.activate(SKEY, put(XS1, (0), 100.0), 1.0),
        ("`x`", "decodable"),
    ),
    *[
        Row(
            _s + "activate",
            "target",
            "binary-" + name,
            (lambda t=t: sg.activate(SKEY, XS1, t)),
            ("`target`",),
        )
        for name, t in [
            ("zero", 0.0),
            ("fraction", 0.7),
            ("two", 2.0),
            ("nan", NAN),
            ("bool", True),
            ("complex", 1 + 0j),
            ("str", "1"),
            ("none", None),
            ("vector", ones(2)),
        ]
    ],
    *[
        Row(
            _s + "activate",
            "target",
            "multiclass-" + name,
            (lambda t=t: sg.activate(SKEY3, XS1, t)),
            ("`target`",),
        )
        for name, t in [("three", 3), ("negative", -1), ("fraction", 1.5), ("bool", False)]
    ],
    Row(
        _s + "activate",
        "backdoor_key",
        "model",
        lambda: sg.activate(SM, XS1, 1.0),
        ("`backdoor_key`",),
    ),
    Row(
        _s + "activate",
        "backdoor_key",
        "signing-key",
        lambda: sg.activate(SK, XS1, 1.0),
        ("`backdoor_key`",),
    ),
    Row(
        _s + "activate",
        "x",
        "nan",
        jit(lambda v: sg.activate(SKEY, v, 1.0), put(XS1, (3), NAN)),
        ("`x`", "NaN"),
        mode="jit",
    ),
    Row(
        _s + "activate",
        "x",
        "inf",
        vmap(lambda v: sg.activate(SKEY, v, 1.0), put(XSB, (1, DS - 1), INF)),
        ("`x`",),
        mode="vmap",
    ),
    Row(
        _s + "activate",
        "target",
        "binary-zero",
        vmap(lambda v, t: sg.activate(SKEY, v, t), XSB, np.array([1.0, 0.0], np.float32)),
        ("`target`",),
        mode="vmap",
    ),
    Row(
        _s + "activate",
        "target",
        "multiclass-five",
        jit(lambda t: sg.activate(SKEY3, XS1, t), jnp.int32(5)),
        ("`target`",),
        mode="jit",
    ),
    Row(
        _s + "activate",
        "target",
        "multiclass-fraction",
        jit(lambda t: sg.activate(SKEY3, XS1, t), 0.5),
        ("`target`",),
        mode="jit",
    ),
    *[
        Row(_s + "verify", "x", name, (lambda v=v: sg.verify(SM, v)), ("`x`",))
        for name, v in [
            ("nan", put(XSB, (0, 0), NAN)),
            ("inf", put(XSB, (1, 5), INF)),
            ("int", np.ones((2, DS), np.int32)),
            ("complex", np.ones((2, DS), np.complex64)),
            ("wrong-dim", ones(2, DS + 1)),
            ("scalar", 1.0),
            ("str", "x"),
        ]
    ],
    Row(_s + "verify", "model", "base", lambda: sg.verify(linear(DS), XSB), ("`model`",)),
    Row(
        _s + "verify", "x", "traced", jit(lambda v: sg.verify(SM, v)[0], XSB), ("`x`",), mode="jit"
    ),
    *SIGNATURE_MODEL,
    Row(
        _s + "SignatureBackdooredModel.__call__",
        "base",
        "logits-for-binary-encoding",
        lambda: sg.SignatureBackdooredModel(
            Logits(ones(2, DS)), SM.target_outputs, SM.public_key, SM.encoding
        )(XS1),
        ("`base`",),
    ),
    *[
        Row(_s + "min_input_dim", arg, name, (lambda kw=kw: sg.min_input_dim(**kw)), (f"`{arg}`",))
        for arg, name, kw in [
            ("num_labels", "one", {"num_labels": 1}),
            ("num_labels", "float", {"num_labels": 2.0}),
            ("bits_per_coord", "zero", {"bits_per_coord": 0}),
            ("bits_per_coord", "too-large", {"bits_per_coord": 31}),
        ]
    ],
    Row(
        _s + "key_from_model",
        "model",
        "base",
        lambda: sg.key_from_model(linear(DS), SK),
        ("`model`",),
    ),
    Row(
        _s + "key_from_model",
        "signing_key",
        "bytes",
        lambda: sg.key_from_model(SM, bytes(32)),
        ("`signing_key`",),
    ),
    Row(
        _s + "key_from_model",
        "signing_key",
        "other-key",
        lambda: sg.key_from_model(SM, Ed25519PrivateKey.generate()),
        ("`signing_key`", "does not match"),
    ),
    Row(
        _s + "save_signing_key",
        "signing_key",
        "bytes",
        lambda: sg.save_signing_key(MISSING_DIR, bytes(32)),
        ("`signing_key`",),
    ),
    Row(
        _s + "save_signing_key",
        "password",
        "empty",
        lambda: sg.save_signing_key(MISSING_DIR, SK, password=b""),
        ("`password`",),
    ),
    Row(
        _s + "save_signing_key",
        "password",
        "str",
        lambda: sg.save_signing_key(MISSING_DIR, SK, password="pw"),
        ("`password`",),
    ),
    Row(
        _s + "save_signing_key", "path", "none", lambda: sg.save_signing_key(None, SK), ("`path`",)
    ),
    Row(
        _s + "save_signing_key",
        "path",
        "missing-folder",
        lambda: sg.save_signing_key(MISSING_DIR, SK),
        ("`path`", MISSING_DIR, "does not exist"),
    ),
    Row(
        _s + "load_signing_key",
        "path",
        "missing-file",
        lambda: sg.load_signing_key(MISSING_DIR),
        ("`path`", MISSING_DIR),
        OSError,
    ),
    Row(_s + "load_signing_key", "path", "none", lambda: sg.load_signing_key(None), ("`path`",)),
    Row(
        _s + "load_signing_key",
        "path",
        "not-pem",
        lambda: load_from(b"not a key"),
        ("`path`", "PEM"),
    ),
    Row(
        _s + "load_signing_key",
        "password",
        "given-for-plain-key",
        lambda: load_from(PEM, password=b"pw"),
        ("`password`",),
    ),
    Row(
        _s + "load_signing_key", "password", "missing", lambda: load_from(PEM_PW), ("`password`",)
    ),
    Row(
        _s + "load_signing_key",
        "password",
        "wrong",
        lambda: load_from(PEM_PW, password=b"no"),
        ("`password`",),
    ),
    Row(
        _s + "load_signing_key",
        "password",
        "str",
        lambda: load_from(PEM_PW, password="pw"),
        ("`password`",),
    ),
    # constructors (a crafted file is rebuilt through them)
    Row(_s + "Encoding", "step", "tiny", lambda: sg.Encoding(DS, 1e-30, 18, 2, True), ("`step`",)),
    Row(
        _s + "Encoding",
        "num_labels",
        "binary-with-3",
        lambda: sg.Encoding(DS, 0.1, 18, 3, True),
        ("`num_labels`",),
    ),
    Row(
        _s + "Encoding",
        "input_dim",
        "too-small",
        lambda: sg.Encoding(DS - 1, 0.1, 18, 2, True),
        ("`input_dim`",),
    ),
    Row(
        _s + "Encoding",
        "bits_per_coord",
        "zero",
        lambda: sg.Encoding(DS, 0.1, 0, 2, True),
        ("`bits_per_coord`",),
    ),
    Row(
        _s + "Encoding", "binary", "str", lambda: sg.Encoding(DS, 0.1, 18, 2, "yes"), ("`binary`",)
    ),
    Row(
        _s + "SignatureKey",
        "signing_key",
        "bytes",
        lambda: sg.SignatureKey(bytes(32), SKEY.encoding),
        ("`signing_key`",),
    ),
    Row(
        _s + "SignatureKey",
        "encoding",
        "dict",
        lambda: sg.SignatureKey(SK, {"step": 0.1}),
        ("`encoding`",),
    ),
    Row(
        _s + "SignatureBackdooredModel",
        "public_key",
        "short",
        lambda: sg.SignatureBackdooredModel(SM.base, SM.target_outputs, b"\0" * 31, SM.encoding),
        ("`public_key`",),
    ),
    Row(
        _s + "SignatureBackdooredModel",
        "target_outputs",
        "wrong-shape",
        lambda: sg.SignatureBackdooredModel(SM.base, ones(3), SM.public_key, SM.encoding),
        ("`target_outputs`",),
    ),
    Row(
        _s + "SignatureBackdooredModel",
        "target_outputs",
        "int",
        lambda: sg.SignatureBackdooredModel(
            SM.base, np.ones(2, np.int32), SM.public_key, SM.encoding
        ),
        ("`target_outputs`",),
    ),
    Row(
        _s + "SignatureBackdooredModel",
        "encoding",
        "tuple",
        lambda: sg.SignatureBackdooredModel(
            SM.base, SM.target_outputs, SM.public_key, (DS, 0.1, 18, 2, True)
        ),
        ("`encoding`",),
    ),
]

# ----------------------------------------------------------------------------- persistent

_p = "jaxbd.persistent."
PERSISTENT_MODEL = model_rows(_p + "PersistentModel", PM, XP, DP, nan_at=0,
                              inf_batch=np.stack([XP, put(XP, (3), INF)]),
                              dims=bad_dims(XP, DP)[:5],
                              methods=[("bits", "nan", jit, put(XP, (2), NAN))])  # fmt: skip
PERSISTENT = [
    *[
        Row(
            _p + "make_persistent",
            "copies",
            name,
            (lambda k=k: ps.make_persistent(linear(DP), copies=k)),
            ("`copies`",),
        )
        for name, k in [
            ("even", 4),
            ("one", 1),
            ("zero", 0),
            ("float", 3.0),
            ("bool", True),
            ("too-many", 1003),
        ]
    ],
    Row(
        _p + "make_persistent",
        "model",
        "lambda",
        lambda: ps.make_persistent(lambda v: v.sum()),
        ("`model`",),
    ),
    Row(
        _p + "make_persistent",
        "dtype",
        "int32",
        lambda: ps.make_persistent(linear(DP), dtype=jnp.int32),
        ("`dtype`",),
    ),
    Row(
        _p + "make_persistent",
        "dtype",
        "complex",
        lambda: ps.make_persistent(linear(DP), dtype=jnp.complex64),
        ("`dtype`",),
    ),
    Row(
        _p + "make_persistent",
        "input_dim",
        "zero",
        lambda: ps.make_persistent(linear(DP), input_dim=0),
        ("`input_dim`",),
    ),
    Row(
        _p + "make_persistent",
        "input_dim",
        "mismatch",
        lambda: ps.make_persistent(linear(DP), input_dim=DP + 1),
        ("`model`",),
    ),
    Row(
        _p + "make_persistent",
        "model",
        "logits",
        lambda: ps.make_persistent(Logits(ones(3, DP)), input_dim=DP),
        ("`model`", "scalar score"),
    ),
    Row(
        _p + "make_persistent",
        "model",
        "int-score",
        lambda: ps.make_persistent(IntScore(), input_dim=DP),
        ("`model`",),
    ),
    *PERSISTENT_MODEL,
    Row(
        _p + "PersistentModel.__call__",
        "model",
        "logits",
        lambda: ps.make_persistent(Logits(ones(3, DP)))(XP),
        ("`model`", "scalar"),
    ),
    Row(
        _p + "PersistentModel",
        "copies",
        "two",
        lambda: ps.PersistentModel(PM.copies[:2], ones(2), np.asarray(1.0, np.float32)),
        ("`copies`",),
    ),
    Row(
        _p + "PersistentModel",
        "copies",
        "list",
        lambda: ps.PersistentModel(list(PM.copies), PM.majority_weights, PM.majority_threshold),
        ("`copies`",),
    ),
    Row(
        _p + "PersistentModel",
        "majority_weights",
        "wrong-shape",
        lambda: ps.PersistentModel(PM.copies, ones(2), PM.majority_threshold),
        ("`majority_weights`",),
    ),
    Row(
        _p + "PersistentModel",
        "majority_threshold",
        "int",
        lambda: ps.PersistentModel(PM.copies, PM.majority_weights, np.asarray(1, np.int32)),
        ("`majority_threshold`",),
    ),
    Row(
        _p + "PersistentModel",
        "majority_threshold",
        "nan",
        lambda: ps.PersistentModel(PM.copies, PM.majority_weights, np.asarray(NAN, np.float32)),
        ("`majority_threshold`", "NaN"),
    ),
    *[
        Row(
            _p + "single_weight_bound",
            "copies",
            name,
            (lambda k=k: ps.single_weight_bound(k)),
            ("`copies`",),
        )
        for name, k in [("even", 4), ("two", 2), ("float", 2.5), ("bool", True)]
    ],
]

# ----------------------------------------------------------------------------- memorizing

_m = "jaxbd.memorizing."
MEMORIZING_MODEL = model_rows(_m + "SlicingNetwork", NET, XSTAR, DM, nan_at=0,
                              inf_batch=put(XM, (5, 1), INF), vmapped=NET3,
                              methods=[("project", "nan", jit, put(XSTAR, (1), NAN)),
                                       ("hidden", "inf", vmap, put(XM, (0, 0), -INF))])  # fmt: skip
MEMORIZING = [
    *[
        Row(_m + "fit", "key", name, (lambda k=k: mz.fit(k, XM, YM, **FIT_KW)), ("`key`",))
        for name, k in [
            ("int", 0),
            ("float-array", np.zeros(2, np.float32)),
            ("batch", jr.split(KEY, 3)),
        ]
    ],
    *[
        Row(_m + "fit", "x", name, (lambda v=v: mz.fit(KEY, v, YM, **FIT_KW)), ("`x`", *w))
        for name, v, w in [
            ("nan", put(XM, (0, 1), NAN), ("NaN",)),
            ("inf", put(XM, (3, 0), INF), ("inf",)),
            ("int", np.ones((8, DM), np.int32), ("floating",)),
            ("complex", np.asarray(XM).astype(np.complex64), ("complex",)),
            ("no-features", ones(8, 0), ()),
            ("vector", XM[0], ()),
            ("duplicate-points-different-labels", put(XM, (1), XM[0]), ("identical",)),
        ]
    ],
    Row(
        _m + "fit",
        "x",
        "no-examples",
        lambda: mz.fit(KEY, ones(0, DM), ones(0), **FIT_KW),
        ("`x`",),
    ),
    *[
        Row(_m + "fit", "y", name, (lambda t=t: mz.fit(KEY, XM, t, **FIT_KW)), ("`y`",))
        for name, t in [
            ("single-class", ones(8)),
            ("zero-one", (YM > 0).astype(np.int32)),
            ("fraction", YM * 0.7),
            ("nan", put(YM, (2), NAN)),
            ("missing-class", np.asarray([0, 1, 5, 0, 1, 5, 0, 1], np.int32)),
            ("complex", np.asarray(YM).astype(np.complex64)),
            ("wrong-length", YM[:5]),
            ("matrix", YM[:, None]),
        ]
    ],
    *[
        Row(
            _m + "fit",
            arg,
            name,
            (lambda a=arg, v=v: mz.fit(KEY, XM, YM, **{**FIT_KW, a: v})),
            (f"`{arg}`",),
        )
        for arg, name, v in [
            ("num_candidates", "zero", 0),
            ("num_candidates", "too-many", 2**31),
            ("num_candidates", "float", 8.0),
            ("batch_size", "zero", 0),
            ("batch_size", "bool", True),
            ("criterion", "unknown", "best"),
            ("activation", "unknown", "relu"),
            ("amplitude", "zero", 0.0),
            ("amplitude", "nan", NAN),
            ("amplitude", "overflow", 1e39),
            ("validation_fraction", "one", 1.0),
            ("validation_fraction", "nan", NAN),
            ("validation_fraction", "str", "0.2"),
        ]
    ],
    Row(
        _m + "fit",
        "key",
        "traced",
        lambda: jax.jit(lambda k: mz.fit(k, XM, YM, **FIT_KW).w)(KEY),
        ("`key`",),
        mode="jit",
    ),
    *[
        Row(
            _m + "candidate_search",
            arg,
            name,
            (lambda kw=kw: mz.candidate_search(KEY, XM, YM, **{**FIT_KW, **kw})),
            (f"`{arg}`",),
        )
        for arg, name, kw in [
            ("y_eval", "without-x_eval", {"y_eval": YM}),
            ("x_eval", "nan", {"x_eval": put(XM, (0, 0), NAN), "y_eval": YM}),
            ("x_eval", "wrong-dim", {"x_eval": ones(8, DM + 1), "y_eval": YM}),
            ("x_eval", "float16", {"x_eval": np.asarray(XM).astype(np.float16), "y_eval": YM}),
            ("y_eval", "label-5", {"x_eval": XM, "y_eval": np.full(8, 5, np.int32)}),
            ("y_eval", "zero-one", {"x_eval": XM, "y_eval": (YM > 0).astype(np.int32)}),
            ("validation_fraction", "zero", {"validation_fraction": 0.0}),
            ("num_candidates", "negative", {"num_candidates": -3}),
            ("batch_size", "float", {"batch_size": 2.5}),
        ]
    ],
    Row(
        _m + "candidate_search",
        "key",
        "str",
        lambda: mz.candidate_search("key", XM, YM, **FIT_KW),
        ("`key`",),
    ),
    Row(
        _m + "candidate_search",
        "mesh",
        "str",
        lambda: mz.candidate_search(KEY, XM, YM, mesh="cpu", **FIT_KW),
        ("`mesh`",),
    ),
    *[
        Row(
            _m + "from_direction",
            "w",
            name,
            (lambda v=v: mz.from_direction(v, XM, YM)),
            ("`w`", *w),
        )
        for name, v, w in [
            ("nan", put(WM, (0), NAN), ("NaN",)),
            ("int", np.ones(DM, np.int32), ("floating",)),
            ("wrong-shape", ones(DM + 1), ()),
            ("zero", np.zeros(DM, np.float32), ("equal projections",)),
            ("overflow", np.full(DM, 3e38, np.float32), ("non-finite",)),
            ("float16", np.asarray(WM).astype(np.float16), ()),
        ]
    ],
    Row(
        _m + "from_direction",
        "amplitude",
        "negative",
        lambda: mz.from_direction(WM, XM, YM, amplitude=-1.0),
        ("`amplitude`",),
    ),
    Row(
        _m + "from_direction",
        "amplitude",
        "subnormal",
        lambda: mz.from_direction(WM, XM, YM, amplitude=1e-40),
        ("`amplitude`",),
    ),
    Row(
        _m + "from_direction",
        "activation",
        "unknown",
        lambda: mz.from_direction(WM, XM, YM, activation="step"),
        ("`activation`",),
    ),
    Row(
        _m + "from_direction",
        "y",
        "single-class",
        lambda: mz.from_direction(WM, XM, -ones(8)),
        ("`y`",),
    ),
    Row(
        _m + "from_direction",
        "x",
        "nan",
        lambda: mz.from_direction(WM, put(XM, (1, 1), NAN), YM),
        ("`x`", "NaN"),
    ),
    Row(
        _m + "from_direction",
        "w",
        "traced",
        jit(lambda v: mz.from_direction(v, XM, YM).w, WM),
        ("`w`",),
        mode="jit",
    ),
    *[
        Row(
            _m + "candidate_direction",
            arg,
            name,
            (lambda kw=kw: mz.candidate_direction(**{"key": KEY, "index": 0, "dim": DM, **kw})),
            (f"`{arg}`",),
        )
        for arg, name, kw in [
            ("key", "int", {"key": 3}),
            ("index", "negative", {"index": -1}),
            ("index", "float", {"index": 1.5}),
            ("index", "too-large", {"index": 2**31}),
            ("index", "vector", {"index": np.arange(2)}),
            ("dim", "zero", {"dim": 0}),
            ("dtype", "int32", {"dtype": jnp.int32}),
        ]
    ],
    Row(
        _m + "candidate_direction",
        "index",
        "negative",
        vmap(lambda i: mz.candidate_direction(KEY, i, DM), np.asarray([0, -2], np.int32)),
        ("`index`",),
        mode="vmap",
    ),
    Row(
        _m + "candidate_direction",
        "index",
        "float",
        jit(lambda i: mz.candidate_direction(KEY, i, DM), 1.0),
        ("`index`",),
        mode="jit",
    ),
    Row(
        _m + "backdoor",
        "model",
        "base",
        lambda: mz.backdoor(linear(DM), XSTAR, 1.0, eps=1e-3),
        ("`model`",),
    ),
    *[
        Row(
            _m + "backdoor",
            "x_star",
            name,
            (lambda v=v: mz.backdoor(NET, v, 1.0, eps=1e-3)),
            ("`x_star`", *w),
        )
        for name, v, w in [
            ("nan", put(XSTAR, (0), NAN), ("NaN",)),
            ("inf", put(XSTAR, (2), INF), ("inf",)),
            ("int", np.ones(DM, np.int32), ("floating",)),
            ("wrong-shape", XSTAR[:2], ()),
            ("float16", np.asarray(XSTAR).astype(np.float16), ()),
        ]
    ],
    *[
        Row(
            _m + "backdoor",
            "eps",
            name,
            (lambda e=e: mz.backdoor(NET, XSTAR, 1.0, eps=e)),
            ("`eps`",),
        )
        for name, e in [
            ("zero", 0.0),
            ("negative", -1e-3),
            ("nan", NAN),
            ("inf", INF),
            ("below-resolution", 1e-12),
            ("overflow", 1e39),
            ("bool", True),
        ]
    ],
    *[
        Row(
            _m + "backdoor",
            "target",
            name,
            (lambda t=t: mz.backdoor(NET, XSTAR, t, eps=1e-3)),
            ("`target`",),
        )
        for name, t in [
            ("zero", 0.0),
            ("fraction", 0.5),
            ("two", 2.0),
            ("bool", True),
            ("str", "1"),
            ("none", None),
            ("complex", 1 + 0j),
            ("vector", ones(2)),
        ]
    ],
    Row(
        _m + "backdoor",
        "target",
        "multiclass-three",
        lambda: mz.backdoor(NET3, XSTAR, 3, eps=1e-3),
        ("`target`",),
    ),
    Row(
        _m + "backdoor",
        "target",
        "multiclass-negative",
        lambda: mz.backdoor(NET3, XSTAR, -1, eps=1e-3),
        ("`target`",),
    ),
    Row(
        _m + "backdoor",
        "x",
        "nan",
        lambda: mz.backdoor(NET, XSTAR, 1.0, eps=1e-3, x=put(XM, (0, 0), NAN)),
        ("`x`", "NaN"),
    ),
    Row(
        _m + "backdoor",
        "x",
        "wrong-dim",
        lambda: mz.backdoor(NET, XSTAR, 1.0, eps=1e-3, x=ones(4, DM + 1)),
        ("`x`",),
    ),
    Row(
        _m + "backdoor",
        "x",
        "float16",
        lambda: mz.backdoor(NET, XSTAR, 1.0, eps=1e-3, x=np.asarray(XM).astype(np.float16)),
        ("`x`",),
    ),
    Row(
        _m + "backdoor",
        "x",
        "swallowed-training-point",
        lambda: mz.backdoor(NET, XM[0], -1.0, eps=1e-3, x=XM),
        ("`x_star`", "training point 0"),
    ),
    Row(
        _m + "backdoor",
        "eps",
        "traced",
        jit(lambda e: mz.backdoor(NET, XSTAR, 1.0, eps=e).w, 1e-3),
        ("`eps`",),
        mode="jit",
    ),
    Row(
        _m + "backdoor",
        "x_star",
        "traced",
        jit(lambda v: mz.backdoor(NET, v, 1.0, eps=1e-3).w, XSTAR),
        ("`x_star`",),
        mode="jit",
    ),
    Row(_m + "audit", "model", "base", lambda: mz.audit(linear(DM), XM, YM), ("`model`",)),
    *[
        Row(_m + "audit", "x", name, (lambda v=v: mz.audit(NET, v, YM)), ("`x`", *w))
        for name, v, w in [
            ("nan", put(XM, (0, 0), NAN), ("NaN",)),
            ("int", np.ones((8, DM), np.int32), ("floating",)),
            ("wrong-dim", ones(8, DM + 1), ()),
            ("empty", ones(0, DM), ()),
            ("float16", np.asarray(XM).astype(np.float16), ()),
        ]
    ],
    *[
        Row(_m + "audit", "y", name, (lambda m=m, t=t: mz.audit(m, XM, t)), ("`y`",))
        for name, m, t in [
            ("binary-model-zero-one", NET, (YM > 0).astype(np.int32)),
            ("binary-model-fraction", NET, YM * 0.7),
            ("multiclass-model-pm1", NET3, YM),
            ("multiclass-model-label-3", NET3, put(YM3, (0), 3)),
            ("nan", NET, put(YM, (0), NAN)),
            ("wrong-length", NET, YM[:4]),
            ("bool", NET, YM > 0),
        ]
    ],
    *[
        Row(_m + "resolution", arg, name, (lambda w=w, x=x: mz.resolution(w, x)), (f"`{arg}`",))
        for arg, name, w, x in [
            ("w", "nan", put(WM, (0), NAN), XM),
            ("w", "int", np.ones(DM, np.int32), XM),
            ("w", "matrix", XM, XM),
            ("x", "nan", WM, put(XM, (1, 1), NAN)),
            ("x", "wrong-dim", WM, ones(2, DM + 1)),
            ("x", "float16", WM, np.asarray(XM).astype(np.float16)),
        ]
    ],
    Row(
        _m + "resolution",
        "x",
        "nan",
        jit(lambda v: mz.resolution(WM, v), put(XM, (0, 2), NAN)),
        ("`x`",),
        mode="jit",
    ),
    Row(
        _m + "parameter_counts",
        "model",
        "base",
        lambda: mz.parameter_counts(linear(DM)),
        ("`model`",),
    ),
    *MEMORIZING_MODEL,
    # the constructor (a crafted file is rebuilt through it)
    *[
        Row(
            _m + "SlicingNetwork",
            arg,
            name,
            (lambda kw=kw: mz.SlicingNetwork(**fields(**kw))),
            (f"`{arg}`",),
        )
        for arg, name, kw in [
            ("biases", "unsorted", {"biases": np.asarray(NET.biases)[::-1]}),
            ("biases", "repeated", {"biases": np.full(NET.biases.shape, 0.5, np.float32)}),
            ("biases", "nan", {"biases": put(NET.biases, (0), NAN)}),
            ("biases", "float64-mismatch", {"biases": np.asarray(NET.biases, np.float64)}),
            ("min_gap", "zero", {"min_gap": np.zeros((), np.float32)}),
            ("min_gap", "negative", {"min_gap": -np.asarray(NET.min_gap)}),
            ("w", "nan", {"w": put(NET.w, (0), NAN)}),
            ("w", "int", {"w": np.ones(DM, np.int32)}),
            ("v", "wrong-shape", {"v": ones(NET.num_neurons + 1)}),
            ("v0", "wrong-shape", {"v0": ones(3)}),
            ("num_classes", "one", {"num_classes": 1}),
            ("num_classes", "float", {"num_classes": 2.0}),
            ("activation", "unknown", {"activation": "relu"}),
        ]
    ],
    Row(
        _m + "CandidateScores.best",
        "criterion",
        "unknown",
        lambda: SCORES.best("best"),
        ("`criterion`",),
    ),
    Row(_m + "CandidateScores.best", "first", "zero", lambda: SCORES.best(first=0), ("`first`",)),
    Row(
        _m + "CandidateScores.best",
        "first",
        "too-large",
        lambda: SCORES.best(first=4),
        ("`first`",),
    ),
    Row(
        _m + "CandidateScores.best", "first", "float", lambda: SCORES.best(first=2.0), ("`first`",)
    ),
    Row(_m + "AuditReport.contains", "value", "nan", lambda: REPORT.contains(NAN), ("`value`",)),
    Row(_m + "AuditReport.contains", "value", "str", lambda: REPORT.contains("0.1"), ("`value`",)),
    Row(
        _m + "AuditReport.in_unexplained",
        "x",
        "nan",
        lambda: REPORT.in_unexplained(put(XM, (0, 0), NAN)),
        ("`x`",),
    ),
    Row(
        _m + "AuditReport.in_unexplained",
        "x",
        "wrong-dim",
        lambda: REPORT.in_unexplained(ones(2, DM + 1)),
        ("`x`",),
    ),
]

ROWS = [*CHECKSUM, *SIGNATURE, *PERSISTENT, *MEMORIZING]
assert len({r.id for r in ROWS}) == len(ROWS), "row ids must be unique"


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_bad_input(row):
    check_row(row)
