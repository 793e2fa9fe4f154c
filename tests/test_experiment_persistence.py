"""Measurements of the `persistence` experiment (GKVZ §5.3, Thm 5.7): the single-weight scan,
the single-copy control and the straight-through attack (deterministic checks)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import linear

from jaxbd import persistent as ps
from jaxbd.experiments._persistence_measure import (
    StraightThrough,
    Thresholded,
    labels,
    single_weight_changes,
)


D = 5


def _data(n=200):
    return jr.normal(jr.key(1), (n, D))


def _lin():
    m = linear(D)
    return eqx.tree_at(lambda t: t.b, m, jnp.asarray(0.3))


@pytest.mark.slow
def test_single_weight_scan_matches_thm_5_7():
    """|ε| < 3/2 changes nothing anywhere; ±1.51 on the majority layer breaks exactly the
    outputs the proof predicts; the single copy is changed by one weight."""
    x, base = _data(), _lin()
    pers = ps.make_persistent(base, input_dim=D)
    eps = (-1.49, 1.49, -1.51, 1.51)
    sw = {k: np.asarray(v) / len(x) for k, v in single_weight_changes(pers, x, eps).items()}
    assert set(sw) >= {".majority_weights", ".majority_threshold"}
    assert all(v.shape[0] == 4 for v in sw.values())
    assert max(float(v[:2].max()) for v in sw.values()) == 0.0
    pos = float(np.mean(np.asarray(labels(pers, x)) > 0))
    assert 0.1 < pos < 0.9
    assert np.allclose(sw[".majority_weights"][2], pos)  # a_k − 1.51: every +1 output flips
    assert np.allclose(sw[".majority_weights"][3], 0.0)
    assert float(sw[".majority_threshold"][3, 0]) == pos  # θ + 1.51
    assert float(sw[".majority_threshold"][2, 0]) == 1.0 - pos  # θ − 1.51
    single = {
        k: np.asarray(v) for k, v in single_weight_changes(Thresholded(base), x, eps).items()
    }
    assert max(float(v[:2].max()) for v in single.values()) > 0.0


def test_straight_through_has_gradients_and_the_same_labels():
    x, base = _data(), _lin()
    pers = ps.make_persistent(base, input_dim=D)
    ste = StraightThrough(pers)
    np.testing.assert_array_equal(np.asarray(labels(ste, x)), np.asarray(labels(pers, x)))

    def loss(m):
        return jnp.mean(jax.vmap(m)(x) * jnp.sign(x[:, 0]))

    g_pers = jax.tree.leaves(eqx.filter_grad(loss)(pers))
    g_ste = jax.tree.leaves(eqx.filter_grad(loss)(ste))
    g_single = jax.tree.leaves(eqx.filter_grad(loss)(Thresholded(base)))
    assert all(float(jnp.abs(g).max()) == 0.0 for g in g_pers + g_single)  # zero gradients
    assert max(float(jnp.abs(g).max()) for g in g_ste) > 0.0  # the surrogate moves it
