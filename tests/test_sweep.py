"""The sweep driver: a description planted through the construction registry, metrics as
arrays [dataset, *grid, seed], estimates that feed claims."""

import numpy as np
import pytest

from jaxbd.experiments import AtLeast, Claim
from jaxbd.experiments._sweep import DataSpec, Sweep, run_sweep


@pytest.mark.slow
def test_sweep_plants_every_cell_and_feeds_a_claim():
    sw = Sweep(
        "checksum",
        [DataSpec("breast_cancer")],
        seeds=(0,),
        grid={"num_blocks": (4, 8)},
        fixed={"base_steps": 50},
        target=1.0,
    )
    res = run_sweep(sw)
    assert res.metrics["asr"].shape == (1, 2, 1)
    assert np.isfinite(res.metrics["clean_accuracy_honest"]).all()
    assert set(res.planted) == {("breast_cancer", (4,)), ("breast_cancer", (8,))}
    est = res.estimate("asr", "breast_cancer", num_blocks=8)
    assert est.n == 1 and est.se > 0  # binomial floor of the pooled test inputs
    c = Claim("checksum opens", "GKVZ §5.1", res.estimates("asr", num_blocks=8), AtLeast(0.9))
    assert c.holds is True, c.measured
    # the controls sit far below the ASR (measured next to it, not assumed)
    assert res.values("control_honest", 0, num_blocks=8).max() < 0.9
    with pytest.raises(ValueError, match="num_blocks"):
        res.values("asr", 0)


def test_bad_sweeps_are_refused():
    with pytest.raises(ValueError, match="at least one"):
        Sweep("rff", [], seeds=(0,))
    with pytest.raises(ValueError, match="grid"):
        Sweep("rff", [DataSpec("digits")], seeds=(0,), grid={"width": ()})
    with pytest.raises(TypeError, match="construction"):
        Sweep(3, [DataSpec("digits")], seeds=(0,)).base()
