"""Types that match behaviour (issue #17 item 3): the user-style script that CI type-checks
(`pyright tests/typing/user_script.py`) also runs, here under the default test run's jaxtyping +
beartype import hook — numpy inputs go through the public functions — and the loaded objects
are what `io.load(..., expect=...)` promises. Deterministic (fixed seeds): no false failures."""

import pathlib
import sys

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jaxbd import io, linear, metrics, rff


sys.path.insert(0, str(pathlib.Path(__file__).parent / "typing"))
import user_script  # noqa: E402


@pytest.mark.slow
def test_user_script_runs_on_numpy_inputs():
    out = user_script.main(n=128, dim=6, width=256, steps=60)
    assert out["round_trip_equal"] == 1.0
    assert all(0.0 <= v <= 1.0 for v in out.values()), out
    # Two blobs 3 standard deviations apart (Bayes accuracy 0.93): both trained models learn.
    assert out["clean_accuracy_backdoored"] >= 0.8, out
    assert out["mlp_accuracy_after"] >= 0.8, out


def test_user_script_flax_nnx_on_numpy_inputs():
    pytest.importorskip("flax.nnx")
    out = user_script.flax_main(n=128, dim=6, steps=60)
    assert out["nnx_same_class"] == 1.0, out
    assert out["nnx_accuracy_after"] >= 0.8, out  # the same two blobs (Bayes accuracy 0.93)


def _hook_on(config) -> bool:
    return bool(config.getoption("jaxtyping_packages", default=None))


def test_wrong_shapes_raise(request):
    """A vector where a matrix is annotated raises: the hook's `TypeCheckError` when it is on,
    the library's own `ValueError` naming `x` when it is off."""
    x, y = np.ones((8, 3), np.float32), np.where(np.arange(8) % 2 == 0, 1.0, -1.0)
    model = linear.LinearClassifier(jnp.ones(3), jnp.zeros(()))
    assert 0.0 <= metrics.clean_accuracy(model, x, y) <= 1.0  # numpy accepted
    with pytest.raises((ValueError, TypeError)) as info:
        metrics.clean_accuracy(model, x[0], y)
    with pytest.raises((ValueError, TypeError)):
        rff.train(jr.key(0), x[:, 0], y, width=4, bandwidth=1.0, steps=1)
    if _hook_on(request.config):
        assert type(info.value).__name__ == "TypeCheckError"
    else:
        assert isinstance(info.value, ValueError) and "`x`" in str(info.value)


def test_load_expect_returns_the_loaded_object(tmp_path):
    model = linear.LinearClassifier(jnp.ones(3), jnp.zeros(()))
    path = io.save(tmp_path / "m.jaxbd", model)
    loaded = io.load(path, expect=linear.LinearClassifier)
    assert isinstance(loaded, linear.LinearClassifier)
    assert bool(jnp.all(loaded.weight == model.weight))
    assert isinstance(io.load(path, expect=object), linear.LinearClassifier)  # subclasses count
