"""The bundled scikit-learn arrays cached in `$JAXBD_DATA_CACHE_DIR` (set by the CLI): the same
data as scikit-learn's, and a damaged or foreign cache file is never trusted."""

import glob
import os
from pathlib import Path

import numpy as np
import pytest

from jaxbd import datasets


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXBD_DATA_CACHE_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _same(a, b):
    return all(np.array_equal(np.asarray(getattr(a, f)), np.asarray(getattr(b, f)))
               for f in ("x_train", "y_train", "x_test", "y_test"))  # fmt: skip


def test_cached_load_equals_scikit_learn(cache, monkeypatch):
    first = datasets.load("wine")  # from scikit-learn, written to the cache
    (path,) = glob.glob(str(cache / "wine-scikit-learn-*.npz"))
    with np.load(path, allow_pickle=False) as f:
        assert f["x"].dtype == np.float64 and f["x"].shape[0] == f["y"].shape[0] == 178
    assert _same(datasets.load("wine"), first)  # from the cache
    monkeypatch.delenv("JAXBD_DATA_CACHE_DIR")
    assert _same(datasets.load("wine"), first)  # no cache at all


@pytest.mark.parametrize("damage", ["truncated", "pickled", "wrong arrays", "wrong dtype"])
def test_a_damaged_cache_file_is_replaced_by_scikit_learns_data(cache, damage):
    reference = datasets.load("iris")
    (path,) = glob.glob(str(cache / "iris-scikit-learn-*.npz"))
    if damage == "truncated":
        data = Path(path).read_bytes()
        Path(path).write_bytes(data[: len(data) // 2])
    elif damage == "pickled":
        np.savez(path, x=np.array([{"not": "data"}], dtype=object), y=np.zeros(1, int))
    elif damage == "wrong arrays":
        np.savez(path, a=np.zeros((3, 4)))
    else:
        np.savez(path, x=np.zeros((150, 4), np.float32), y=np.zeros(150, int))
    assert _same(datasets.load("iris"), reference)
    with np.load(path, allow_pickle=False) as f:  # rewritten with the real data
        assert f["x"].dtype == np.float64 and f["x"].shape == (150, 4)


def test_unwritable_cache_directory_still_loads(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.delenv("JAXBD_DATA_CACHE_DIR", raising=False)
    reference = datasets.load("iris")
    monkeypatch.setenv("JAXBD_DATA_CACHE_DIR", os.path.join(blocker, "data"))
    assert _same(datasets.load("iris"), reference)


def test_split_equals_scikit_learns_train_test_split_and_is_cached(cache):
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    raw = load_breast_cancer()
    x, y = raw.data, raw.target
    split = lambda seed: datasets.from_arrays(  # noqa: E731
        x, y, seed=seed, test_fraction=0.3, normalize="none"
    )
    ds = split(3)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, random_state=3, stratify=y)
    assert np.array_equal(np.asarray(ds.x_train), x_tr.astype(np.float32))
    assert np.array_equal(np.asarray(ds.x_test), x_te.astype(np.float32))
    assert len(glob.glob(str(cache / "split-*.npz"))) == 1
    assert _same(split(3), ds)  # from the cached indices
    assert not _same(split(4), ds)  # another seed: another key
    assert len(glob.glob(str(cache / "split-*.npz"))) == 2
