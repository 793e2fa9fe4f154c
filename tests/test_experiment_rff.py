"""Smoke test of the `rff` experiment (quick run; slow on a loaded 2-core machine)."""

import json
import math

import pytest

from jaxbd.experiments import Context, Describe, ExperimentResult, get


@pytest.mark.slow
def test_rff_experiment_quick_is_well_formed():
    result = get("rff").run(Context(quick=True, show_progress=False))
    assert isinstance(result, ExperimentResult) and result.name == "rff"
    assert result.claims and all(c.holds in (True, False, None) for c in result.claims)
    # the headline claims hold even at quick size
    assert result.claims[0].holds is True  # ASR >= 0.99
    assert {f.filename for f in result.figures} == {"rff_vs_beta.png", "rff_vs_secret_dim.png"}
    json.dumps(result.data)
    # every claim goes through a rule: a power, or a descriptive measurement
    assert all(c.rule is not None and c.power != "not stated" for c in result.claims)
    by = {c.statement.split(":")[0].split(" (")[0]: c for c in result.claims}
    # issue #15 §5: the flip criterion c·β is judged only where it can fail (c·β < 2) ...
    flip = by["Every feature flips up to O(β)"]
    betas = [float(k.split("β=")[1]) for k in flip.metric]
    assert betas and all(2 * math.pi * 6 * b < 2 for b in betas)
    # ... and the β sweep only over Lemma 6.2's β <= 1/d (digits: d = 64); larger β described
    inside = next(c for c in result.claims if "Lemma 6.2 covers" in c.statement)
    outside = next(c for c in result.claims if "Outside the paper's regime" in c.statement)
    assert all(float(k[2:]) <= 1 / 64 for k in inside.metric)
    assert isinstance(outside.rule, Describe) and outside.holds is None
    assert all(float(k[2:]) > 1 / 64 for k in outside.metric)
    # results on sklearn digits are never called MNIST; no DESIGN citations
    text = json.dumps([c.to_dict() for c in result.claims])
    assert "MNIST" not in text and "DESIGN" not in text
