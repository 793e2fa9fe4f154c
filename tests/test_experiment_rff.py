"""Smoke test of the `rff` experiment (quick run; slow on a loaded 2-core machine)."""

import json

import pytest

from jaxbd.experiments import Context, ExperimentResult, get


@pytest.mark.slow
def test_rff_experiment_quick_is_well_formed():
    result = get("rff").run(Context(quick=True, show_progress=False))
    assert isinstance(result, ExperimentResult) and result.name == "rff"
    assert result.claims and all(c.holds in (True, False, None) for c in result.claims)
    # the headline claims hold even at quick size
    assert result.claims[0].holds is True  # ASR >= 0.99
    assert {f.filename for f in result.figures} == {"rff_vs_beta.png", "rff_vs_secret_dim.png"}
    json.dumps(result.data)
