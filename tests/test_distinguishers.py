"""The distinguisher interface: one contract test over every registered distinguisher, and a
user-defined distinguisher that plugs in with no other change."""

from typing import ClassVar

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy import stats

from jaxbd import detect


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.slow) if n == "covariance_thresholding" else n
        for n in detect.names()
    ],  # covariance thresholding's contract costs as much as the rest together: slow suite
)
def test_contract(name):
    cls = detect.get(name)
    d = cls()
    w = jr.normal(jr.key(3), (96, 12))
    res = d(w, key=jr.key(0))
    assert isinstance(res, detect.Detection) and res.name == name
    assert 0.0 <= res.p_value <= 1.0 and res.calibration
    # the batch form agrees with one call per matrix (same preparation key)
    ws = jr.normal(jr.key(4), (3, 96, 12))
    s, p = d.batch(jr.key(0), ws)
    assert s.shape == p.shape == (3,)
    one = [d(w_, key=jr.key(0)) for w_ in ws]
    np.testing.assert_allclose(s, [r.statistic for r in one], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(p, [r.p_value for r in one], rtol=1e-3, atol=1e-6)
    if cls.traced:  # the statistic is traceable: jit and vmap give the same numbers
        prepared = d.prepare(jr.key(0), (96, 12))
        vm = jax.jit(jax.vmap(lambda w_: d.statistic(w_, prepared)))(ws)
        np.testing.assert_allclose(vm, s, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="`w`"):
        d(jnp.full((96, 12), jnp.nan))


@detect.register
class _MaxAbs(detect.AbstractDistinguisher):
    """A user's test: the largest |w_ij| against the exact null law of the max of m·d
    half-normals (a spike of one huge weight)."""

    alpha: float = 0.05
    name: ClassVar[str] = "test-max-abs"
    source: ClassVar[str] = "a user's distinguisher (tests)"

    def statistic(self, w, prepared):
        return jnp.max(jnp.abs(w))

    def p_value(self, statistic, shape, prepared):
        n = shape[0] * shape[1]
        return 1.0 - (2 * stats.norm.cdf(np.asarray(statistic, np.float64)) - 1) ** n

    def calibration(self, shape, prepared):
        return f"exact law of the max of {shape[0] * shape[1]} |N(0,1)|"


def test_a_user_distinguisher_plugs_in():
    assert "test-max-abs" in detect.names()
    d = detect.get("test-max-abs")()
    w = jr.normal(jr.key(0), (64, 8))
    assert not d(w).reject  # honest weights (this seed)
    assert d(w.at[3, 2].set(12.0)).reject
    # calibrated: p-values of 400 honest matrices are uniform (KS, false-failure prob. 0.001)
    _, p = d.batch(jr.key(1), jr.normal(jr.key(2), (400, 64, 8)))
    assert stats.kstest(p, "uniform").pvalue > 1e-3


def test_registry_refuses_what_is_not_a_distinguisher():
    with pytest.raises(TypeError, match="AbstractDistinguisher"):
        detect.register(dict)
    with pytest.raises(ValueError, match="unknown distinguisher"):
        detect.get("no-such-test")
