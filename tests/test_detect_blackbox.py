"""Black-box probing, the Detection type and regime_warnings."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
from helpers import bad_input, linear

from jaxbd.detect import Detection, probe, regime_warnings


class Flip:
    """A model that flips `base` where `trigger(x)` holds (a toy backdoor)."""

    def __init__(self, base, trigger):
        self.base, self.trigger = base, trigger

    def __call__(self, x):
        s = self.base(x)
        return jnp.where(self.trigger(x), -s, s)


def test_probe_identical_models_never_reject(getkey):
    model = linear(5)
    x = jr.normal(getkey(), (100, 5))
    r = probe(getkey(), model, model, x)
    assert not r.reject and r.p_value == 1.0
    assert all(v == 0.0 for v in r.found["disagreement"].values())


def test_probe_catches_a_wide_trigger_not_a_narrow_one(getkey):
    base = linear(5)
    x = jr.normal(getkey(), (200, 5))
    wide = Flip(base, lambda v: jnp.linalg.norm(v) > 3.0)  # fires on large perturbations
    narrow = Flip(base, lambda v: jnp.abs(v[0] - 1.2345678) < 1e-7)  # a "checksum"-like key
    assert probe(getkey(), wide, base, x).reject
    r = probe(getkey(), narrow, base, x)
    assert not r.reject


def test_probe_baseline_binomial(getkey):
    base = linear(5)
    x = jr.normal(getkey(), (200, 5))
    # Disagrees on ~half of all inputs; baseline 0.5 tolerates that (no systematic excess).
    coin = Flip(base, lambda v: jnp.sin(1e3 * v[1]) > 0)
    r = probe(getkey(), coin, base, x, baseline_rate=0.5, num_queries=400)
    assert r.p_value > 1e-3
    bad_input(lambda: probe(getkey(), coin, base, x, baseline_rate=1.0), "baseline_rate")
    bad_input(lambda: probe(getkey(), coin, base, jnp.ones(5)), "x")


def test_detection_type_validates():
    d = Detection.from_p("t", 1.0, 0.01, 0.05, "exact")
    assert d.reject
    bad_input(lambda: Detection("t", 1.0, 1.5, 0.05, False, "x"), "p_value")
    bad_input(lambda: Detection("t", 1.0, 0.5, 0.05, True, "x"), "reject")


def test_regime_warnings():
    assert any(
        "spectral" in w for w in regime_warnings("relu", dim=64, width=256, sparsity=4, theta=2.0)
    )
    assert regime_warnings("relu", dim=64, width=64, sparsity=8, theta=0.5) == []
    rff = regime_warnings("rff", dim=10, width=256, secret_dim=2, beta=1e-10)
    assert any("lattice" in w for w in rff) and any("pancakes" in w for w in rff)
    assert regime_warnings("rff", dim=64, width=256, secret_dim=64, beta=0.1) == []
    bad_input(lambda: regime_warnings("cnn", dim=3), "construction")
    bad_input(lambda: regime_warnings("relu", dim=3), "needs")
    assert np.isfinite(len(regime_warnings("rff", dim=8, width=10, secret_dim=1, beta=0.01)))


def test_probe_names_bad_scales_and_refuses_duplicated_data(getkey):
    base = linear(3)
    x = jr.normal(getkey(), (20, 3))
    bad_input(lambda: probe(getkey(), base, base, x, scales=(float("nan"),)), "`scales`")
    bad_input(lambda: probe(getkey(), base, base, x, scales=(-1.0,)), "`scales`")
    dup = jnp.zeros((20, 3)).at[0].set(1.0)
    bad_input(lambda: probe(getkey(), base, base, dup), "median nearest-neighbour")
    # Only the data family: duplicated points are fine (no noise scale is needed).
    assert probe(getkey(), base, base, dup, scales=(0.0,)).p_value == 1.0


def test_nan_p_value_is_not_a_rejection():
    bad_input(lambda: Detection.from_p("t", 1.0, float("nan"), 0.05, "x"), "`p_value`")
