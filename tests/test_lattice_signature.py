"""Tests for jaxbd.lattice_signature (GKVZ Thm 5.4 with App. C: lattice signatures verified by a
perceptron/sine network). Fast parameters ("toy", INSECURE) unless a test says otherwise."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import Logits, bad_input, batched, linear, logits
from signature_checks import check_binary_activation

from jaxbd import io, lattice_signature as ls
from jaxbd.lattice_signature import _scheme, _security


D, C = 256, 10


@pytest.fixture(scope="module")
def multi():
    base = logits(C, D)
    bm, bk = ls.backdoor(jr.key(1), base, input_dim=D, params="toy")
    return base, bm, bk


@pytest.fixture(scope="module")
def binary():
    base = linear(D)
    bm, bk = ls.backdoor(jr.key(2), base, input_dim=D, params="toy")
    return base, bm, bk


@eqx.filter_jit
def _verify(model, x):
    return jax.vmap(model.verify)(x)[0] > 0.5


def _activate_batch(bk, x, targets):
    return jax.jit(jax.vmap(lambda z, t: ls.activate(bk, z, t)))(x, targets)


def _has_callback(jaxpr) -> bool:
    for eqn in jaxpr.eqns:
        if "callback" in eqn.primitive.name:
            return True
        for v in eqn.params.values():
            subs = v if isinstance(v, (list, tuple)) else [v]
            for s in subs:
                inner = getattr(s, "jaxpr", None)
                if inner is not None and _has_callback(getattr(inner, "jaxpr", inner)):
                    return True
    return False


@pytest.mark.slow
def test_activation_gives_every_target_and_sizes(multi):
    base, bm, bk = multi
    enc = bk.encoding
    x = jr.uniform(jr.key(3), (2 * C, D))
    x = x.at[0].set(1.0).at[1].set(0.0)  # the corners of the cube
    targets = jnp.arange(2 * C) % C
    xa = _activate_batch(bk, x, targets)
    assert xa.shape == x.shape and xa.dtype == x.dtype
    assert jnp.array_equal(jnp.argmax(batched(bm, xa), -1), targets)
    ok, t = ls.verify_reference(bk, np.asarray(xa))
    assert ok.all() and np.array_equal(t, np.asarray(targets))
    one = ls.activate(bk, x[2], 2)  # concrete path; signing is deterministic
    assert jnp.array_equal(one, xa[2]) and jnp.array_equal(one, ls.activate(bk, x[2], 2))
    m = enc.payload_coords
    delta = np.abs(np.asarray(xa, np.float64) - np.asarray(x, np.float64))
    assert delta[:, :m].max() < 2.0**-enc.coarse_bits
    assert delta[:, m:].max() <= 2.0 ** -(enc.grid_bits + 1)
    assert enc.is_canonical(np.asarray(xa)).all() and not enc.is_canonical(np.asarray(x)).any()


def test_activation_binary(binary):
    check_binary_activation(_activate_batch, binary, jr.key(4), D)


def test_pure_jax_jit_vmap_grad_no_callback(multi):
    base, bm, bk = multi
    x = jr.uniform(jr.key(5), (4, D))
    xa = _activate_batch(bk, x, jnp.array([1, 2, 3, 4]))
    jaxpr = jax.make_jaxpr(jax.vmap(bm))(x)
    assert not _has_callback(jaxpr.jaxpr)
    assert not _has_callback(jax.make_jaxpr(bm.verify)(x[0]).jaxpr)
    assert _has_callback(jax.make_jaxpr(lambda z: ls.activate(bk, z, 1))(x[0]).jaxpr)  # control
    grad = eqx.filter_jit(lambda m, z: jax.grad(lambda w: jnp.sum(jax.vmap(m)(w) ** 2))(z))
    g, gb = grad(bm, x), grad(base, x)
    assert jnp.allclose(g, gb, rtol=1e-6, atol=1e-6)
    assert jnp.all(grad(bm, xa) == 0)  # the backdoor output is a constant
    gm = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum(jax.vmap(m)(x) ** 2)))(bm)
    assert jnp.all(gm.target_outputs == 0)  # verification-path weights get no gradient


def _tampered(bk, x, xa, z, seed):
    """Inputs that must be rejected: bit flips everywhere, ulps, replay, transplant, random."""
    enc = bk.encoding
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    xa_n, x_n, z_n = np.asarray(xa), np.asarray(x), np.asarray(z)
    bits = enc.to_bits(enc.grid(xa_n))
    out = {}
    for name, idx in (
        ("signature bit", enc.signature_index),
        ("target bit", enc.target_index),
        ("padding bit", enc.padding_index),
        ("message bit", enc.message_index),
    ):
        if idx.size == 0:
            continue
        b = bits.copy()
        b[np.arange(n), idx[rng.integers(0, idx.size, n)]] ^= 1
        out[name] = enc.centres(enc.from_bits(b), np.float32)
    j = rng.integers(0, enc.input_dim, n)
    up = xa_n.copy()
    up[np.arange(n), j] = np.nextafter(up[np.arange(n), j], np.float32(2))
    out["one ulp"] = up
    out["replay x' - x onto z"] = np.clip(z_n + (xa_n - x_n), 0, 1)
    bz = enc.to_bits(enc.grid(z_n))  # transplant the whole payload of x' onto z's grid
    bz[:, enc.signature_index] = bits[:, enc.signature_index]
    bz[:, enc.target_index] = bits[:, enc.target_index]
    bz[:, enc.padding_index] = bits[:, enc.padding_index]
    out["transplant"] = enc.centres(enc.from_bits(bz), np.float32)
    rb = bits.copy()
    rb[:, enc.signature_index] = rng.integers(0, 2, (n, enc.signature_bits))
    out["random signature"] = enc.centres(enc.from_bits(rb), np.float32)
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_exact_acceptance_and_rejection(multi, seed):
    base, bm, bk = multi
    k1, k2, k3 = jr.split(jr.key(10 + seed), 3)
    x, z = jr.uniform(k1, (12, D)), jr.uniform(k2, (12, D))
    targets = jr.randint(k3, (12,), 0, C)
    xa = _activate_batch(bk, x, targets)
    assert jnp.all(_verify(bm, xa))
    for name, xt in _tampered(bk, x, xa, z, seed).items():
        xt = jnp.asarray(xt, jnp.float32)
        assert not jnp.any(_verify(bm, xt)), name
        assert not ls.verify_reference(bk, np.asarray(xt))[0].any(), name
        assert jnp.array_equal(batched(bm, xt), batched(base, xt)), name
    # A different key's signature (wrong-key control) is rejected.
    _, other = ls.backdoor(jr.key(99), bm.base, input_dim=D, params="toy")
    assert not jnp.any(_verify(bm, _activate_batch(other, x, targets)))


@pytest.mark.slow
def test_black_box_equality_on_many_inputs(multi):
    base, bm, bk = multi
    enc = bk.encoding
    rng = np.random.default_rng(0)
    grid_u = rng.integers(0, 1 << enc.grid_bits, (3000, D))
    x = jnp.concatenate(
        [
            jr.uniform(jr.key(6), (6000, D)),
            jnp.round(jr.uniform(jr.key(7), (3000, D)) * 16) / 16,  # digits-like values
            jnp.asarray(enc.centres(grid_u, np.float32)),  # canonical, random payload
            jnp.zeros((1, D)),
            jnp.ones((1, D)),
            jr.normal(jr.key(8), (1000, D)),
        ]
    )
    assert jnp.array_equal(batched(bm, x), batched(base, x))
    nan = x[:2].at[:, 5].set(jnp.nan)  # no value checks in the model: NaN gets base(x)
    assert not jnp.any(_verify(bm, nan))


def test_scheme_exact_and_deterministic():
    p = ls.PARAMETER_SETS["toy"]
    rng = np.random.default_rng(0)
    pub = _scheme.keygen(rng, p)
    sampler = _scheme.PreimageSampler(p, pub["a_hat"], pub["a_gadget"], pub["r"])
    msg = rng.integers(0, 2, p.message_bits)
    e = _scheme.sign(p, sampler, pub, b"s" * 32, msg)
    assert _scheme.check_signature(p, pub, msg, e)
    assert np.array_equal(e, _scheme.sign(p, sampler, pub, b"s" * 32, msg))
    assert not np.array_equal(e, _scheme.sign(p, sampler, pub, b"t" * 32, msg))
    for i in (0, p.message_bits - 1):
        other = msg.copy()
        other[i] ^= 1
        assert not _scheme.check_signature(p, pub, other, e)
    for j in (0, p.base_entries, p.entries - 1):
        bad = e.copy()
        bad[j] += 1
        assert not _scheme.check_signature(p, pub, msg, bad)
    bits = _scheme.entries_to_bits(e, p.entry_bits)
    assert np.array_equal(_scheme.bits_to_entries(bits, p.entry_bits), e)
    target = rng.integers(0, p.q, p.n)
    e0 = sampler.sample(rng, target)
    assert np.array_equal(sampler.apply(e0), target)


@pytest.mark.slow
def test_preimages_do_not_reveal_the_trapdoor():
    """MP12's perturbation makes preimages spherical: along R's top singular direction and
    along a direction R maps to zero, the variance is σ² (without the perturbation it would be
    ≈ s_G² s1(R)² resp. 0). 4000 draws: each ratio has std ≈ sqrt(2/4000) = 2.2%, so the
    ±12% window fails with probability < 1e-6."""
    p = ls.PARAMETER_SETS["toy"]
    rng = np.random.default_rng(1)
    pub = _scheme.keygen(rng, p)
    sampler = _scheme.PreimageSampler(p, pub["a_hat"], pub["a_gadget"], pub["r"])
    target = rng.integers(0, p.q, p.n)
    e = np.stack([sampler.sample(rng, target) for _ in range(4000)]).astype(np.float64)
    e -= e.mean(0)
    t = np.concatenate([pub["r"].astype(np.float64), np.eye(p.w)])  # [R; I]
    top = np.linalg.svd(t, full_matrices=False)[0][:, 0]
    null = np.concatenate([np.eye(p.mbar)[:, 0], -pub["r"][0].astype(np.float64)])
    null /= np.linalg.norm(null)
    for v in (top, null):
        ratio = np.mean((e @ v) ** 2) / p.sigma**2
        assert abs(ratio - 1) < 0.12, ratio


def test_security_estimate_recomputed():
    """Recompute the default's estimate independently (core-SVP, module _security)."""

    def delta(b):
        return (b / (2 * math.pi * math.e) * (math.pi * b) ** (1 / b)) ** (1 / (2 * (b - 1)))

    def works(b, n, logq, dim, bound):
        for d in range(n + 1, dim + 1):
            norm = d * math.log2(delta(b)) + n * logq / d
            if norm < logq and norm <= math.log2(bound) + 0.5 * math.log2(d):
                return True
        return False

    p = ls.DEFAULT_PARAMS
    est = ls.security_estimate(p)
    f = est.forgery
    assert f.beta > 40 and works(f.beta, p.n, p.log_q, p.n + p.entries, p.bound)
    assert not works(f.beta - 1, p.n, p.log_q, p.n + p.entries, p.bound)
    assert est.classical_bits == pytest.approx(0.292 * min(a.beta for a in est.attacks))
    assert est.classical_bits >= 100 and est.quantum_bits >= 90
    assert est.public_key_distance_log2 < -50
    mp = p.mbar - p.n  # leftover hash lemma bound, recomputed
    lhs = math.log2(
        2.0 ** (p.n * p.log_q - mp * math.log2(3)) + 2.0 ** (p.n - mp * math.log2(1.8))
    )
    assert est.public_key_distance_log2 == pytest.approx(math.log2(p.w) - 1 + lhs / 2)
    for name in ("toy", "d256", "d784"):  # the small sets are LLL-breakable, and say so
        assert ls.security_estimate(name).forgery.beta == 2
        assert "INSECURE" in ls.PARAMETER_SETS[name].note
    assert _security.root_hermite_factor(2) == 1.0219
    assert ls.min_input_dim("default", 10) > 10_000 and ls.min_input_dim("d784", 10) <= 784


def test_lattice_forgery_opens_toy_network(multi):
    base, bm, bk = multi
    x = jr.uniform(jr.key(12), (D,))
    xf, info = ls.forge(bm, x, 5, block_sizes=(2,))
    assert xf is not None and info["block_size"] == 2
    out = batched(bm, jnp.asarray(xf)[None])
    assert int(jnp.argmax(out[0])) == 5  # the INSECURE toy set is forged by LLL


def test_io_model_saved_key_refused(tmp_path, multi):
    base, bm, bk = multi
    path = tmp_path / "bd.jaxbd"
    io.save(path, bm)
    loaded = io.load(path, classes=(Logits,))
    x = jr.uniform(jr.key(13), (4, D))
    xa = _activate_batch(bk, x, jnp.array([0, 1, 2, 3]))
    assert jnp.array_equal(batched(loaded, xa), batched(bm, xa))
    blob = path.read_bytes()
    assert np.asarray(bk.trapdoor.seed).tobytes() not in blob
    assert np.asarray(bk.trapdoor.r).tobytes() not in blob
    for tree in ((bm, bk), {"m": bm, "t": bk.trapdoor}):
        with pytest.raises(ValueError, match="backdoor key"):
            io.save(tmp_path / "no.jaxbd", tree)
    kpath = tmp_path / "bd.key"
    io.save_key(kpath, bk)
    bk2 = io.load_key(kpath)
    assert isinstance(bk2, ls.LatticeSignatureKey)
    assert jnp.array_equal(ls.activate(bk2, x[0], 7), ls.activate(bk, x[0], 7))
    with pytest.raises(ValueError):
        io.load(kpath)


def test_784_works():
    base = logits(C, 784, seed=14)
    bm, bk = ls.backdoor(jr.key(15), base, input_dim=784, params="d784")
    x = jr.uniform(jr.key(16), (3, 784))
    targets = jnp.array([0, 4, 9])
    xa = _activate_batch(bk, x, targets)
    out = batched(bm, jnp.concatenate([xa, x]))
    assert jnp.array_equal(jnp.argmax(out[:3], -1), targets)
    assert jnp.array_equal(out[3:], batched(base, x))
    size = ls.network_size(bm)
    assert size["units"]["verify_sine"] == 40 and size["depth"] == 8
    ana = ls.verifier_size(bm.params, bm.encoding)
    assert ana["units"] == size["units"] and ana["total_units"] == size["total_units"]
    dense = 40 * (bm.params.entries + 64) * bm.params.entry_bits  # non-zero count: a few
    assert 0.999 * dense <= size["weights"]["verify_sine"] <= dense  # uniform entries are 0


def test_bad_inputs(multi, binary):
    base, bm, bk = multi
    x = jr.uniform(jr.key(17), (D,))
    bad_input(lambda: ls.backdoor(jr.key(0), base, input_dim=D), "input_dim")  # default: ~1.1e4
    bad_input(
        lambda: ls.backdoor(jr.key(0), Logits(jnp.zeros((C, 32))), input_dim=32, params="toy"),
        "input_dim",
    )
    bad_input(lambda: ls.backdoor(jr.key(0), base, input_dim=D, params="nope"), "params")
    bad_input(
        lambda: ls.backdoor(jr.key(0), base, input_dim=D, params="toy", coarse_bits=0),
        "coarse_bits",
    )
    bad_input(lambda: ls.backdoor(0, base, input_dim=D, params="toy"), "key")
    bad_input(
        lambda: ls.backdoor(jr.key(0), lambda z: jnp.zeros((2, 2)), input_dim=D, params="toy"),
        "model",
    )
    assert ls.backdoor(jr.key(0), base, input_dim=D, params="auto")[1].params.name == "d256"
    bad_input(lambda: ls.LatticeParams("bad", n=64, log_q=8), "log_q")
    for bad in (10, -1, 2.5, jnp.array([1, 2]), "a"):
        bad_input(lambda bad=bad: ls.activate(bk, x, bad), "target")
    bad_input(lambda: ls.activate(binary[2], x, 0.0), "target")
    bad_input(lambda: ls.activate(bk, x[:-1], 1), "x")
    bad_input(lambda: ls.activate(bk, x.at[3].set(1.5), 1), "x")
    bad_input(lambda: ls.activate(bk, x.at[3].set(jnp.nan), 1), "NaN")
    bad_input(lambda: ls.activate(bk, jnp.arange(D), 1), "x")
    bad_input(lambda: ls.activate(bm, x, 1), "backdoor_key")
    bad_input(lambda: bm(x[:-1]), "x")
    bad_input(lambda: ls.network_size(base), "network_size|model")
    jitted = eqx.filter_jit(lambda z, t: ls.activate(bk, z, t))
    with pytest.raises(Exception, match="target"):  # eqx.error_if under jit
        jax.block_until_ready(jitted(x, jnp.asarray(12)))
    with pytest.raises(Exception, match=r"\[0, 1\]"):
        jax.block_until_ready(jitted(x.at[0].set(-0.5), jnp.asarray(1)))


@pytest.mark.slow
def test_default_parameters_end_to_end():
    """The ~100-bit default at its minimum input_dim (11101 for a binary task): key generation,
    two activations (the first builds MP12's O(mbar^3) sampler) and the network (~1 min, 2.5 GB)."""
    d = ls.min_input_dim("default", 2)
    base = linear(d)
    bm, bk = ls.backdoor(jr.key(20), base, input_dim=d)
    assert bk.params is ls.DEFAULT_PARAMS
    x = jr.uniform(jr.key(21), (2, d))
    xa = jnp.stack([ls.activate(bk, x[0], 1.0), ls.activate(bk, x[1], -1.0)])
    out = batched(bm, jnp.concatenate([xa, x]))
    assert jnp.array_equal(out[:2], jnp.array([1.0, -1.0]))
    assert jnp.array_equal(out[2:], batched(base, x))
    assert ls.verify_reference(bk, np.asarray(xa))[0].all()


@pytest.mark.slow
def test_experiment_lattice_signature_quick_smoke():
    """The `lattice_signature` experiment runs (quick) and is well-formed."""
    from jaxbd.experiments import Context, ExperimentResult
    from jaxbd.experiments.lattice_signature import run

    res = run(Context(quick=True, show_progress=False))
    assert isinstance(res, ExperimentResult) and res.name == "lattice_signature"
    assert res.tables and len(res.claims) >= 5
    assert all(c.holds in (True, False, None) for c in res.claims)
