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
    cal = r.data["calibration"]
    assert "64x16/spectral" in cal and all(not math.isnan(v["ks_p"]) for v in cal.values())
    # every claim states its power or is descriptive
    assert all(c.power != "not stated" for c in r.claims)
    # the support search is in the defaults table, and the calibration claims hold
    assert "sparse_lattice" in r.data["defaults"]["rff"]
    assert r.claims[0].holds is True and r.claims[1].holds is True
