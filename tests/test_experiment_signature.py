"""Experiment test of `signature` (GKVZ Thm 5.4's construction with a host Ed25519 check)."""

import math

import pytest

from jaxbd.experiments import Context, ExperimentResult
from jaxbd.experiments.signature import run


@pytest.mark.slow
def test_experiment_signature_quick_smoke():
    """The quick run is well-formed, every verdict states its power, the verifier is cited as
    what it is (a host check, not Thm 5.5's network), and the backdoor opens every target with
    ℓ∞ below the encoding step (slow: ~40 s CPU)."""
    res = run(Context(quick=True, show_progress=False))
    assert isinstance(res, ExperimentResult) and res.name == "signature"
    assert res.tables and res.figures and len(res.claims) >= 5
    for c in res.claims:
        assert c.holds in (True, False, None)
        assert c.holds is None or not math.isnan(c.power_value), c
        assert "Thm 5.5" not in c.source and "DESIGN" not in c.source
    assert "host" in res.claims[0].source
    for start in ("Every input can be activated", "Activation changes each coordinate"):
        (claim,) = [c for c in res.claims if c.statement.startswith(start)]
        assert claim.holds is True, claim
