"""The sweep driver's activation axes and per-cell extra metrics (one plant, several
activations; the extra metric stored with the standard ones)."""

import numpy as np

from jaxbd.experiments import DataSpec, Sweep, run_sweep


def test_activation_axis_reuses_one_plant_and_extra_metrics_share_its_shape():
    seen = []

    def extra(c, planted, ds, key):
        seen.append((c.strength, id(planted.backdoored)))
        return {"strength_seen": c.strength}

    sw = Sweep(
        "relu",
        [DataSpec("breast_cancer")],
        seeds=(0,),
        grid={"theta": (1.0, 4.0)},
        fixed={"width": 16, "sparsity": 2},
        activation={"strength": (0.1, 3.0)},
    )
    res = run_sweep(sw, extra=extra)
    assert res.metrics["asr"].shape == res.metrics["strength_seen"].shape == (1, 2, 2, 1)
    np.testing.assert_array_equal(res.metrics["strength_seen"][0, :, :, 0], [[0.1, 3.0]] * 2)
    # two plants (one per theta), each evaluated at both strengths
    assert len({p for _, p in seen}) == 2 and len(seen) == 4
    # a longer push raises the one-way ASR (x + strength * s grows ||x||)
    lo, hi = (res.values("asr", 0, theta=4.0, strength=s)[0] for s in (0.1, 3.0))
    assert hi > lo
