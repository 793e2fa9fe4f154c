"""jaxbd.io against an attacker: crafted files and key material in models (kills and races:
`test_io_kills.py`).

Crafted files are written with valid checksums (an attacker can always recompute them), so
every refusal here comes from the reader's logic, not from the checksums.
"""

import base64
import hashlib
import json
import os
import struct
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from jaxbd import io


HERE = os.path.dirname(__file__)


class Holder(eqx.Module):
    """A user model with innocently named fields."""

    w: jax.Array
    note: str = eqx.field(static=True)
    blob: bytes = eqx.field(static=True)


def _craft(path, tree, *, arrays=(), metas=None, version=None, payload=None):
    """A model file with a hand-written tree and valid checksums."""
    from safetensors.numpy import save as st_save

    version = io.FORMAT_VERSION if version is None else version
    if payload is None:
        payload = st_save({str(i): a for i, a in enumerate(arrays)}) if arrays else b""
    if metas is None:
        metas = [{"shape": list(a.shape), "dtype": a.dtype.name, "stored_dtype": a.dtype.name}
                 for a in arrays]  # fmt: skip
    header = {"format": "jaxbd-model", "format_version": version, "arrays": metas,
              "payload_bytes": len(payload), "payload_sha256": hashlib.sha256(payload).hexdigest(),
              "tree": tree}  # fmt: skip
    h = json.dumps(header).encode() if not isinstance(tree, bytes) else tree
    path.write_bytes(
        struct.pack(">8sHI32s", b"JAXBD\x00MD", version, len(h), hashlib.sha256(h).digest())
        + h + payload
    )  # fmt: skip
    return path


# --------------------------------------------------------------------------- code in files

EVIL_TREES = {
    # format 2 names: registry names only
    "os.system": {"type": "function", "name": "os.system"},
    "builtins.exec": {"type": "function", "name": "builtins.exec"},
    "subprocess.Popen class": {"type": "dataclass", "class": "subprocess.Popen", "fields": {}},
    "unknown package": {"type": "dataclass", "class": "evil_pkg.Model", "fields": {}},
    # Lambda(fn=exec) inside an allowed equinox class: the function is still refused
    "Lambda(exec)": {
        "type": "dataclass",
        "class": "equinox.nn._sequential.Lambda",
        "fields": {"fn": {"type": "function", "name": "builtins.exec"}},
    },  # fmt: skip
    # a dotted walk from an allowed prefix (the format-1 hole): not a registry name
    "jaxbd.io.os.system": {"type": "function", "name": "jaxbd.io.os.system"},
    "jax.version.subprocess": {"type": "function", "name": "jax.version.subprocess.Popen"},
    "a jaxbd function": {"type": "function", "name": "jaxbd.io.write_atomic"},
}
EVIL_V1 = {  # format 1 spelled module and name apart
    "v1 jaxbd.io + os.system": {"type": "function", "module": "jaxbd.io", "name": "os.system"},
    "v1 jax._src.lax.lax + builtins.exec": {
        "type": "function",
        "module": "jax._src.lax.lax",
        "name": "builtins.exec",
    },
    "v1 jax.version + subprocess.Popen": {
        "type": "function",
        "module": "jax.version",
        "name": "subprocess.Popen",
    },
    "v1 class outside": {
        "type": "dataclass",
        "module": "http.server",
        "class": "HTTPServer",
        "fields": {},
    },  # fmt: skip
}


@pytest.mark.parametrize("name", list(EVIL_TREES) + list(EVIL_V1))
def test_code_references_are_refused_without_importing(tmp_path, name):
    io.registered()  # the registry is built from a fixed module list, before any file is read
    tree = EVIL_TREES.get(name) or EVIL_V1[name]
    version = 1 if name in EVIL_V1 else None
    path = _craft(tmp_path / "evil.jaxbd", tree, version=version) if version is None else None
    if version == 1:
        h = json.dumps({"format": "jaxbd-model", "format_version": 1, "arrays": [],
                        "payload_bytes": 0, "payload_sha256": hashlib.sha256(b"").hexdigest(),
                        "tree": tree}).encode()  # fmt: skip
        path = tmp_path / "evil.jaxbd"
        path.write_bytes(struct.pack(">8sHI32s", b"JAXBD\x00MD", 1, len(h),
                                     hashlib.sha256(h).digest()) + h)  # fmt: skip
    before = set(sys.modules)
    with pytest.raises(ValueError, match="not registered"):
        io.load(path)
    assert set(sys.modules) == before  # reading the file imported nothing


def test_crafted_lambda_exec_model_never_runs(tmp_path):
    """The report's exploit: Sequential([Linear(bias = source bytes), Lambda(exec)])."""
    marker = tmp_path / "pwned"
    src = f"open({str(marker)!r}, 'w').write('x')".encode()
    src += b" " * (-len(src) % 4)
    bias = np.frombuffer(src, np.float32).copy()
    tree = {"type": "dataclass", "class": "equinox.nn._sequential.Sequential", "fields": {
        "layers": {"type": "tuple", "items": [
            {"type": "dataclass", "class": "equinox.nn._linear.Linear", "fields": {
                "weight": {"type": "array", "kind": "jax", "index": 0},
                "bias": {"type": "array", "kind": "jax", "index": 1},
                "in_features": {"type": "int", "value": 1},
                "out_features": {"type": "int", "value": bias.size},
                "use_bias": {"type": "bool", "value": True}}},
            {"type": "dataclass", "class": "equinox.nn._sequential.Lambda",
             "fields": {"fn": {"type": "function", "name": "builtins.exec"}}}]}}}  # fmt: skip
    path = _craft(
        tmp_path / "evil.jaxbd", tree, arrays=[np.zeros((bias.size, 1), np.float32), bias]
    )
    with pytest.raises(ValueError, match="builtins.exec.*not registered"):
        io.load(path)
    assert not marker.exists()


def test_registered_user_function_round_trips(tmp_path):
    net = eqx.nn.Lambda(_user_activation)
    with pytest.raises(ValueError, match="registry"):
        io.save(tmp_path / "m.jaxbd", net)  # not registered yet: refused at save time
    io.register(_user_activation)
    io.save(tmp_path / "m.jaxbd", net)
    assert io.load(tmp_path / "m.jaxbd").fn is _user_activation
    with pytest.raises(ValueError, match="already belongs"):
        name = next(k for k, v in io.registered().items() if v is _user_activation)
        io.register(_other_activation, name=name)


def _user_activation(x):
    return jnp.tanh(x) * 2.0


def _other_activation(x):
    return x


# --------------------------------------------------------------------------- malformed files


def _leaf_tree(index=0):
    return {"type": "array", "kind": "numpy", "index": index}


# case -> (shape, dtype, stored_dtype, error) of the one array's metadata; the huge shape's element
# count is far beyond memory (nothing is allocated).
_BAD_META = {
    "huge shape": ([2**40, 2**40], "float32", "float32", "array 0"),
    "bad dtype": ([6], "save", "float32", "unsupported dtype 'save'"),
    "object dtype": ([6], "object", "object", "unsupported dtype 'object'"),
    "dtype mismatch": ([6], "int32", "int32", "array 0 is float32"),
    "negative shape": ([-6], "float32", "float32", "bad shape"),
}


@pytest.mark.parametrize(
    "case",
    [
        "deep json",
        "deep tree",
        "huge shape",
        "bad dtype",
        "object dtype",
        "dtype mismatch",
        "count mismatch",
        "index out of range",
        "negative shape",
        "not a dict",
        "bool as int",
        "newer version",
    ],  # fmt: skip
)
def test_malformed_files_are_refused_clearly(tmp_path, case):
    a = np.arange(6, dtype=np.float32)
    p = tmp_path / "bad.jaxbd"
    f32 = [{"shape": [6], "dtype": "float32", "stored_dtype": "float32"}]
    if case == "deep json":  # 200,000 nested lists: json's own recursion limit
        tree = b'{"format":"jaxbd-model","format_version":2,"tree":' + b"[" * 200_000
        _craft(p, tree)
        match = "nested too deeply|malformed"
    elif case == "deep tree":
        tree = {"type": "none"}
        for _ in range(150):
            tree = {"type": "list", "items": [tree]}
        _craft(p, tree)
        match = "nested deeper than 100"
    elif case in _BAD_META:  # one array whose metadata (shape, dtype, stored dtype) is wrong
        shape, dtype, stored, match = _BAD_META[case]
        _craft(p, _leaf_tree(), arrays=[a],
               metas=[{"shape": shape, "dtype": dtype, "stored_dtype": stored}])  # fmt: skip
    elif case == "count mismatch":
        _craft(p, _leaf_tree(), arrays=[a], metas=f32 * 2)
        match = "lists 2 arrays but the payload holds 1"
    elif case == "index out of range":
        _craft(p, _leaf_tree(5), arrays=[a], metas=f32)
        match = "index 5 outside"
    elif case == "not a dict":
        _craft(p, b"[1, 2, 3]")
        match = "not a JSON object"
    elif case == "bool as int":
        _craft(p, {"type": "int", "value": "12"})
        match = "int entry holds str"
    else:
        _craft(p, {"type": "none"}, version=io.FORMAT_VERSION + 1)
        match = "upgrade jaxbd"
    with pytest.raises(ValueError, match=match) as e:
        io.load(p)
    assert "\n" not in str(e.value)


def test_class_checks_run_on_load(tmp_path):
    """A crafted RFFClassifier with bandwidth 0 is refused by the class's own __check_init__."""
    from jaxbd import rff

    x = jax.random.normal(jax.random.key(0), (12, 3))
    y = jnp.where(x[:, 0] > 0, 1.0, -1.0)
    model = rff.train(jax.random.key(1), x, y, width=8, bandwidth=2.0, steps=2)
    good = tmp_path / "good.jaxbd"
    io.save(good, model)
    data = good.read_bytes()
    _, _, hlen, _ = struct.unpack_from(">8sHI32s", data)
    header = json.loads(data[46 : 46 + hlen])
    header["tree"]["fields"]["bandwidth"] = {"type": "float", "hex": (0.0).hex()}
    h = json.dumps(header).encode()
    bad = tmp_path / "bad.jaxbd"
    bad.write_bytes(struct.pack(">8sHI32s", b"JAXBD\x00MD", io.FORMAT_VERSION, len(h),
                                hashlib.sha256(h).digest()) + h + data[46 + hlen :])  # fmt: skip
    with pytest.raises(ValueError, match="RFFClassifier refuses the saved values.*bandwidth"):
        io.load(bad)


def test_format1_files_load_through_the_registry():
    tree = io.load(os.path.join(HERE, "data", "format1_model.jaxbd"))
    assert isinstance(tree["mlp"], eqx.nn.MLP) and tree["mlp"].activation is jnp.tanh
    assert tree["bf"].dtype == jnp.bfloat16 and tree["c"].dtype == np.complex128
    assert jax.dtypes.issubdtype(tree["key"].dtype, jax.dtypes.prng_key)
    out = tree["mlp"](jnp.ones(4))
    assert out.shape == (3,) and bool(jnp.all(jnp.isfinite(out)))


# --------------------------------------------------------------------------- key material


def _sk():
    sk = Ed25519PrivateKey.generate()
    io.register_secret(sk)  # what jaxbd.signature does for the keys it creates or is given
    return sk


def _raw(sk):
    return sk.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())  # fmt: skip


def _pem(sk):
    return sk.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()  # fmt: skip


def _der(sk):
    return sk.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip


def _unknown_der():  # a key this process never registered: refused by parsing the DER
    return _der(Ed25519PrivateKey.generate())


# case -> (what to save, where the error must point)
KEY_CASES = {
    "hyperparameter PEM": (lambda sk: dict(model=jnp.ones(2), hyperparameters={"signing_key": _pem(sk)}), "hyperparameters"),
    "hyperparameter nested hex": (lambda sk: dict(model=jnp.ones(2), hyperparameters={"a": [{"b": _raw(sk).hex()}]}), "hyperparameters"),
    "construction PEM": (lambda sk: dict(model=jnp.ones(2), construction=_pem(sk)[:200]), "construction"),
    "static string PEM": (lambda sk: dict(model=Holder(jnp.ones(2), _pem(sk), b"")), "model.note"),
    "static string base64": (lambda sk: dict(model=Holder(jnp.ones(2), base64.b64encode(_raw(sk)).decode(), b"")), "model.note"),
    "bytes raw": (lambda sk: dict(model=Holder(jnp.ones(2), "", _raw(sk))), "model.blob"),
    "bytes DER of unknown key": (lambda sk: dict(model=Holder(jnp.ones(2), "", _unknown_der())), "model.blob"),
    "uint8 array raw": (lambda sk: dict(model=Holder(jnp.asarray(np.frombuffer(_raw(sk), np.uint8)), "", b"")), "model.w"),
    "float32 array raw": (lambda sk: dict(model=Holder(jnp.asarray(np.frombuffer(_raw(sk), np.float32)), "", b"")), "model.w"),
    "array DER": (lambda sk: dict(model=Holder(jnp.asarray(np.frombuffer(_der(sk), np.uint8)), "", b"")), "model.w"),
    "list of PEM": (lambda sk: dict(model=[jnp.ones(2), _pem(sk)]), "model[1]"),
    "private key object": (lambda sk: dict(model={"w": jnp.ones(2), "k": sk}), "model['k']"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(KEY_CASES))
def test_key_material_never_enters_a_model_file(tmp_path, case):
    sk = _sk()
    make, where = KEY_CASES[case]
    kw = make(sk)
    model = kw.pop("model")
    with pytest.raises(ValueError, match="private|backdoor key") as e:
        io.save(tmp_path / "m.jaxbd", model, **kw)
    assert where in str(e.value), str(e.value)
    assert not os.listdir(tmp_path)


def test_signature_backdoor_registers_its_key(tmp_path):
    from helpers import linear

    from jaxbd import signature

    base = linear(64)
    model, key = signature.backdoor(base, input_dim=64)
    leak = Holder(jnp.ones(2), "", _raw(key.signing_key))
    with pytest.raises(ValueError, match="raw private-key bytes"):
        io.save(tmp_path / "m.jaxbd", leak)
    io.save(tmp_path / "m.jaxbd", model)  # the backdoored model itself holds only the public key


def test_backdoor_key_classes_are_recognised_by_type(tmp_path):
    from jaxbd.keys import AbstractBackdoorKey

    class_name_without_key_suffix = type(
        "Trapdoor", (AbstractBackdoorKey,), {"__annotations__": {}}
    )
    assert io.is_backdoor_key(class_name_without_key_suffix())

    class EndsWithKey(eqx.Module):  # a name ending in "Key" is not what makes a backdoor key
        w: jax.Array

    assert not io.is_backdoor_key(EndsWithKey(jnp.ones(1)))
