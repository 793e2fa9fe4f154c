import gzip
import struct

import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_digits

from jaxbd import datasets


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "wine", "iris"])
def test_real_datasets_split_and_standardise(name):
    d = datasets.load(name)
    assert d.x_train.dtype == jnp.float32
    assert d.x_train.shape[1] == d.x_test.shape[1] == d.dim
    n = d.x_train.shape[0] + d.x_test.shape[0]
    assert abs(d.x_test.shape[0] / n - 0.25) < 0.02
    # Standardisation is fitted on the training part only: train is centred, test is not exactly.
    np.testing.assert_allclose(np.asarray(d.x_train).mean(0), 0.0, atol=1e-5)
    std = np.asarray(d.x_train).std(0)
    assert np.all((np.abs(std - 1) < 1e-3) | (std < 1e-6))
    if d.num_classes == 2:
        assert set(np.unique(np.asarray(d.y_train)).tolist()) == {-1.0, 1.0}
    else:
        assert d.y_train.dtype == jnp.int32
        assert set(np.unique(np.asarray(d.y_train)).tolist()) == set(range(d.num_classes))


def test_class_selection_gives_pm1_labels_in_order():
    d = datasets.load("digits", classes=(3, 8))
    assert d.classes == (3, 8)
    assert d.y_train.dtype == jnp.float32
    n3 = int(np.sum(load_digits().target == 3))  # the source itself, not jaxbd's copy of it
    assert int(np.sum(np.asarray(d.y_train) == -1) + np.sum(np.asarray(d.y_test) == -1)) == n3


def test_split_is_deterministic_and_seed_dependent():
    a = datasets.load("wine", seed=3)
    b = datasets.load("wine", seed=3)
    c = datasets.load("wine", seed=4)
    np.testing.assert_array_equal(np.asarray(a.x_train), np.asarray(b.x_train))
    assert not np.array_equal(np.asarray(a.x_train), np.asarray(c.x_train))


def test_unit_norm_and_synthetic():
    d = datasets.load("breast_cancer", normalize="unit_norm")
    np.testing.assert_allclose(np.linalg.norm(np.asarray(d.x_train), axis=1), 1.0, rtol=1e-5)
    s = datasets.load("synthetic", num_samples=200, dim=7, num_classes=3, seed=1)
    assert s.dim == 7 and s.num_classes == 3
    s2 = datasets.load("synthetic", num_samples=200, dim=7, num_classes=3, seed=1)
    np.testing.assert_array_equal(np.asarray(s.x_test), np.asarray(s2.x_test))


def test_bad_input_errors():
    with pytest.raises(ValueError, match="Unknown dataset name"):
        datasets.load("mnist_from_the_internet")
    with pytest.raises(ValueError, match="classes"):
        datasets.load("digits", classes=(3, 11))
    with pytest.raises(ValueError, match="test_fraction"):
        datasets.load("iris", test_fraction=1.5)
    with pytest.raises(ValueError, match="normalize"):
        datasets.load("iris", normalize="zscore")
    with pytest.raises(ValueError, match="NaN"):
        datasets.from_arrays(np.array([[0.0, np.nan], [1.0, 2.0]]), np.array([0, 1]))
    with pytest.raises(ValueError, match="labels but there are"):
        datasets.from_arrays(np.zeros((4, 2)), np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="only 'synthetic'"):
        datasets.load("iris", dim=3)


def _write_idx(path, array, code):
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(
        ">" + "I" * array.ndim, *array.shape
    )
    dt = {0x08: ">u1", 0x0D: ">f4"}[code]
    with open(path, "wb") as f:
        f.write(header + array.astype(dt).tobytes())


def test_load_arrays_npz_and_idx(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 5))
    y = np.repeat([7, 9], 20)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    d = datasets.load_arrays(tmp_path / "d.npz")
    assert d.classes == (7, 9) and d.dim == 5
    np.savez(tmp_path / "split.npz", x=x, y=y, x_test=x[:6], y_test=y[:6])
    d2 = datasets.load_arrays(tmp_path / "split.npz")
    assert d2.x_test.shape == (6, 5) and d2.x_train.shape == (40, 5)

    images = rng.integers(0, 255, size=(30, 4, 4)).astype(np.uint8)
    labels = np.repeat(np.arange(3), 10).astype(np.uint8)
    _write_idx(tmp_path / "img.idx", images, 0x08)
    with gzip.open(tmp_path / "lab.idx.gz", "wb") as f:
        f.write(struct.pack(">HBBI", 0, 0x08, 1, 30) + labels.tobytes())
    np.testing.assert_array_equal(datasets.read_idx(tmp_path / "img.idx"), images)
    d3 = datasets.load_arrays(tmp_path / "img.idx", labels=tmp_path / "lab.idx.gz")
    assert d3.dim == 16 and d3.num_classes == 3


def test_load_arrays_malformed(tmp_path):
    np.savez(tmp_path / "nox.npz", features=np.zeros((3, 2)), y=np.arange(3))
    with pytest.raises(ValueError, match="no array 'x'"):
        datasets.load_arrays(tmp_path / "nox.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        datasets.load_arrays(tmp_path / "junk.npz")
    np.savez(tmp_path / "badlen.npz", x=np.zeros((3, 2)), y=np.arange(4))
    with pytest.raises(ValueError, match="`y` has 4 labels"):
        datasets.load_arrays(tmp_path / "badlen.npz")
    images = np.zeros((5, 2, 2), np.uint8)
    _write_idx(tmp_path / "img.idx", images, 0x08)
    data = (tmp_path / "img.idx").read_bytes()
    (tmp_path / "trunc.idx").write_bytes(data[:-3])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        datasets.read_idx(tmp_path / "trunc.idx")
    (tmp_path / "magic.idx").write_bytes(b"\x01\x02" + data[2:])
    with pytest.raises(ValueError, match="bad magic"):
        datasets.read_idx(tmp_path / "magic.idx")
    with pytest.raises(ValueError, match="labels="):
        datasets.load_arrays(tmp_path / "img.idx")
    with pytest.raises(ValueError, match="No such file"):
        datasets.load_arrays(tmp_path / "missing.npz")
