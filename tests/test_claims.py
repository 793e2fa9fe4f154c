"""Claims as data: the rule computes verdict, criterion and power (checked against scipy)."""

import math

import numpy as np
import pytest
from scipy import stats

from jaxbd.experiments import AtLeast, AtMost, Claim, Describe, Within, exact, mean, rate


def test_rate_power_is_the_exact_binomial_frontier():
    est = rate(0.995, 400)
    rule = AtLeast(0.99)
    d = rule.power(est)
    # A truth of 0.99 - d fails with probability >= 0.9, a truth slightly closer fails less.
    k_max = math.ceil(0.99 * 400) - 1
    assert stats.binom.cdf(k_max, 400, 0.99 - d) >= 0.9 - 1e-9
    assert stats.binom.cdf(k_max, 400, 0.99 - d + 1e-3) < 0.9
    # more trials: a smaller violation is detected
    assert AtLeast(0.99).power(rate(0.995, 40_000)) < d


def test_at_most_mirrors_at_least():
    est = rate(0.02, 500)
    d = AtMost(0.05).power(est)
    k_min = math.floor(0.05 * 500) + 1
    assert stats.binom.sf(k_min - 1, 500, 0.05 + d) >= 0.9 - 1e-9
    assert AtMost(0.05).holds(est) and not AtMost(0.01).holds(est)


def test_mean_power_uses_the_standard_error_and_a_binomial_floor():
    v = [0.5, 0.5, 0.5]  # seeds that agree exactly are not credited with infinite precision
    est = mean(v, trials=100)
    assert est.se > 0
    assert AtLeast(0.4).power(est) == pytest.approx(stats.norm.ppf(0.9) * est.se)
    free = mean([0.1, 0.3, 0.2])
    assert free.se == pytest.approx(np.std([0.1, 0.3, 0.2], ddof=1) / math.sqrt(3))


def test_exact_quantities_detect_any_violation_and_one_seed_is_unknown():
    assert AtMost(1.0).power(exact(0.5)) == 0.0
    c = Claim("s", "src", mean([0.3]), AtLeast(0.2))
    assert math.isnan(c.power_value) and "unknown" in c.power


def test_claim_over_labels_holds_only_when_every_label_does():
    m = {"a": rate(0.99, 1000), "b": rate(0.9, 1000)}
    c = Claim("ASR high", "GKVZ Thm 6.3", m, AtLeast(0.95), what="ASR")
    assert c.holds is False and c.verdict == "does not hold"
    assert c.criterion == "ASR ≥ 0.95 for each of the 2 settings"
    assert "a: 0.990 (n = 1000)" in c.measured
    assert c.power_value == max(AtLeast(0.95).power(e) for e in m.values())


def test_within_and_false_failure():
    c = Claim("control near chance", "src", rate(0.5, 400), Within(0.5, 0.1, expected=0.5))
    assert c.holds
    ff = c.false_failure
    assert ff == pytest.approx(stats.binom.cdf(math.ceil(0.4 * 400) - 1, 400, 0.5) * 2, rel=1e-6)


def test_descriptive_and_caller_computed_claims():
    d = Claim("a number", "src", exact(3.0), Describe())
    assert d.holds is None and d.power == "descriptive measurement, no verdict"
    c = Claim("x", "src", "text", True, "crit", power="simulated")
    assert c.power == "simulated" and c.criterion == "crit"
    assert Claim("x", "src", "text", True).power == "not stated"


def test_bad_claims_are_refused():
    with pytest.raises(ValueError, match="fraction"):
        rate(1.5, 10)
    with pytest.raises(ValueError, match="NaN"):
        exact(float("nan"))
    with pytest.raises(TypeError, match="metric"):
        Claim("s", "src", 0.5, AtLeast(0.1))
    with pytest.raises(TypeError, match="rule"):
        Claim("s", "src", "t", "yes")
