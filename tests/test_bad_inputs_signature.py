"""Bad inputs to `jaxbd.signature`: every row must raise an error naming the bad argument
(never a silent answer). Rows with mode "jit"/"vmap" pass the bad value traced. The
constructors are covered too (a crafted file is rebuilt through them)."""

import os
import tempfile

import badinput_rows
import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from badinput import Row, jit, vmap
from badinput_rows import IntScore, Logits, bad_dims, cases, model_rows, ones, over, put, table
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from helpers import linear

from jaxbd import signature as sg


NAN, INF = float("nan"), float("inf")


class Matrix(eqx.Module):
    def __call__(self, x):
        return jnp.zeros((2, 2)) * jnp.sum(x)


# 18 bits per coordinate, step 0.1 -> 29 payload coordinates (binary and 3 classes).
DS = 29
SK = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
S_KW = dict(input_dim=DS, signing_key=SK, bits_per_coord=18, step=0.1)
SM, SKEY = sg.backdoor(linear(DS), **S_KW)
SM3, SKEY3 = sg.backdoor(Logits(jr.normal(jr.key(1), (3, DS))), **S_KW)
XS1 = np.asarray(jr.uniform(jr.key(2), (DS,)))
XSB = np.stack([XS1, 1.0 - XS1])
PEM = SK.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
PEM_PW = SK.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8,
                          ser.BestAvailableEncryption(b"pw"))  # fmt: skip
MISSING_DIR = os.path.join(tempfile.gettempdir(), "jaxbd-no-such-dir-7f3a", "key.pem")
TARGETS = [("zero", 0.0), ("fraction", 0.7), ("two", 2.0), ("nan", NAN), ("bool", True),
           ("complex", 1 + 0j), ("str", "1"), ("none", None), ("vector", ones(2))]  # fmt: skip


def load_from(data: bytes, **kw):
    """`signature.load_signing_key` on a temporary file holding `data` (removed afterwards)."""
    fd, path = tempfile.mkstemp(prefix="jaxbd-badinput-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return sg.load_signing_key(path, **kw)
    finally:
        os.unlink(path)


_s = "jaxbd.signature."
activate, activate3 = (lambda t: sg.activate(SKEY, XS1, t)), (lambda t: sg.activate(SKEY3, XS1, t))
ROWS = [
    *table(_s + "backdoor", over(sg.backdoor, linear(DS), **S_KW), {
        "step": [("tiny-1e-30", 1e-30), ("too-small-for-bits", 1e-3), ("too-large", 1e38),
                 ("zero", 0.0), ("negative", -0.1), ("nan", NAN), ("inf", INF), ("bool", True),
                 ("complex", 0.1j), ("str", "0.1")],
        "bits_per_coord": [("zero", 0), ("too-large", 31), ("float", 18.0), ("bool", True)],
        "input_dim": [("zero", 0), ("float", 29.0)],
        "signing_key": [("bytes", bytes(32))],
        "model": [("matrix-output", Matrix()), ("int-score", IntScore()), ("str", "model"),
                  ("wrong-input-dim", badinput_rows.lazy(linear, DS + 1))],
    }),
    Row(_s + "backdoor", "step", "tiny-default-bits",
        lambda: sg.backdoor(linear(64), input_dim=64, step=1e-30), ("`step`", "too small")),
    Row(_s + "backdoor", "input_dim", "too-small",
        lambda: sg.backdoor(linear(DS - 1), **{**S_KW, "input_dim": DS - 1}),
        ("`input_dim`", "too small")),
    *cases(_s + "backdoor", "step",
        lambda q: sg.backdoor(linear(DS), **{**S_KW, "step": q})[0].base.w, [("traced", 0.1)],
        mode="jit"),
    *cases(_s + "activate", "x", lambda v: sg.activate(SKEY, v, 1.0), [
        *bad_dims(XS1, DS), ("float16-too-narrow", XS1.astype(np.float16), "bits_per_coord"),
        ("outside-decodable-range", put(XS1, 0, 100.0), "decodable")]),
    *cases(_s + "activate", "target", activate, [("binary-" + bad, t) for bad, t in TARGETS]),
    *cases(_s + "activate", "target", activate3,
        [("multiclass-three", 3), ("multiclass-negative", -1), ("multiclass-fraction", 1.5),
         ("multiclass-bool", False)]),
    *cases(_s + "activate", "backdoor_key", lambda k: sg.activate(k, XS1, 1.0),
        [("model", SM), ("signing-key", SK)]),
    *cases(_s + "activate", "x", lambda v: sg.activate(SKEY, v, 1.0),
        [("nan", put(XS1, 3, NAN), "NaN")], mode="jit"),
    *cases(_s + "activate", "x", lambda v: sg.activate(SKEY, v, 1.0),
        [("inf", put(XSB, (1, DS - 1), INF))], mode="vmap"),
    Row(_s + "activate", "target", "binary-zero",
        vmap(lambda v, t: sg.activate(SKEY, v, t), XSB, np.array([1.0, 0.0], np.float32)),
        ("`target`",), mode="vmap"),
    *cases(_s + "activate", "target", activate3,
        [("multiclass-five", jnp.int32(5)), ("multiclass-fraction", 0.5)], mode="jit"),
    *table(_s + "verify", over(sg.verify, SM, XSB), {
        "x": [("nan", put(XSB, (0, 0), NAN)), ("inf", put(XSB, (1, 5), INF)),
              ("int", np.ones((2, DS), np.int32)), ("complex", np.ones((2, DS), np.complex64)),
              ("wrong-dim", ones(2, DS + 1)), ("scalar", 1.0), ("str", "x")],
        "model": [("base", badinput_rows.lazy(linear, DS))],
    }),
    *cases(_s + "verify", "x", lambda v: sg.verify(SM, v)[0], [("traced", XSB)], mode="jit"),
    *model_rows(_s + "SignatureBackdooredModel", SM, XS1, DS, nan_at=0,
        inf_batch=put(XSB, (0, 7), INF),
                vmapped=SM3, methods=[("verify", "nan", jit, put(XS1, 2, NAN))]),
    Row(_s + "SignatureBackdooredModel.__call__", "base", "logits-for-binary-encoding",
        lambda: sg.SignatureBackdooredModel(Logits(ones(2, DS)), SM.target_outputs, SM.public_key, SM.encoding)(XS1), ("`base`",)),
    *table(_s + "min_input_dim", sg.min_input_dim, {
        "num_labels": [("one", 1), ("float", 2.0)],
        "bits_per_coord": [("zero", 0), ("too-large", 31)],
    }),
    *table(_s + "key_from_model", over(sg.key_from_model, SM, SK), {
        "model": [("base", badinput_rows.lazy(linear, DS))],
        "signing_key": [("bytes", bytes(32)),
                        ("other-key", Ed25519PrivateKey.generate(), "does not match")],
    }),
    *table(_s + "save_signing_key", over(sg.save_signing_key, MISSING_DIR, SK), {
        "signing_key": [("bytes", bytes(32))],
        "password": [("empty", b""), ("str", "pw")],
        "path": [("none", None), ("missing-folder", MISSING_DIR, MISSING_DIR, "does not exist")],
    }),
    Row(_s + "load_signing_key", "path", "missing-file", lambda: sg.load_signing_key(MISSING_DIR),
        ("`path`", MISSING_DIR), OSError),
    Row(_s + "load_signing_key", "path", "none", lambda: sg.load_signing_key(None), ("`path`",)),
    Row(_s + "load_signing_key", "path", "not-pem", lambda: load_from(b"not a key"),
        ("`path`", "PEM")),
    Row(_s + "load_signing_key", "password", "missing", lambda: load_from(PEM_PW),
        ("`password`",)),
    *cases(_s + "load_signing_key", "password", lambda pw: load_from(PEM, password=pw),
        [("given-for-plain-key", b"pw")]),
    *cases(_s + "load_signing_key", "password", lambda pw: load_from(PEM_PW, password=pw),
        [("wrong", b"no"), ("str", "pw")]),
    # constructors (a crafted file is rebuilt through them)
    *table(_s + "Encoding", over(sg.Encoding, DS, 0.1, 18, 2, True), {
        "step": [("tiny", 1e-30)], "num_labels": [("binary-with-3", 3)],
        "input_dim": [("too-small", DS - 1)], "bits_per_coord": [("zero", 0)], "binary": [("str", "yes")],
    }),
    *table(_s + "SignatureKey", over(sg.SignatureKey, SK, SKEY.encoding), {
        "signing_key": [("bytes", bytes(32))], "encoding": [("dict", {"step": 0.1})],
    }),
    *table(_s + "SignatureBackdooredModel",
        over(sg.SignatureBackdooredModel, SM.base, SM.target_outputs, SM.public_key, SM.encoding),
        {
        "public_key": [("short", b"\0" * 31)],
        "target_outputs": [("wrong-shape", ones(3)), ("int", np.ones(2, np.int32))],
        "encoding": [("tuple", (DS, 0.1, 18, 2, True))],
    }),
]  # fmt: skip

test_bad_input = badinput_rows.bad_input_test(ROWS)
