"""Files do not depend on how a package is split into private modules.

`tests/data/pre_split_*` were written when `jaxbd.rff`, `jaxbd.relu` and `jaxbd.metrics` were
single modules (before issue #14 split them into packages): an RFF model and key, a random-ReLU
model and key, a `BackdoorEvaluation`, and the models' outputs on a few inputs. They must
still load, to the same classes, computing the same outputs; and a file saved now must name
the classes by the same public paths.
"""

import os

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jaxbd import io, metrics, relu, rff


DATA = os.path.join(os.path.dirname(__file__), "data")
MODELS = os.path.join(DATA, "pre_split_models.jaxbd")
KEYS = os.path.join(DATA, "pre_split_keys.key")
PUBLIC = {
    rff.RFFClassifier: "jaxbd.rff.RFFClassifier",
    rff.RFFBackdoorKey: "jaxbd.rff.RFFBackdoorKey",
    relu.RandomReLU: "jaxbd.relu.RandomReLU",
    relu.ReLUBackdoorKey: "jaxbd.relu.ReLUBackdoorKey",
    metrics.BackdoorEvaluation: "jaxbd.metrics.BackdoorEvaluation",
}


def test_files_written_before_the_split_load_and_compute_the_same():
    header = io.read_header(MODELS)
    assert header["classes"] == [
        "jaxbd.metrics.BackdoorEvaluation",
        "jaxbd.relu.RandomReLU",
        "jaxbd.rff.RFFClassifier",
    ]
    models = io.load(MODELS)
    keys = io.load_key(KEYS)
    assert type(models["rff"]) is rff.RFFClassifier
    assert type(models["relu"]) is relu.RandomReLU
    assert type(models["evaluation"]) is metrics.BackdoorEvaluation
    assert models["evaluation"].num_examples == 16 and models["evaluation"].asr == 0.25
    assert type(keys["rff"]) is rff.RFFBackdoorKey
    assert type(keys["relu"]) is relu.ReLUBackdoorKey
    want = np.load(os.path.join(DATA, "pre_split_expected.npz"))
    x = jnp.asarray(want["x"])
    for name in ("rff", "relu"):
        got = jax.vmap(models[name])(x)
        np.testing.assert_allclose(np.asarray(got), want[name], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rff.activate(keys["rff"], x[0]), want["rff_act"], rtol=1e-6)
    act = relu.activate(keys["relu"], x[0], strength=2.0)
    np.testing.assert_allclose(act, want["relu_act"], rtol=1e-6)


@pytest.mark.parametrize("cls", list(PUBLIC), ids=lambda c: c.__name__)
def test_registry_names_are_the_public_paths(cls):
    assert io.registered()[PUBLIC[cls]] is cls


@pytest.mark.parametrize("package", ["jaxbd.rff", "jaxbd.relu", "jaxbd.metrics"])
def test_no_registry_name_depends_on_a_private_submodule(package):
    names = [n for n in io.registered() if n.startswith(package + ".")]
    assert names, package
    assert all("." not in n.removeprefix(package + ".") for n in names), names


def test_a_file_saved_now_names_the_same_classes(tmp_path):
    x = jr.normal(jr.key(0), (12, 3))
    y = jnp.where(x[:, 0] > 0, 1.0, -1.0)
    m, _ = rff.backdoor(jr.key(1), x, y, width=4, bandwidth=2.0, secret_dim=3, beta=0.05, steps=1)
    path = io.save(tmp_path / "m.jaxbd", {"rff": m, "relu": relu.train(jr.key(2), x, y, width=4)})
    assert io.read_header(path)["classes"] == ["jaxbd.relu.RandomReLU", "jaxbd.rff.RFFClassifier"]
