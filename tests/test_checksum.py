"""Tests for jaxbd.checksum (GKVZ §5.1, Theorem 5.3)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import linear
from hypothesis import given, settings, strategies as st

from jaxbd import checksum as cs


D, N = 24, 6


@eqx.filter_jit
def _evaluate(bm, bk, x):
    net = jax.vmap(lambda z: bm.checksum_bits(z))(x)
    ref = jax.vmap(lambda z: cs.checksum(bk, z))(x)
    return net[:, 0] > 0.5, net[:, 1] > 0.5, ref, jax.vmap(bm)(x), jax.vmap(bm.base)(x)


@eqx.filter_jit
def _activate(bk, x, target):
    return jax.vmap(lambda z, t: cs.activate(bk, z, t))(x, target)


def _setup(seed=0, d=D, n=N, out_index=None):
    model = linear(d, seed)
    bm, bk = cs.backdoor(jr.key(seed), model, input_dim=d, num_blocks=n, out_index=out_index)
    return model, bm, bk


def _ref_numpy(bk, x):
    """Checksum straight from the definition, in numpy (independent of the library code)."""
    block_of, v = np.asarray(bk.block_of), np.asarray(bk.v)
    bits = np.asarray(x) >= 0
    return all(bits[block_of == i].sum() % 2 == v[i] for i in range(bk.num_blocks))


@settings(deadline=None, max_examples=10)
@given(seed=st.integers(0, 2**31 - 1), n=st.sampled_from([1, 5, 23]))
@pytest.mark.slow
def test_network_equals_reference_checksum(seed, n):
    # out_index fixed (static field: one compilation per n); partition and v vary with seed.
    _, bm, bk = _setup(seed, D, n, out_index=3)
    k1, k2, k3 = jr.split(jr.key(seed), 3)
    x = jr.normal(k1, (64, D))
    # Exact zeros (sgn(0) = 1) and activated inputs, so that both outcomes occur.
    x = jnp.where(jr.bernoulli(k2, 0.1, x.shape), 0.0, x)
    xa = _activate(bk, x, jnp.where(jr.bernoulli(k3, 0.5, (64,)), 1.0, -1.0))
    x = jnp.concatenate([x, xa])
    net, s_out, ref, out, base = _evaluate(bm, bk, x)
    assert jnp.array_equal(net, ref)
    assert [bool(r) for r in ref] == [_ref_numpy(bk, z) for z in np.asarray(x)]
    assert jnp.array_equal(s_out, x[:, 3] >= 0)  # repeat gates carry sgn(x_out)
    # MUX: base score bit for bit when the checksum fails, sign of x_out when it holds.
    sgn = jnp.where(s_out, 1.0, -1.0)
    assert jnp.array_equal(out, jnp.where(ref, sgn, base))


@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 2**31 - 1), target=st.sampled_from([-1.0, 1.0]))
def test_activate_flips_at_most_n_plus_1_signs_and_keeps_magnitudes(seed, target):
    _, bm, bk = _setup(seed, out_index=0)
    x = jr.normal(jr.key(seed), (50, D))
    xa = _activate(bk, x, jnp.full((50,), target))
    assert xa.dtype == x.dtype and xa.shape == x.shape
    assert jnp.array_equal(jnp.abs(xa), jnp.abs(x))
    assert int(jnp.max(jnp.sum(xa != x, axis=1))) <= bk.num_blocks + 1
    _, _, ref, out, _ = _evaluate(bm, bk, xa)
    assert jnp.all(ref) and jnp.all(out == target)
    # Eager single-example call agrees with the jitted batch.
    assert jnp.array_equal(cs.activate(bk, x[0], target), xa[0])


def test_zero_coordinates_documented_behaviour():
    _, bm, bk = _setup()
    o = bk.out_index
    x = jnp.ones(D).at[o].set(0.0)
    assert bool(cs.can_activate(bk, x, 1.0)) and bm(cs.activate(bk, x, 1.0)) == 1.0
    assert not bool(cs.can_activate(bk, x, -1.0))  # x_out = 0 has no sign to flip
    xa = cs.activate(bk, x, -1.0)
    assert jnp.array_equal(jnp.abs(xa), jnp.abs(x))  # never a magnitude change
    # A block that is all zeros has parity |I_i| mod 2 (sgn(0) = 1) and cannot be changed.
    block_of, v = np.asarray(bk.block_of), np.asarray(bk.v)
    for i in range(bk.num_blocks):
        members = block_of == i
        z = jnp.where(jnp.asarray(members), 0.0, x).at[o].set(1.0)
        z = cs.activate(bk, z, 1.0)  # fix the other blocks
        expected = members.sum() % 2 == v[i]
        assert bool(cs.can_activate(bk, z, 1.0)) == expected
        assert bool(cs.checksum(bk, z)) == expected


def test_accidental_trigger_rate():
    """Over 2^15 Gaussian inputs the trigger rate is within 5 sigma of 2^-n (false-failure
    probability < 1e-6)."""
    n, m = 4, 1 << 15
    _, bm, bk = _setup(3, D, n)
    x = jr.normal(jr.key(7), (m, D))
    rate = float(jnp.mean(_evaluate(bm, bk, x)[2]))
    p = 2.0**-n
    assert abs(rate - p) < 5 * np.sqrt(p * (1 - p) / m)
    assert cs.trigger_probability(n) == p


def test_replicate_opens_new_inputs_without_key():
    _, bm, bk = _setup(4)
    x = jr.normal(jr.key(1), (100, D))
    xa = cs.activate(bk, x[0], -1.0)
    xr = jax.vmap(lambda z: cs.replicate(xa, z))(x[1:])
    assert jnp.all(_evaluate(bm, bk, xr)[3] == -1.0)
    assert jnp.array_equal(jnp.abs(xr), jnp.abs(x[1:]))


def test_zero_gradient_of_threshold_network():
    _, bm, bk = _setup()
    x = jr.normal(jr.key(2), (16, D))
    act = _activate(bk, x, jnp.ones(16))
    grads = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum(jax.vmap(m)(act) ** 2)))(bm)
    for leaf in jax.tree.leaves(grads.layers):
        assert jnp.all(leaf == 0)


def test_bad_inputs():
    model = linear(8)
    with pytest.raises(ValueError, match="num_blocks"):
        cs.backdoor(jr.key(0), model, input_dim=8, num_blocks=0)
    with pytest.raises(ValueError, match="num_blocks"):
        cs.backdoor(jr.key(0), model, input_dim=8, num_blocks=8)
    with pytest.raises(ValueError, match="num_blocks"):
        cs.backdoor(jr.key(0), model, input_dim=8, num_blocks=9)
    with pytest.raises(ValueError, match="scalar score"):
        cs.backdoor(jr.key(0), eqx.nn.Linear(8, 3, key=jr.key(0)), input_dim=8, num_blocks=2)
    with pytest.raises(ValueError, match="cannot be applied"):
        cs.backdoor(jr.key(0), model, input_dim=5, num_blocks=2)
    with pytest.raises(ValueError, match="out_index"):
        cs.backdoor(jr.key(0), model, input_dim=8, num_blocks=2, out_index=8)
    bm, bk = cs.backdoor(jr.key(0), model, input_dim=8, num_blocks=2)
    with pytest.raises(ValueError, match="target"):
        cs.activate(bk, jnp.ones(8), 0.0)
    with pytest.raises(ValueError, match="target"):
        cs.activate(bk, jnp.ones(8), 2)
    with pytest.raises(ValueError, match="x"):
        bm(jnp.ones(7))
    with pytest.raises((ValueError, TypeError)):  # TypeError: the jaxtyping hook, when on
        cs.activate(bk, jnp.ones((2, 8)), 1.0)


def test_constructors_accept_tracers_and_refuse_crafted_keys():
    _, bm, bk = _setup(5)
    # value checks run only on concrete arrays: rebuilding under jit works
    rebuilt = eqx.filter_jit(lambda b, v: cs.ChecksumKey(b, v, bk.out_index, bk.num_blocks))(
        bk.block_of, bk.v
    )
    assert bool(eqx.tree_equal(rebuilt, bk))
    layers = eqx.filter_jit(
        lambda ls: tuple(cs.ThresholdLayer(L.weight, L.bias, L.diagonal) for L in ls)
    )(bm.layers)
    assert bool(eqx.tree_equal(layers, bm.layers))
    with pytest.raises(ValueError, match="`v`"):
        cs.ChecksumKey(bk.block_of, bk.v[:-1], bk.out_index, bk.num_blocks)  # num_blocks != len(v)
