import warnings

import jax.random as jr
import pytest

from jaxbd import datasets, detect, relu, rff


@pytest.fixture(scope="module")
def data():
    return datasets.load("breast_cancer")


def test_rff_backdoor_warns_in_detectable_regime(data):
    # A 1-sparse secret with small beta is a comb on one coordinate (KS test) and is
    # enumerable; the warning names the distinguishers.
    with pytest.warns(detect.DetectableRegimeWarning, match="gaussianity"):
        rff.backdoor(
            jr.key(0),
            data.x_train,
            data.y_train,
            width=64,
            bandwidth=10.0,
            secret_dim=1,
            beta=0.01,
            steps=2,
        )


def test_relu_backdoor_warns_above_bbp_and_not_below(data):
    d, m = data.dim, 64
    with pytest.warns(detect.DetectableRegimeWarning, match="spectral"):
        relu.backdoor(jr.key(0), data.x_train, data.y_train, width=m, sparsity=5, theta=5.0)
    assert detect.regime_warnings("relu", dim=d, width=m, sparsity=5, theta=0.01) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error", detect.DetectableRegimeWarning)
        relu.backdoor(jr.key(0), data.x_train, data.y_train, width=m, sparsity=5, theta=0.01)


def test_rff_defaults_name_the_support_search():
    # d = 30, k = 4: C(30, 4) = 27,405 supports x ~3 ms is within the one-CPU-hour budget.
    found = detect.regime_warnings("rff", dim=30, width=512, secret_dim=4, beta=0.01)
    assert any(f.startswith("sparse_lattice") for f in found)
    # too many supports for the budget, or too much noise: not named
    assert not any(
        f.startswith("sparse_lattice")
        for f in detect.regime_warnings("rff", dim=200, width=512, secret_dim=6, beta=0.01)
    )
    assert not any(
        f.startswith("sparse_lattice")
        for f in detect.regime_warnings("rff", dim=30, width=512, secret_dim=4, beta=0.05)
    )
