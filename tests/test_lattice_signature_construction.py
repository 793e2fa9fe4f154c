"""The `lattice-signature` construction's parameter choice and the `unit_interval`
normalisation it asks the CLI for (the plant itself runs in tests/test_constructions.py)."""

import numpy as np
import pytest

from jaxbd import constructions, datasets, lattice_signature as ls


LS = constructions.LatticeSignature


def test_registered_with_its_fields_checked():
    assert constructions.get("lattice-signature") is LS
    assert LS.normalize == "unit_interval" and LS.kind == "targeted"
    for kw, word in ((dict(params="nope"), "`params`"), (dict(params=3), "`params`"),
                     (dict(coarse_bits=0), "`coarse_bits`"), (dict(base_steps=-1),
                     "`base_steps`")):  # fmt: skip
        with pytest.raises(ValueError, match=word):
            LS(**kw)


@pytest.mark.parametrize(
    "dim, labels, name",
    [(64, 10, "toy"), (64, 2, "toy"), (256, 10, "d256"), (784, 10, "d784"),
     (ls.min_input_dim("default", 10), 10, "default")],
)  # fmt: skip
def test_auto_picks_the_largest_set_that_fits(dim, labels, name):
    p = LS().parameter_set(dim, labels)
    assert p.name == name
    assert ls.min_input_dim(p, labels) <= dim
    secure = ls.security_estimate(p).classical_bits >= 100
    assert secure == (name == "default")  # every set that fits d <= 784 is insecure


def test_a_named_set_that_does_not_fit_is_refused():
    with pytest.raises(ValueError, match="`params`.*needs >= "):
        LS(params="d784").parameter_set(64, 10)
    with pytest.raises(ValueError, match="`params`: no parameter set fits"):
        LS().parameter_set(10, 2)


def test_unit_interval_normalisation():
    ds = datasets.load("wine", normalize="unit_interval")
    tr, te = np.asarray(ds.x_train), np.asarray(ds.x_test)
    assert tr.min() == 0.0 and tr.max() == 1.0
    assert np.allclose(tr.min(0), 0.0) and np.allclose(tr.max(0), 1.0)
    assert te.min() >= 0.0 and te.max() <= 1.0  # the test part is clipped
    raw = datasets.load("wine", normalize="none")
    want = np.clip((np.asarray(raw.x_test) - ds.mean) / ds.scale, 0.0, 1.0)
    assert np.allclose(te, want, atol=1e-6)
    with pytest.raises(ValueError, match="`normalize`"):
        datasets.load("wine", normalize="unit")
