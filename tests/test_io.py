"""Tests for jaxbd.io: bit-exact round trips, rejection of bad files, atomic writes, key files."""

import os
import stat

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import tree_bitwise_equal
from hypothesis import given, settings, strategies as st

from jaxbd import io


# --------------------------------------------------------------------------- test classes


class Inner(eqx.Module):
    w: jax.Array
    tag: str = eqx.field(static=True)


class Net(eqx.Module):
    """A generic user module: arrays, static values, a nested module, a function, a tuple."""

    w: jax.Array
    b: jax.Array
    inner: Inner
    extra: tuple
    scale: float = eqx.field(static=True)
    depth: int = eqx.field(static=True)
    activation: object = eqx.field(static=True)
    blob: bytes = eqx.field(static=True)

    def __call__(self, x):
        return jnp.sum(self.activation(self.w.reshape(-1)[: x.shape[0]] * x)) + jnp.sum(self.b)


class FakeBackdoorKey(eqx.Module):
    __jaxbd_backdoor_key__ = True
    omega: jax.Array


class HoldsSigningKey(eqx.Module):
    w: jax.Array
    signing_key: bytes = eqx.field(static=True)


USER = (Net, Inner, FakeBackdoorKey, HoldsSigningKey)  # the classes above, opted in by object

DTYPES = ["float32", "float16", "bfloat16", "int32", "int8", "uint8", "bool"]


def _array(seed, shape, dtype):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return jnp.asarray(rng.integers(0, 2, shape).astype(bool))
    if dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)
        return jnp.asarray(rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype))
    a = rng.standard_normal(shape).astype(np.float32) * 100
    return jnp.asarray(a).astype(jnp.dtype(dtype))


def _net(seed=0, shape=(3, 4), dtype="float32"):
    return Net(
        w=_array(seed, shape, dtype),
        b=jnp.asarray([0.5, -1.0], jnp.float32),
        inner=Inner(jnp.arange(5, dtype=jnp.int32), "inner"),
        extra=(np.arange(3, dtype=np.float64), 1.0 / 3.0, None, {"k": 2, "nan": float("nan")}),
        scale=0.1,
        depth=3,
        activation=jax.nn.relu,
        blob=b"\x00\xffpublic",
    )


def _save_load(tmp_path, model, **kw):
    p = tmp_path / "m.jaxbd"
    io.save(p, model, **kw)
    return io.load(p, classes=USER)


def _same(a, b):
    """Bit-exact equality of two trees, static parts included (NaN == NaN)."""
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    if ta != tb or len(la) != len(lb):
        return False
    for x, y in zip(la, lb):
        if type(x) is not type(y):
            return False
        if isinstance(x, (jax.Array, np.ndarray, np.generic)):
            xa, ya = np.asarray(x), np.asarray(y)
            if xa.shape != ya.shape or xa.dtype != ya.dtype or xa.tobytes() != ya.tobytes():
                return False
        elif isinstance(x, float):
            if x.hex() != y.hex():
                return False
        elif x != y:
            return False
    return True


# --------------------------------------------------------------------------- round trips


@settings(deadline=None, max_examples=15)
@given(
    seed=st.integers(0, 2**31 - 1),
    shape=st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple),
    dtype=st.sampled_from(DTYPES),
)
def test_generic_module_round_trip_is_bit_exact(tmp_path_factory, seed, shape, dtype):
    tmp = tmp_path_factory.mktemp("rt")
    net = _net(seed, shape, dtype)
    back = _save_load(tmp, net, construction="user", hyperparameters={"seed": seed})
    assert type(back) is Net and type(back.inner) is Inner
    assert _same(net, back)
    assert back.activation is jax.nn.relu
    assert back.w.dtype == net.w.dtype and back.w.shape == shape
    assert isinstance(back.extra[0], np.ndarray)  # numpy stays numpy
    header = io.read_header(tmp / "m.jaxbd")
    assert header["construction"] == "user" and header["hyperparameters"] == {"seed": seed}
    assert header["format_version"] == io.FORMAT_VERSION
    assert {"shape": list(shape), "dtype": dtype} in [
        {k: m[k] for k in ("shape", "dtype")} for m in header["arrays"]
    ]


def test_float64_and_prng_keys_round_trip(tmp_path, x64):
    tree = {
        "a": jnp.linspace(0.0, 1.0, 7, dtype=jnp.float64),
        "i": jnp.arange(4, dtype=jnp.int64),
        "u": np.array([2**64 - 1], np.uint64),
        "key": jr.key(7),
        "old": jr.PRNGKey(3),
        "scalar": np.float32(2.5),
    }
    back = _save_load(tmp_path, tree)
    assert back["a"].dtype == jnp.float64 and _same(tree["a"], back["a"])
    assert back["u"][0] == 2**64 - 1
    assert jnp.array_equal(jr.key_data(back["key"]), jr.key_data(tree["key"]))
    assert jnp.array_equal(jr.normal(back["key"], (3,)), jr.normal(tree["key"], (3,)))
    assert _same(tree["old"], back["old"]) and back["scalar"] == np.float32(2.5)


def test_equinox_layers_round_trip_and_work(tmp_path, getkey):
    mlp = eqx.nn.MLP(4, 3, 8, 1, activation=jnp.tanh, key=getkey())  # a jitted jnp function
    back = _save_load(tmp_path, mlp)
    assert back.activation is jnp.tanh
    assert tree_bitwise_equal(mlp, back) and _same(mlp, back)
    x = jr.normal(getkey(), (4,))
    assert jnp.array_equal(mlp(x), back(x))
    call = eqx.filter_jit(lambda m, x: m(x))
    assert jnp.array_equal(call(back, x), call(mlp, x))
    xs = jr.normal(getkey(), (5, 4))
    assert jnp.array_equal(jax.vmap(back)(xs), jax.vmap(mlp)(xs))
    leaves = jax.tree_util.tree_structure(eqx.filter(back, eqx.is_array))
    assert leaves == jax.tree_util.tree_structure(eqx.filter(mlp, eqx.is_array))


def test_user_classes_need_opt_in(tmp_path):
    io.save(tmp_path / "m.jaxbd", _net())
    with pytest.raises(ValueError, match="not registered"):
        io.load(tmp_path / "m.jaxbd")
    with pytest.raises(ValueError, match="allow_modules"):
        io.load(tmp_path / "m.jaxbd", allow_modules=(__name__,))
    with pytest.raises(ValueError, match="`classes`"):
        io.load(tmp_path / "m.jaxbd", classes="tests")  # a string is not a sequence of classes
    assert _same(io.load(tmp_path / "m.jaxbd", classes=USER), _net())


def test_unsaveable_things_are_refused(tmp_path):
    class Local(eqx.Module):
        w: jax.Array

    with pytest.raises(ValueError, match="module\nlevel|module level"):
        io.save(tmp_path / "a", Local(jnp.ones(2)))
    with pytest.raises(ValueError, match="(?i)lambdas"):
        io.save(tmp_path / "a", {"f": lambda x: x})
    with pytest.raises(ValueError, match="cannot save"):
        io.save(tmp_path / "a", {"o": object()})
    with pytest.raises(ValueError, match="hyperparameters"):
        io.save(tmp_path / "a", jnp.ones(2), hyperparameters={"bad": object()})
    assert not os.listdir(tmp_path)


# --------------------------------------------------------------------------- bad files


@pytest.fixture
def saved(tmp_path):
    p = tmp_path / "m.jaxbd"
    io.save(p, _net())
    return p


def _expect_bad(path, match):
    with pytest.raises(ValueError, match=match):
        io.load(path, classes=USER)


@pytest.mark.parametrize("frac", [0.0, 0.001, 0.05, 0.3, 0.9, 0.999])
def test_truncated_file_rejected(saved, frac):
    data = saved.read_bytes()
    saved.write_bytes(data[: int(len(data) * frac)])
    _expect_bad(saved, "truncated|not a jaxbd")


def test_corrupted_payload_and_header_rejected(saved):
    data = bytearray(saved.read_bytes())
    bad = bytearray(data)
    bad[-3] ^= 0x01
    saved.write_bytes(bytes(bad))
    _expect_bad(saved, "payload checksum")
    bad = bytearray(data)
    bad[60] ^= 0x20  # inside the JSON header
    saved.write_bytes(bytes(bad))
    _expect_bad(saved, "header checksum")
    saved.write_bytes(bytes(data) + b"\x00")
    _expect_bad(saved, "trailing bytes")
    saved.write_bytes(b"PK\x03\x04 this is a zip, not jaxbd" * 3)
    _expect_bad(saved, "not a jaxbd model file")


@settings(deadline=None, max_examples=40)
@given(position=st.floats(0.0, 1.0, exclude_max=True), bit=st.integers(0, 7))
def test_any_flipped_bit_is_rejected(tmp_path_factory, position, bit):
    p = tmp_path_factory.mktemp("flip") / "m.jaxbd"
    io.save(p, _net())
    data = bytearray(p.read_bytes())
    data[int(position * len(data))] ^= 1 << bit
    p.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted|truncated|not a jaxbd|version|file, not a"):
        io.load(p, classes=USER)


def test_wrong_version_rejected(saved):
    data = bytearray(saved.read_bytes())
    data[8:10] = (io.FORMAT_VERSION + 1).to_bytes(2, "big")
    saved.write_bytes(bytes(data))
    _expect_bad(saved, f"version {io.FORMAT_VERSION + 1}; this jaxbd reads versions")


def test_wrong_kind_rejected(tmp_path, saved):
    with pytest.raises(ValueError, match="model file, not a backdoor-key file.*jaxbd.io.load"):
        io.load_key(saved)
    k = tmp_path / "k.key"
    io.save_key(k, FakeBackdoorKey(jnp.ones(3)))
    with pytest.raises(ValueError, match="backdoor-key file, not a model file.*load_key"):
        io.load(k)
    with pytest.raises(ValueError, match="cannot read"):
        io.load(tmp_path / "missing.jaxbd")


# --------------------------------------------------------------------------- atomic writes


def _listing(d):
    return sorted(os.listdir(d))


def test_failed_serialiser_keeps_previous_file(tmp_path, monkeypatch, saved):
    before = saved.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("safetensors.numpy.save", boom)  # the payload serialiser
    with pytest.raises(RuntimeError, match="disk on fire"):
        io.save(saved, _net(1))
    assert saved.read_bytes() == before
    assert _listing(tmp_path) == ["m.jaxbd"]


def test_failure_mid_write_keeps_previous_file(tmp_path, monkeypatch, saved):
    before = saved.read_bytes()
    calls = []

    def fsync_fails(fd):  # the temp file is fully written, the rename has not happened
        calls.append(fd)
        raise OSError("power cut")

    monkeypatch.setattr(io.os, "fsync", fsync_fails)
    with pytest.raises(OSError, match="power cut"):
        io.save(saved, _net(1))
    assert calls and saved.read_bytes() == before
    assert _listing(tmp_path) == ["m.jaxbd"]  # no temp file left behind
    monkeypatch.undo()
    assert _same(io.load(saved, classes=USER), _net())


# --------------------------------------------------------------------------- keys


def test_key_files_are_private_even_with_open_umask(tmp_path):
    old = os.umask(0)
    try:
        k = tmp_path / "k.key"
        k.write_bytes(b"old, world-readable")
        os.chmod(k, 0o644)
        io.save_key(k, FakeBackdoorKey(jnp.arange(3.0)))
        m = tmp_path / "m.jaxbd"
        io.save(m, jnp.ones(2))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(k).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(m).st_mode) == 0o666  # models are ordinary files
    back = io.load_key(k, classes=USER)
    assert jnp.array_equal(back.omega, jnp.arange(3.0))


def test_key_created_with_private_mode_not_chmod(tmp_path, monkeypatch):
    modes = []
    real_open = io.os.open

    def spy(path, flags, mode=0o777, *a, **k):
        modes.append(mode)
        return real_open(path, flags, mode, *a, **k)

    monkeypatch.setattr(io.os, "open", spy)
    monkeypatch.setattr(io.os, "chmod", lambda *a, **k: pytest.fail("chmod used"))
    io.save_key(tmp_path / "k.key", FakeBackdoorKey(jnp.ones(2)))
    assert modes[0] == 0o600


def test_models_refuse_keys_and_private_material(tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    sk = Ed25519PrivateKey.generate()
    for bad, match in [
        ({"model": jnp.ones(2), "key": FakeBackdoorKey(jnp.ones(2))}, "backdoor key"),
        ((jnp.ones(2), sk), "backdoor key"),
        (HoldsSigningKey(jnp.ones(2), b"\x01" * 32), "private-key material"),
    ]:
        with pytest.raises(ValueError, match=match):
            io.save(tmp_path / "m.jaxbd", bad)
    assert not os.listdir(tmp_path)


def test_ed25519_key_round_trip_as_pem(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    sk = Ed25519PrivateKey.generate()
    key = {"signing_key": sk, "input_dim": 5}
    p = tmp_path / "sig.key"
    io.save_key(p, key, construction="signature")
    back = io.load_key(p)
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert back["signing_key"].public_key().public_bytes(*raw) == sk.public_key().public_bytes(
        *raw
    )
    msg = b"message"
    sk.public_key().verify(back["signing_key"].sign(msg), msg)
    assert b"-----BEGIN PRIVATE KEY-----" in p.read_bytes()  # PKCS8 PEM
    assert io.read_header(p)["construction"] == "signature"
