"""Smoke test of the detection experiment (quick run; slow on a loaded 2-core machine)."""

import math

import pytest

from jaxbd.experiments import Context, ExperimentResult


@pytest.mark.slow
def test_detection_quick_run_is_well_formed():
    from jaxbd.experiments.detection import run

    r = run(Context(quick=True, show_progress=False))
    assert isinstance(r, ExperimentResult)
    assert r.claims and all(c.holds in (True, False, None) for c in r.claims)
    assert {f.filename for f in r.figures} == {
        "detection_relu_heatmap.png",
        "detection_rff_heatmap.png",
    }
    for cell in r.data["relu"].values():
        for v in cell.values():
            assert 0.0 <= v["power"] <= 1.0 and 0.0 <= v["auc"] <= 1.0
    assert all(not math.isnan(v) for v in r.data["relu_fpr"].values())
    # The BBP claim is decidable even in a quick run, and the calibration claim holds.
    assert r.claims[0].holds is True
