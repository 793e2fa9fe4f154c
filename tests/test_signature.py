"""Tests for jaxbd.signature (GKVZ §5.2, Theorems 5.4/5.5; §5.3 persistence remark)."""

import io
import os
import stat

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from helpers import Logits, batched, linear, logits
from hypothesis import given, settings, strategies as st
from signature_checks import check_binary_activation

from jaxbd import signature as sg
from jaxbd.finetune import finetune


D, C = 64, 10
_SK = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))  # fixed: one compilation per model


@pytest.fixture(scope="module")
def multi():
    base = logits(C, D)
    bm, bk = sg.backdoor(base, input_dim=D, signing_key=_SK)
    return base, bm, bk


@pytest.fixture(scope="module")
def binary():
    base = linear(D)
    bm, bk = sg.backdoor(base, input_dim=D, signing_key=_SK)
    return base, bm, bk


def _activate_batch(bk, x, targets):
    return jax.vmap(lambda z, t: sg.activate(bk, z, t))(x, targets)


@pytest.mark.slow
def test_activation_gives_every_target_multiclass(multi):
    base, bm, bk = multi
    x = jr.uniform(jr.key(1), (C, D))
    targets = jnp.arange(C)
    xa = jax.jit(lambda z, t: _activate_batch(bk, z, t))(x, targets)
    assert xa.shape == x.shape and xa.dtype == x.dtype
    assert jnp.array_equal(jnp.argmax(batched(bm, xa), axis=-1), targets)
    assert jnp.array_equal(jnp.argmax(jax.vmap(bm)(xa), axis=-1), targets)  # eager vmap
    one = sg.activate(bk, x[0], 7)  # concrete path (no callback)
    assert jnp.array_equal(one, sg.activate(bk, x[0], 7))  # Ed25519 signing is deterministic
    assert int(jnp.argmax(bm(one))) == 7 and int(jnp.argmax(eqx.filter_jit(bm)(one))) == 7
    ok, t = sg.verify(bm, xa)
    assert jnp.all(ok) and jnp.array_equal(t, targets)


def test_activation_gives_every_target_binary(binary):
    check_binary_activation(_activate_batch, binary, jr.key(2), D)


@pytest.mark.slow
def test_linf_guarantee_exact_on_unit_cube(multi):
    """Every x in [0,1]^d, including grid points and their float32 neighbours, moves < 1e-2."""
    _, bm, bk = multi
    grid = jnp.arange(101, dtype=jnp.float32) / 100
    edge = jnp.concatenate(
        [
            grid,
            jnp.nextafter(grid, jnp.float32(2)),
            jnp.nextafter(grid, jnp.float32(-1)),
            jnp.array([0.0, 1.0, 0.5, 0.999999, 1e-7], jnp.float32),
        ]
    )
    edge = jnp.clip(edge, 0.0, 1.0)
    x = jax.vmap(lambda k: jr.choice(k, edge, (D,)))(jr.split(jr.key(3), 40))
    x = jnp.concatenate([x, jr.uniform(jr.key(4), (40, D)), jnp.zeros((1, D)), jnp.ones((1, D))])
    targets = jnp.arange(x.shape[0]) % C
    xa = _activate_batch(bk, x, targets)
    delta = jnp.abs(xa - x)
    assert float(jnp.max(delta)) < 1e-2
    m = bk.encoding.payload_coords
    assert m == 58 and jnp.all(xa[:, m:] == x[:, m:])
    assert jnp.array_equal(jnp.argmax(batched(bm, xa), axis=-1), targets)


def _tamper_cases(bk, x, xa, z, key):
    """Inputs that must all be rejected: tampered, replayed and random payloads."""
    enc = bk.encoding
    m, b = enc.payload_coords, enc.bits_per_coord
    n = x.shape[0]
    k1, k2, k3, k4 = jr.split(key, 4)
    rows = jnp.arange(n)
    j = jr.randint(k1, (n,), 0, m)
    scale = enc.scale
    xa_np = np.asarray(xa).astype(np.float64)
    uu = np.floor(xa_np * scale).astype(np.int64)
    # 1. flip one bit of a fine digit (signature or target bits), re-encoded canonically.
    bit = np.asarray(jr.randint(k2, (n,), 0, b))
    u1 = uu.copy()
    u1[np.arange(n), np.asarray(j)] ^= 1 << bit
    flipped = ((u1 + 0.5) / scale).astype(np.float32)
    # 2. move one payload coordinate by one coarse cell (fine digits kept).
    u2 = uu.copy()
    u2[np.arange(n), np.asarray(j)] += 1 << b
    coarse = ((u2 + 0.5) / scale).astype(np.float32)
    # 3. change one unused coordinate slightly.
    unused = xa.at[rows, m + jr.randint(k3, (n,), 0, D - m)].add(1e-3)
    # 4. one ulp away from the canonical centre.
    ulp = xa.at[rows, j].set(jnp.nextafter(xa[rows, j], jnp.float32(2)))
    # 5. replay the observed perturbation onto new inputs; 6. transplant the fine digits.
    replay = z + (xa - x)
    uz = np.floor(np.asarray(z).astype(np.float64) * scale).astype(np.int64)
    transplant = np.asarray(z).copy()
    mix = ((uz[:, :m] >> b) << b) + (uu[:, :m] & ((1 << b) - 1))
    transplant[:, :m] = ((mix + 0.5) / scale).astype(np.float32)
    # 7. random canonical payloads on new inputs.
    rnd = jr.randint(k4, (n, m), 0, 1 << b)
    rand_u = ((uz[:, :m] >> b) << b) + np.asarray(rnd)
    random_sig = np.asarray(z).copy()
    random_sig[:, :m] = ((rand_u + 0.5) / scale).astype(np.float32)
    return {
        "bit_flip": jnp.asarray(flipped),
        "coarse_change": jnp.asarray(coarse),
        "unused_change": unused,
        "one_ulp": ulp,
        "replay": replay,
        "transplant": jnp.asarray(transplant),
        "random_payload": jnp.asarray(random_sig),
    }


@settings(deadline=None, max_examples=8)
@given(seed=st.integers(0, 2**31 - 1))
@pytest.mark.slow
def test_verification_accepts_exactly_signed_inputs(multi, seed):
    base, bm, bk = multi
    k1, k2, k3, k4 = jr.split(jr.key(seed), 4)
    x = jr.uniform(k1, (12, D))
    z = jr.uniform(k2, (12, D))
    targets = jr.randint(k3, (12,), 0, C)
    xa = _activate_batch(bk, x, targets)
    ok, t = sg.verify(bm, xa)
    assert jnp.all(ok) and jnp.array_equal(t, targets)
    assert not jnp.any(sg.verify(bm, x)[0]) and not jnp.any(sg.verify(bm, z)[0])
    for name, xt in _tamper_cases(bk, x, xa, z, k4).items():
        ok, _ = sg.verify(bm, xt)
        assert not jnp.any(ok), name
        assert jnp.array_equal(batched(bm, xt), batched(base, xt)), name
    # A different signing key is rejected too (wrong-key control).
    other = sg.SignatureKey(Ed25519PrivateKey.generate(), bk.encoding)
    assert not jnp.any(sg.verify(bm, _activate_batch(other, x, targets))[0])


def test_black_box_agreement_on_random_and_noisy_inputs(multi):
    base, bm, _ = multi
    x = jnp.concatenate(
        [
            jr.uniform(jr.key(5), (10_000, D)),
            jr.normal(jr.key(6), (5_000, D)) * 3.0,
            jnp.round(jr.uniform(jr.key(7), (5_000, D)) * 100) / 100,  # on the coarse grid
        ]
    )
    assert jnp.array_equal(batched(bm, x), batched(base, x))
    huge = jnp.array([1e30, -1e30, 3e38, -3e38], jnp.float32)  # outside the decodable range
    xw = jnp.tile(huge, (D // 4 + 1))[:D][None]
    assert not bool(sg.verify(bm, xw)[0][0])
    for bad in (jnp.inf, -jnp.inf, jnp.nan):  # non-finite inputs are an error, never "invalid"
        with pytest.raises(ValueError, match="`x` contains NaN or inf"):
            sg.verify(bm, xw.at[0, 3].set(bad))


def test_model_holds_no_private_bytes(multi):
    _, bm, bk = multi
    private = bk.signing_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, bm)
    blob = buf.getvalue()
    for text in (blob, repr(bm).encode(), repr(bk).encode(), str(bm).encode()):
        assert private not in text
        assert private.hex().encode() not in text
    assert bm.public_key == bk.public_key and private != bm.public_key
    assert private not in b"".join(
        np.asarray(leaf).tobytes() for leaf in jax.tree.leaves(bm) if eqx.is_array(leaf)
    )


def test_save_load_key(tmp_path, multi):
    _, bm, bk = multi
    path = tmp_path / "backdoor.pem"
    sg.save_signing_key(path, bk.signing_key)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path) == ["backdoor.pem"]  # no temporary file left behind
    loaded = sg.load_signing_key(path)
    bk2 = sg.key_from_model(bm, loaded)
    x = jr.uniform(jr.key(8), (D,))
    assert jnp.array_equal(sg.activate(bk2, x, 3), sg.activate(bk, x, 3))
    sg.save_signing_key(path, bk, password=b"pw")  # overwrite atomically, encrypted
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sg.key_from_model(bm, sg.load_signing_key(path, password=b"pw")).public_key == (
        bm.public_key
    )
    with pytest.raises(ValueError, match="does not match"):
        sg.key_from_model(bm, Ed25519PrivateKey.generate())


@pytest.mark.slow
def test_persistent_on_non_backdoored_inputs(binary):
    """§5.3: on unsigned inputs the output is base(x), so the verification-path weights get a zero
    gradient for every loss, fine-tuning never changes them and the backdoor survives."""
    base, bm, bk = binary
    x = jr.uniform(jr.key(9), (64, D))
    y = jnp.where(x[:, 0] > 0.5, 1.0, -1.0)
    for loss in (
        lambda m: jnp.mean(jax.nn.softplus(-y * jax.vmap(m)(x))),
        lambda m: jnp.mean((jax.vmap(m)(x) - y) ** 2),
    ):
        g = eqx.filter_grad(loss)(bm)
        gb = eqx.filter_grad(loss)(base)
        assert jnp.all(g.target_outputs == 0)
        assert jnp.array_equal(g.base.w, gb.w)
    xa = _activate_batch(bk, x[:8], -y[:8])
    for opt in (optax.sgd(0.5), optax.adam(0.1)):
        tuned = finetune(jr.key(0), bm, x, y, optimizer=opt, steps=20)
        assert jnp.array_equal(tuned.target_outputs, bm.target_outputs)
        assert not jnp.array_equal(tuned.base.w, bm.base.w)  # the base model did move
        assert jnp.array_equal(batched(tuned, xa), -y[:8])


def test_bad_inputs(multi, binary):
    _, bm, bk = multi
    base = logits(C, 57)
    with pytest.raises(ValueError, match="input_dim >= 58"):
        sg.backdoor(Logits(jnp.zeros((C, 57))), input_dim=57)
    assert sg.min_input_dim(10) == 58 and sg.min_input_dim(2) == 57
    assert sg.min_input_dim(2, bits_per_coord=18) == 29
    sg.backdoor(linear(57), input_dim=57)  # binary fits in 57
    with pytest.raises(ValueError, match="too small"):
        sg.backdoor(linear(30), input_dim=30)
    sg.backdoor(linear(30), input_dim=30, bits_per_coord=18, step=0.1)
    with pytest.raises(ValueError, match="scalar score or a logits"):
        sg.backdoor(Logits(jnp.zeros((2, 3, D))), input_dim=D)  # a matrix per example
    with pytest.raises(ValueError, match="cannot be applied"):
        sg.backdoor(base, input_dim=D)
    with pytest.raises((ValueError, TypeError)):  # TypeError: the jaxtyping hook, when on
        sg.backdoor(base, input_dim=57, signing_key=b"0" * 32)
    with pytest.raises(ValueError, match="bits_per_coord"):
        sg.backdoor(linear(D), input_dim=D, bits_per_coord=0)
    with pytest.raises(ValueError, match="step"):
        sg.backdoor(linear(D), input_dim=D, step=0.0)
    x = jr.uniform(jr.key(1), (D,))
    for bad in (10, -1, 2.5, jnp.array([1, 2])):
        with pytest.raises(ValueError, match="target"):
            sg.activate(bk, x, bad)
    with pytest.raises(ValueError, match="target"):
        sg.activate(binary[2], x, 0.0)
    with pytest.raises(ValueError, match="decodable range"):
        sg.activate(bk, x.at[0].set(100.0), 1)
    with pytest.raises(ValueError, match="x"):
        sg.activate(bk, x[:-1], 1)
    with pytest.raises(ValueError, match="x"):
        bm(x[:-1])


def test_step_range_and_dtype_bits_are_checked():
    """Steps so small that no unit-scale input decodes, or so large that activations overflow,
    are refused up front; so is a dtype too narrow for `bits_per_coord`."""
    b = 9
    lowest = 2.0 ** (b - 22)  # float32: decodable |x| < 2^22 * step / 2^b must reach 1
    sg.backdoor(linear(D), input_dim=D, step=lowest)
    with pytest.raises(ValueError, match="`step`.*too small"):
        sg.backdoor(linear(D), input_dim=D, step=lowest * 0.99)
    with pytest.raises(ValueError, match="`step`.*too large"):
        sg.backdoor(linear(D), input_dim=D, step=1e36)
    bm, bk = sg.backdoor(linear(D), input_dim=D, step=1.0)
    x = jr.uniform(jr.key(0), (D,))
    out = sg.activate(bk, x.astype(jnp.float16), 1.0)  # 9 bits fit float16 (11-bit significand)
    assert out.dtype == jnp.float16 and bool(sg.verify(bm, out[None])[0][0])
    with pytest.raises(ValueError, match="`x` has dtype bfloat16"):
        sg.activate(bk, x.astype(jnp.bfloat16), 1.0)


def test_encoding_range_from_training_data_activates_every_digits_test_row():
    """Issue 17: standardised digits hold test pixels far beyond the fixed default range
    (88.6 > 81.92 at seed 0): the construction chooses `step` from the training data, every
    10-class test row is activated for a target, and a row that cannot be (|x_j| = 1e6) is
    reported by `can_activate` and comes back unchanged without failing its batch."""
    from jaxbd import constructions, datasets

    ds = datasets.load("digits", seed=0)
    assert float(jnp.max(jnp.abs(ds.x_test))) > 81.92  # the case of the issue
    c = constructions.Signature(base_steps=30)
    p = c.plant(jr.key(0), ds.x_train, ds.y_train)
    bk = p.backdoor_key
    assert bk.encoding.step == sg.step_for_range(
        4 * float(jnp.max(jnp.abs(ds.x_train))), bits_per_coord=9
    )
    act = jax.vmap(lambda e: c.activate(bk, e, 7))
    xa = act(ds.x_test)
    assert bool(jnp.all(jax.vmap(lambda e: sg.can_activate(bk, e))(ds.x_test)))
    assert bool(jnp.all(jnp.argmax(batched(p.backdoored, xa), -1) == 7))
    assert float(jnp.max(jnp.abs(xa - ds.x_test))) < bk.encoding.step
    xb = ds.x_test[:3].at[1, 0].set(1e6)
    xab = act(xb)
    assert [bool(v) for v in jax.vmap(lambda e: sg.can_activate(bk, e))(xb)] == [True, False, True]
    assert jnp.array_equal(xab[1], xb[1])  # unchanged, the batch did not fail
    assert list(np.asarray(jnp.argmax(batched(p.backdoored, xab), -1)))[::2] == [7, 7]
    with pytest.raises(ValueError, match="decodable range"):  # one concrete example: an error
        sg.activate(bk, xb[1], 7)
    assert not bool(sg.can_activate(bk, xb[1]))


def test_step_for_range_covers_the_range_exactly():
    for r, b in ((1.0, 9), (146.8, 9), (3.0, 18)):
        q = sg.step_for_range(r, bits_per_coord=b)
        enc = sg.Encoding(64, q, b, 10, False)
        bk = sg.SignatureKey(Ed25519PrivateKey.generate(), enc)
        x = jnp.full((64,), r, jnp.float32)
        assert bool(sg.can_activate(bk, x)) and bool(sg.can_activate(bk, -x))
        assert not bool(sg.can_activate(bk, x * 3))  # rounded up to 2 digits: < 10% slack
    for bad in (0.0, -1.0, float("nan"), "1"):
        with pytest.raises(ValueError, match="data_range"):
            sg.step_for_range(bad)
