"""Tests of the compiled-memory helpers of jaxbd.experiments.scaling (issue 8)."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxbd.experiments import Context, ExperimentResult, scaling


def test_compiled_memory_counts_output_bytes():
    x = jnp.zeros((128, 64), jnp.float32)
    mem = scaling.compiled_memory(lambda x: jnp.concatenate([x, x], axis=1), x)
    assert set(mem) == {"temp", "output", "argument", "alias", "code", "peak"}
    assert mem["output"] == 128 * 128 * 4
    assert mem["argument"] == 128 * 64 * 4
    assert mem["peak"] == mem["temp"] + mem["output"]


def test_rff_featurization_memory_is_linear_in_n():
    model = scaling.rff_model(0, 64, 8)
    f = lambda m, x: m.batch_features(x)  # noqa: E731
    peaks = [
        scaling.compiled_memory(f, model, jnp.zeros((n, 8), jnp.float32))["peak"]
        for n in (64, 256, 1024)
    ]
    assert peaks[0] >= 64 * 64 * 4  # at least the (n, width) output
    assert scaling.loglog_slope([64, 256, 1024], peaks) == pytest.approx(1.0, abs=0.1)


@pytest.mark.slow
def test_smoothing_memory_flat_in_draws_and_timing_optional():
    rows = scaling.smoothing_sweep(
        0, draws=[512, 2048, 65536], width=16, dim=4, batch_size=512, time_up_to=512
    )
    peaks = [r["mem_peak"] for r in rows]
    assert max(peaks) <= 1.1 * min(peaks)
    assert np.isfinite(rows[0]["seconds"]) and np.isnan(rows[-1]["seconds"])


def test_memory_and_time_and_slope():
    mem, sec = scaling.memory_and_time(lambda x: x * 2.0, jnp.ones(8, jnp.float32), repeats=1)
    assert mem["output"] == 32 and sec >= 0.0
    assert scaling.loglog_slope([1, 10, 100], [3, 300, 30000]) == pytest.approx(2.0)


@pytest.mark.slow
def test_experiment_quick_smoke():
    res = scaling.run(Context(quick=True, show_progress=False))
    assert isinstance(res, ExperimentResult) and res.name == "scaling"
    assert all(c.holds is not None for c in res.claims)
    assert len(res.figures) == 1 and len(res.tables) == 2


def test_compile_time_is_reported_apart_from_run_time():
    mem, sec, comp = scaling.memory_compile_and_time(lambda x: x + 1.0, jnp.ones(4), repeats=1)
    assert mem["output"] == 16 and np.isfinite(sec) and np.isfinite(comp) and comp >= 0.0
    _, sec, comp = scaling.memory_compile_and_time(lambda x: x + 1.0, jnp.ones(4), timed=False)
    assert np.isnan(sec) and np.isfinite(comp)
    rows = scaling.smoothing_sweep(0, draws=[256], width=8, dim=4, batch_size=256)
    assert np.isfinite(rows[0]["compile_seconds"])
