"""Tests for jaxbd.universality (Chardouvelis–Dao Thm 3.1, the invalidating final layer)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from jaxbd.universality import head_margins, invalidating_head, invalidating_heads


def _check(w, z, zp, target, clean_label, num_classes):
    """Strict argmax conditions, logits in float32 (numpy), with the promised margins."""
    assert w.shape == (num_classes, z.shape[0]) and w.dtype == z.dtype
    w, z, zp = (np.asarray(a, np.float32) for a in (w, z, zp))
    lz, lp = w @ z, w @ zp
    assert lz.dtype == np.float32
    assert int(np.argmax(lp)) != target
    bd_m = np.max(np.delete(lp, target)) - lp[target]
    norm_z, norm_p = float(np.linalg.norm(z)), float(np.linalg.norm(zp))
    # Margins relative to the norms (float32 rounding is ~1e-6 relative: 1e-3 slack is ample).
    assert bd_m >= 0.999 * norm_p > 0  # strict, not a tie
    if clean_label is not None:
        assert int(np.argmax(lz)) == clean_label
        clean_m = lz[clean_label] - np.max(np.delete(lz, clean_label))
        assert clean_m >= 0.999 * norm_z > 0


@st.composite
def _case(draw):
    num_classes = draw(st.integers(3, 12))
    d = draw(st.integers(1, 20))
    target = draw(st.integers(0, num_classes - 1))
    clean = draw(
        st.one_of(st.none(), st.integers(0, num_classes - 1).filter(lambda c: c != target))
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = 10.0 ** draw(st.integers(-6, 6))
    z = scale * rng.standard_normal(d)
    kind = draw(st.sampled_from(["independent", "pos", "neg", "near_pos", "near_neg", "orth"]))
    k = 10.0 ** draw(st.floats(-3, 3))
    if kind == "independent":
        zp = scale * k * rng.standard_normal(d)
    elif kind in ("pos", "neg"):
        zp = (k if kind == "pos" else -k) * z
    elif kind in ("near_pos", "near_neg"):
        eps = 10.0 ** draw(st.integers(-9, -2))
        zp = (k if kind == "near_pos" else -k) * z + eps * k * scale * rng.standard_normal(d)
    else:
        zp = rng.standard_normal(d) * scale
        zp = zp - (zp @ z) / (z @ z) * z if d > 1 else zp
    if not np.any(np.float32(zp) != 0):
        zp = z.copy()
    return (
        jnp.asarray(z, jnp.float32),
        jnp.asarray(zp, jnp.float32),
        target,
        clean,
        num_classes,
    )


@settings(deadline=None, max_examples=120)
@given(_case())
def test_invalidating_head_hypothesis(case):
    z, zp, target, clean, num_classes = case
    w = invalidating_head(z, zp, target, num_classes=num_classes, clean_label=clean)
    _check(w, z, zp, target, clean, num_classes)


@pytest.mark.parametrize("k", [1.0, 3.0, 1e-4, -1.0, -7.5, -1e4])
def test_exactly_collinear(k):
    z = jnp.array([0.3, -1.2, 2.0, 0.0, 5.0], jnp.float32)
    zp = k * z
    for target in range(4):
        for clean in [None] + [c for c in range(4) if c != target]:
            w = invalidating_head(z, zp, target, num_classes=4, clean_label=clean)
            _check(w, z, zp, target, clean, 4)


def test_negation_reverses_ranking_and_head_picks_bottom():
    """z' = -z (Activate-RFF): the attacker's label is argmin of Wz; the head makes it v != t."""
    z = jnp.array([1.0, -2.0, 0.5], jnp.float32)
    w = invalidating_head(z, -z, 0, num_classes=3, clean_label=1)
    assert int(jnp.argmax(w @ z)) == 1
    assert int(jnp.argmax(w @ -z)) == int(jnp.argmin(w @ z)) == 2


def test_zero_z_without_clean_label_and_float64(x64):
    z = jnp.zeros(4, jnp.float64)
    zp = jnp.array([1.0, 0.0, 0.0, 2.0], jnp.float64)
    w = invalidating_head(z, zp, 2, num_classes=3)
    assert w.dtype == jnp.float64
    assert int(jnp.argmax(w @ zp)) != 2


def test_batched_matches_single_and_vmap_jit():
    rng = np.random.default_rng(0)
    z = jnp.asarray(rng.standard_normal((6, 5)), jnp.float32)
    zp = jnp.asarray(rng.standard_normal((6, 5)), jnp.float32).at[0].set(-z[0]).at[1].set(2 * z[1])
    t = jnp.array([0, 1, 2, 3, 0, 1])
    c = jnp.array([1, 2, 3, 0, 2, 0])
    ws = invalidating_heads(z, zp, t, num_classes=4, clean_label=c)
    assert ws.shape == (6, 4, 5)
    for i in range(6):
        single = invalidating_head(z[i], zp[i], int(t[i]), num_classes=4, clean_label=int(c[i]))
        assert np.allclose(ws[i], single, atol=1e-6)
        _check(ws[i], z[i], zp[i], int(t[i]), int(c[i]), 4)
    clean_m, bd_m = jax.jit(jax.vmap(head_margins, in_axes=(0, 0, 0, 0)))(ws, z, zp, t)
    assert bool(jnp.all(clean_m >= 0.999 * jnp.linalg.norm(z, axis=1)))
    assert bool(jnp.all(bd_m >= 0.999 * jnp.linalg.norm(zp, axis=1)))
    w_default = invalidating_heads(z, zp, 0, num_classes=3)
    assert bool(jnp.all(jnp.argmax(jnp.einsum("ncd,nd->nc", w_default, zp), -1) != 0))


def test_errors():
    z = jnp.ones(3, jnp.float32)
    zp = -z
    with pytest.raises(ValueError, match="num_classes"):
        invalidating_head(z, zp, 0, num_classes=2)
    with pytest.raises(ValueError, match="target"):
        invalidating_head(z, zp, 3, num_classes=3)
    with pytest.raises(ValueError, match="target"):
        invalidating_head(z, zp, -1, num_classes=3)
    with pytest.raises(ValueError, match="clean_label"):
        invalidating_head(z, zp, 1, num_classes=3, clean_label=1)
    with pytest.raises(ValueError, match="clean_label"):
        invalidating_head(z, zp, 1, num_classes=3, clean_label=5)
    with pytest.raises((ValueError, TypeError)):  # TypeError: jaxtyping hook
        invalidating_head(z, jnp.ones(4, jnp.float32), 0, num_classes=3)
    with pytest.raises((ValueError, TypeError)):  # TypeError: jaxtyping hook
        invalidating_head(jnp.ones((2, 3)), jnp.ones((2, 3)), 0, num_classes=3)
    with pytest.raises(ValueError, match="NaN"):
        invalidating_head(z.at[0].set(jnp.nan), zp, 0, num_classes=3)
    with pytest.raises(ValueError, match="NaN"):
        invalidating_head(z, zp.at[0].set(jnp.inf), 0, num_classes=3)
    with pytest.raises(ValueError, match="z_prime"):
        invalidating_head(z, jnp.zeros(3, jnp.float32), 0, num_classes=3)
    with pytest.raises(ValueError, match="`z` is zero"):
        invalidating_head(jnp.zeros(3, jnp.float32), zp, 0, num_classes=3, clean_label=1)
    with pytest.raises((ValueError, TypeError)):  # TypeError: jaxtyping hook
        invalidating_head(jnp.ones(3, jnp.int32), jnp.ones(3, jnp.int32), 0, num_classes=3)
    with pytest.raises(ValueError, match="num_classes"):
        invalidating_heads(z[None], zp[None], 0, num_classes=2)
    with pytest.raises(ValueError, match="clean_label"):
        invalidating_heads(z[None], zp[None], 0, num_classes=3, clean_label=0)
    with pytest.raises(ValueError, match="NaN"):
        invalidating_heads(z[None] * jnp.nan, zp[None], 0, num_classes=3)


@pytest.mark.slow
def test_experiment_universality_quick():
    """Smoke run of the `universality` experiment (slow: RFF training and head re-training)."""
    from jaxbd.experiments import Context, get

    res = get("universality").run(Context(quick=True, show_progress=False))
    assert res.name == "universality" and res.tables and res.figures and len(res.claims) == 6
    assert all(c.power != "not stated" for c in res.claims)
    # The constructive head (Thm 3.1) must work on every input, whatever the data.
    assert res.claims[-1].holds is True
    assert res.claims[-1].power == "any violation (exact quantity)"


def test_batched_targets_are_not_truncated():
    z = jnp.asarray([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    zp = -z
    with pytest.raises(ValueError, match="`target` must hold integer labels"):
        invalidating_heads(z, zp, [0.7, 1.2], num_classes=3)
    # Integral floats are labels; the result equals the integer call.
    a = invalidating_heads(z, zp, [1.0, 2.0], num_classes=3)
    b = invalidating_heads(z, zp, np.asarray([1, 2]), num_classes=3)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # head_margins checks the (traced) target under vmap.
    f = jax.vmap(head_margins)
    with pytest.raises(RuntimeError, match="`target`"):
        jax.block_until_ready(f(b, z, zp, jnp.asarray([1, 3], jnp.int32)))
    clean, bd = f(b, z, zp, jnp.asarray([1, 2], jnp.int32))
    assert np.all(np.asarray(bd) > 0)
