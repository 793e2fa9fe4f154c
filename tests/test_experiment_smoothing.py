"""The `smoothing` experiment (GKVZ §2.5, §7): its measurements and its quick run.

Library tests of `jaxbd.smoothing` live in tests/test_smoothing.py."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import linear

from jaxbd import smoothing
from jaxbd.experiments import AtMost
from jaxbd.experiments._smoothing_measure import lipschitz_closed_form, smoothed_rates


def test_abstentions_count_as_failures_and_draws_are_independent():
    """On the decision boundary PREDICT abstains (the vote is a fair coin): a flip 'succeeds'
    there only by counting noise as a flip. Every row abstains at least once w.p. ≥ 1 − 1e-9
    (two-sided test at α = 0.01 on 64 fair draws rejects w.p. ≤ 0.01 per answer), so the ASR of
    a model that is not backdoored at all must be ~0, not the common-random-numbers flip rate."""
    model = linear(4)
    x = jnp.zeros((40, 4))  # score exactly 0 + noise: a fair vote at every row
    xa = x + 1e-6
    r = smoothed_rates(jr.key(0), model, x, xa, np.ones(40), None, sigma=1.0, num_samples=64,
                       alpha=0.01)  # fmt: skip
    assert r["abstain"] > 0.9 and r["abstain_activated"] > 0.9
    assert r["asr"] <= 0.05  # P(> 2 of 40 rows with two significant, different answers) < 1e-6
    assert r["clean"] <= 0.1 and r["defended"] <= 0.1  # abstentions are wrong answers
    # Targeted: only rows whose label is not the target are scored.
    y = np.where(np.arange(40) % 2 == 0, 1.0, -1.0)
    r = smoothed_rates(jr.key(1), model, x, xa, y, 1.0, sigma=1.0, num_samples=64, alpha=0.01)
    assert r["n_asr"] == 20


def test_lipschitz_closed_form_matches_and_would_catch_a_2x_violation():
    """The Monte-Carlo ratios agree with the closed form 2Φ(δ/σ) − 1 over √(2/π)δ/σ within
    5 standard errors (false failure < 8 x 6e-7), each closed form is below 1 (Lemma 7.6's
    tight constant holds exactly) and the test's power detects a 2x violation."""
    est, exact = lipschitz_closed_form(jr.key(0), num_samples=2**14)
    assert len(est) == 8
    rule = AtMost(1.0)
    for k, e in est.items():
        assert 0 < exact[k] < 1
        assert abs(e.value - exact[k]) <= 5 * e.se, (k, e, exact[k])
        assert rule.power(e) < 2 * exact[k] - 1.0  # a ratio of 2r* is caught w.p. >= 0.9
        assert rule.fail_probability(e, 2 * exact[k]) > 0.99


def test_smoothing_abstain_constant_is_public():
    assert smoothing.ABSTAIN == -2


@pytest.mark.slow
def test_experiment_quick_smoke():
    """The quick run: every construction of the quick grid is planted through the registry,
    every claim has a computed verdict and a stated power (or is descriptive), and no report
    text cites internal design notes."""
    from jaxbd.experiments import Context
    from jaxbd.experiments.smoothing import GRID, run

    res = run(Context(quick=True, show_progress=False))
    assert res.name == "smoothing" and len(res.tables) == 3 and len(res.figures) == 2
    assert set(res.data) == {n for n, e in GRID.items() if e.quick}
    assert res.claims and all(c.holds in (True, False, None) for c in res.claims)
    assert all(c.power != "not stated" for c in res.claims)
    text = " ".join(c.statement + c.source + c.measured for c in res.claims) + res.summary
    assert "DESIGN" not in text
    rff = [c for c in res.claims if c.statement.startswith("rff: no σ")]
    assert len(rff) == 1 and rff[0].holds is not None
