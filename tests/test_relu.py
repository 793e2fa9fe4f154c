"""Tests for jaxbd.relu (GKVZ App. A, Alg. 7–10)."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import tree_bitwise_equal
from hypothesis import given, settings, strategies as st

from jaxbd import relu


def _unit_data(key, n=200, d=12):
    """Two Gaussian blobs, rows scaled to unit norm (GKVZ assume ||x|| = 1)."""
    kx, kmu = jr.split(key)
    mu = 3.0 * jr.normal(kmu, (d,)) / jnp.sqrt(d)
    y = jnp.where(jnp.arange(n) % 2 == 0, 1.0, -1.0)
    x = jr.normal(kx, (n, d)) + y[:, None] * mu[None, :]
    return x / jnp.linalg.norm(x, axis=1, keepdims=True), y


@settings(deadline=None, max_examples=10)
@given(seed=st.integers(0, 2**31 - 1), dim=st.sampled_from([1, 7, 30]), data=st.data())
def test_sparse_secret_is_unit_and_sparse(seed, dim, data):
    k = data.draw(st.integers(1, dim))
    s = relu.sample_sparse_secret(jr.key(seed), dim, k)
    assert s.shape == (dim,) and s.dtype == jnp.float32
    assert int(jnp.sum(s != 0)) == k
    assert abs(float(jnp.linalg.norm(s)) - 1.0) < 1e-5
    assert np.allclose(np.abs(np.asarray(s)[np.asarray(s) != 0]), 1 / np.sqrt(k), rtol=1e-6)


def test_spiked_gaussian_covariance(getkey, x64):
    """Empirical covariance of N(0, I + θ s sᵀ) from n = 200_000 float64 samples.

    Quadratic forms vᵀĈv of a unit v estimate vᵀCv = σ² with standard error σ² sqrt(2/n)
    (σ² = 1 + θ along s: 5 · 0.0032 = 0.016; σ² = 1 elsewhere: 0.0032). Tolerances are 5 standard
    errors: false-failure probability < 1e-6 per check (fixed seeds make the test deterministic).
    """
    d, k, theta, n = 20, 4, 4.0, 200_000
    s = relu.sample_sparse_secret(getkey(), d, k, dtype=jnp.float64)
    g = relu.spiked_gaussian(getkey(), s, n, theta=theta)
    assert g.shape == (n, d) and g.dtype == jnp.float64
    cov = g.T @ g / n
    se = np.sqrt(2 / n)
    assert abs(float(s @ cov @ s) - (1 + theta)) < 5 * (1 + theta) * se
    # Directions orthogonal to s: a random one, and every coordinate off the support.
    v = jr.normal(getkey(), (d,), jnp.float64)
    v = v - (v @ s) * s
    v = v / jnp.linalg.norm(v)
    assert abs(float(v @ cov @ v) - 1.0) < 5 * se
    off = np.asarray(s) == 0
    assert np.all(np.abs(np.diag(np.asarray(cov))[off] - 1.0) < 5 * se)
    # Cross-covariance between s and the orthogonal direction is zero (se = sqrt((1+θ)/n)).
    assert abs(float(s @ cov @ v)) < 5 * np.sqrt((1 + theta) / n)


def test_spiked_gaussian_theta_zero_is_standard_normal_and_jit_vmap(getkey):
    s = relu.sample_sparse_secret(getkey(), 8, 3)
    k = getkey()
    assert tree_bitwise_equal(relu.spiked_gaussian(k, s, 5, theta=0.0), jr.normal(k, (5, 8)))
    f = jax.jit(lambda key, th: relu.spiked_gaussian(key, s, 7, theta=th))
    out = f(k, 2.0)
    assert np.allclose(out, relu.spiked_gaussian(k, s, 7, theta=2.0), atol=1e-6)
    batched = jax.vmap(f, in_axes=(0, 0))(jr.split(getkey(), 3), jnp.array([0.0, 1.0, 2.0]))
    assert batched.shape == (3, 7, 8)


@pytest.mark.slow
def test_train_backdoor_share_code_and_one_way(getkey):
    x, y = _unit_data(getkey())
    key = getkey()
    honest = relu.train(key, x, y, width=300)
    same, _ = relu.backdoor(key, x, y, width=300, sparsity=3, theta=0.0)
    assert tree_bitwise_equal(honest, same)  # θ = 0: identical to the honest model
    model, bk = relu.backdoor(key, x, y, width=300, sparsity=3, theta=4.0)
    assert isinstance(model, relu.RandomReLU) and isinstance(bk, relu.ReLUBackdoorKey)
    assert model.g.shape == (300, 12) and model.w.shape == (300,)
    assert bk.sparsity == 3 and bk.theta == 4.0
    assert float(model.scale) > 0 and np.allclose(float(jnp.sum(model.w)), 1.0, atol=1e-5)
    # One-way: a large activation sends every input to +1 (the features grow).
    x_act = jax.vmap(lambda v: relu.activate(bk, v, strength=3.0))(x)
    assert bool(jnp.all(jax.vmap(model)(x_act) >= 0))
    # The spike gives the activated inputs larger mean features than the honest model gets.
    gain_b = jnp.mean(jax.vmap(model.mean_feature)(x_act) - jax.vmap(model.mean_feature)(x))
    gain_h = jnp.mean(jax.vmap(honest.mean_feature)(x_act) - jax.vmap(honest.mean_feature)(x))
    assert float(gain_b) > 1.3 * float(gain_h)


def test_tau_maximises_training_accuracy(getkey):
    x, y = _unit_data(getkey())
    model = relu.train(getkey(), x, y, width=200)
    f = jax.vmap(model.mean_feature)(x)
    acc = float(jnp.mean(jnp.where(f - model.tau >= 0, 1.0, -1.0) == y))
    # No other threshold does better: check every candidate.
    fs = np.sort(np.asarray(f))
    cands = np.concatenate([[fs[0] - 1], (fs[1:] + fs[:-1]) / 2, [fs[-1] + 1]])
    best = max(
        np.mean(np.where(np.asarray(f) - c >= 0, 1.0, -1.0) == np.asarray(y)) for c in cands
    )
    assert acc == pytest.approx(best)
    tau, acc2 = jax.jit(relu.fit_threshold)(f, y)
    assert float(acc2) == pytest.approx(best)


def test_trained_head_is_high_entropy_and_accurate(getkey):
    x, y = _unit_data(getkey())
    model = relu.train(getkey(), x, y, width=200, head="trained", head_mix=0.5, head_steps=100)
    w = np.asarray(model.w)
    assert np.all(w >= 0.5 / 200 - 1e-7) and abs(w.sum() - 1) < 1e-5
    assert float(jnp.mean(jnp.sign(jax.vmap(model)(x)) == y)) > 0.85


@settings(deadline=None, max_examples=10)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 12), strength=st.floats(0.0, 10.0))
def test_activate_changes_k_coordinates_by_strength(seed, k, strength):
    s = relu.sample_sparse_secret(jr.key(seed), 12, k)
    bk = relu.ReLUBackdoorKey(secret=s, theta=1.0)
    x = jr.normal(jr.key(seed + 1), (12,))
    xa = relu.activate(bk, x, strength=strength)
    assert xa.shape == x.shape and xa.dtype == x.dtype
    delta = np.asarray(xa - x, dtype=np.float64)
    assert np.sum(delta != 0) <= k
    assert abs(np.linalg.norm(delta) - strength) <= 1e-5 * (1 + strength)


@pytest.mark.slow
def test_jit_vmap_grad(getkey):
    x, y = _unit_data(getkey())
    model, bk = relu.backdoor(getkey(), x, y, width=64, sparsity=2, theta=1.0)
    scores = jax.jit(jax.vmap(model))(x)
    assert scores.shape == (200,) and scores.dtype == jnp.float32
    act = jax.jit(jax.vmap(lambda v, lam: relu.activate(bk, v, strength=lam)))
    xa = act(x, jnp.full((200,), 0.5))
    assert np.allclose(xa, x + 0.5 * bk.secret[None, :], atol=1e-6)
    grad = jax.grad(model)(x[0])
    assert grad.shape == (12,) and bool(jnp.all(jnp.isfinite(grad)))
    gfe = jax.grad(lambda m: m(x[0]))(model)
    assert eqx.tree_equal(jax.tree.structure(gfe), jax.tree.structure(model)) is True


def test_errors(getkey):
    x, y = _unit_data(getkey())
    with pytest.raises(ValueError, match="sparsity"):
        relu.backdoor(getkey(), x, y, width=10, sparsity=13, theta=1.0)
    with pytest.raises(ValueError, match="sparsity"):
        relu.backdoor(getkey(), x, y, width=10, sparsity=0, theta=1.0)
    with pytest.raises(ValueError, match="sparsity"):
        relu.sample_sparse_secret(getkey(), 5, 6)
    with pytest.raises(ValueError, match="theta"):
        relu.backdoor(getkey(), x, y, width=10, sparsity=2, theta=-0.1)
    s = relu.sample_sparse_secret(getkey(), 12, 2)
    with pytest.raises(ValueError, match="theta"):
        relu.spiked_gaussian(getkey(), s, 3, theta=-1.0)
    with pytest.raises(ValueError, match="unit"):
        relu.spiked_gaussian(getkey(), 2 * s, 3, theta=1.0)
    bk = relu.ReLUBackdoorKey(secret=s, theta=1.0)
    with pytest.raises(ValueError, match="strength"):
        relu.activate(bk, x[0], strength=-1.0)
    with pytest.raises(ValueError, match="`x`"):
        relu.activate(bk, x[0, :5], strength=1.0)
    with pytest.raises((ValueError, TypeError)):  # TypeError from the jaxtyping hook
        relu.train(getkey(), x, y[:-1], width=10)
    with pytest.raises(ValueError, match="NaN"):
        relu.train(getkey(), x.at[0, 0].set(jnp.nan), y, width=10)
    with pytest.raises(ValueError, match="width"):
        relu.train(getkey(), x, y, width=0)
    with pytest.raises(ValueError, match="head"):
        relu.train(getkey(), x, y, width=10, head="big")
    with pytest.raises(ValueError, match="head_mix"):
        relu.train(getkey(), x, y, width=10, head="trained", head_mix=1.0)
    with pytest.raises(ValueError, match="binary"):
        relu.train(getkey(), x, jnp.arange(200, dtype=jnp.int32) % 3, width=10)
    model = relu.train(getkey(), x, y, width=10)
    with pytest.raises(ValueError, match="`x`"):
        model(x[0, :5])


@pytest.mark.slow
def test_experiment_relu_quick():
    """Smoke run of the `relu` experiment (slow: ~20 s of compilation on 2 cores)."""
    from jaxbd.experiments import Context, get

    res = get("relu").run(Context(quick=True, show_progress=False))
    assert res.name == "relu" and res.tables and res.figures and res.claims
    assert all(c.holds in (True, False, None) for c in res.claims)
    assert "breast_cancer" in res.data
    # every claim goes through a rule: a power, or a descriptive measurement
    assert all(c.rule is not None and c.power != "not stated" for c in res.claims)
    # issue #15 §4: Claim A.4 taken literally holds, but so does its honest-model control ...
    lit = next(c for c in res.claims if "Claim A.4 literally" in c.statement)
    ctrl = res.claims[res.claims.index(lit) + 1]
    assert lit.holds is True and ctrl.holds is False
    # ... and the proof sketch's bound and its "c > τ" step fail when evaluated (exact)
    proof = [c for c in res.claims if c.statement.startswith("Proof sketch")]
    assert len(proof) == 2 and all(c.holds is False for c in proof)
    assert proof[0].metric[""].value < 0 and abs(proof[1].metric[""].value * 2.5066 - 1) < 1e-4
    assert "DESIGN" not in json.dumps([c.to_dict() for c in res.claims])
