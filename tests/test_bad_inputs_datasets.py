"""Bad-input table for `jaxbd.datasets` (issue 13 items 4 and 6): one row per (public
function, argument, bad value), its error naming the argument in backticks. Broken files are
written to a temporary folder when their row runs (removed at exit)."""

import atexit
import gzip
import itertools
import os
import shutil
import struct
import tempfile

import badinput_rows
import jax.numpy as jnp
import numpy as np
from badinput_rows import cases, lazy, over, table

from jaxbd import datasets


NAN = float("nan")
XR = np.arange(40 * 3, dtype=np.float64).reshape(40, 3) % 7
YR = np.arange(40) % 2
_DIR = tempfile.mkdtemp(prefix="jaxbd-bad-inputs-")
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)
_COUNT = itertools.count()


def _tmp(name):
    """A fresh path in this module's temporary folder (removed at exit)."""
    return os.path.join(_DIR, f"{next(_COUNT)}-{name}")


def _write(path, data: bytes):
    with open(path, "wb") as f:
        f.write(data)
    return path


def _idx_file(path, arr, code):
    arr = np.asarray(arr)
    header = struct.pack(">HBB", 0, code, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    return _write(str(path), header + arr.astype(arr.dtype.newbyteorder(">")).tobytes())


def _npz(**arrays):
    path = _tmp("data.npz")
    np.savez(path, **arrays)
    return path


def _huge_idx():
    # Header declares (2^31, 2^31, 2^31) float64 elements: the count overflows int64.
    header = struct.pack(">HBB", 0, 0x0E, 3) + struct.pack(">III", 2**31, 2**31, 2**31)
    return _write(_tmp("huge.idx"), header + b"\0" * 64)


def _gz_idx(arr, code):
    raw = _idx_file(_tmp("x.idx"), arr, code)
    with open(raw, "rb") as f:
        data = f.read()
    with gzip.open(raw + ".gz", "wb") as f:
        f.write(data[:-3])  # truncated payload
    return raw + ".gz"


def _idx_pair(n_img=10, n_lab=10):
    img = np.arange(n_img * 4, dtype=np.uint8).reshape(n_img, 2, 2)
    lab = np.arange(n_lab, dtype=np.uint8) % 2
    return _idx_file(_tmp("img.idx"), img, 0x08), _idx_file(_tmp("lab.idx"), lab, 0x08)


_d = "jaxbd.datasets."
image = lambda: _idx_pair()[0]  # noqa: E731  (an IDX image file, written when the row runs)
dataset = over(datasets.Dataset, lazy(jnp.ones, (4, 2)), lazy(jnp.ones, 4), lazy(jnp.ones, (2, 2)),
               lazy(jnp.ones, 2), "d", (0, 1))  # fmt: skip

ROWS = [
    *table(_d + "load", over(datasets.load, "iris"), {
        "name": [("unknown", "mnist_from_the_internet"), ("int", 3)],
        "classes": [("single", (0,)), ("missing", (0, 7)), ("repeated", (0, 0))],
        "seed": [("-1", -1), ("1.5", 1.5)],
        "test_fraction": [("0", 0.0), ("nan", NAN), ("tiny", 1e-3)],
        "normalize": [("zscore", "zscore")],
        "dtype": [("int32", jnp.int32, "floating"), ("bool", bool), ("complex64", jnp.complex64)],
    }),
    *cases(_d + "load", "synthetic_kwargs", lambda d: datasets.load("iris", dim=d),
        [("dim", 3, ("only 'synthetic'",))]),
    *table(_d + "load", over(datasets.load, "synthetic"),
        {"num_samples": [("0", 0)], "num_classes": [("1", 1)]}),
    *table(_d + "gaussian_mixture", datasets.gaussian_mixture, {
        "seed": [("-1", -1), ("str", "0")],
        "num_samples": [("10.5", 10.5), ("3", 3)],
        "dim": [("0", 0), ("2.5", 2.5)],
        "num_classes": [("True", True)],
        "separation": [("nan", NAN), ("-1", -1.0), ("complex", 1j)],
    }),
    *table(_d + "from_arrays", over(datasets.from_arrays, XR, YR), {
        "x": [("nan", np.where(XR == 0, np.nan, XR), "NaN"),
              ("inf", np.where(XR == 0, np.inf, XR), "inf"),
              ("complex", XR + 1j, "complex"), ("strings", XR.astype(str)), ("no-features", np.ones((40, 0))),
              ("vector", XR[:, 0])],
        "y": [("short", YR[:-1]), ("single-class", np.zeros(40), "single class"),
              ("nan", np.where(YR == 0, np.nan, 1.0), "NaN"), ("fraction", YR + 0.5), ("matrix", YR[:, None]),
              ("one-member-class", np.r_[YR[:-1], 7], "7")],
        "dtype": [("int32", jnp.int32), ("str", "banana")],
        "seed": [("bool", True)],
        "test_fraction": [("1", 1.0)],
        "normalize": [("None", None)],
        "classes": [("str", "01")],
    }),
    *table(_d + "from_arrays", over(datasets.from_arrays, XR, YR, x_test=XR[:4]),
        {"y_test": [("missing", None)]}),
    *cases(_d + "from_arrays", "x", lambda x: datasets.from_arrays(x, YR[:0]),
        [("no-rows", np.ones((0, 3)))]),
    *table(_d + "from_arrays", over(datasets.from_arrays, XR, YR, x_test=XR[:4], y_test=YR[:4]), {
        "y_test": [("unseen-class", np.array([0, 1, 2, 1]), "2"), ("short", YR[:3])],
        "x_test": [("columns", XR[:4, :2]), ("nan", np.full((4, 3), np.nan), "NaN")],
    }),
    *cases(_d + "load_arrays", "path", datasets.load_arrays, [
        ("missing", lazy(_tmp, "nope.npz"), "no such file"), ("no-x", lazy(lambda: _npz(y=YR)), "'x'"),
        ("not-npz", lazy(image), ("`labels`",)), ("corrupt-npz", lazy(lambda: _write(_tmp("bad.npz"), b"not a zip")), "npz"),
        ("x-nan", lazy(lambda: _npz(x=np.full((40, 3), np.nan), y=YR)), ("`x`", "NaN")),
        ("x-complex", lazy(lambda: _npz(x=XR + 1j, y=YR)), ("`x`", "complex"))]),
    *cases(_d + "load_arrays", "labels", lambda p: datasets.load_arrays(p[0], labels=p[1]), [
        ("missing", lazy(lambda: (image(), _tmp("nope.idx")))), ("length", lazy(_idx_pair, 10, 9)),
        ("not-idx", lazy(lambda: (image(), _write(_tmp("l.idx"), b"\x01\x02\x03\x04"))))]),
    *cases(_d + "load_arrays", "dtype", lambda t: datasets.load_arrays(_npz(x=XR, y=YR), dtype=t),
        [("int32", jnp.int32)]),
    *cases(_d + "read_idx", "path", datasets.read_idx, [
        ("missing", lazy(_tmp, "nope.idx")), ("bad-magic", lazy(lambda: _write(_tmp("m.idx"), b"\x01\x02\x03\x04\x00")), "magic"),
        ("short", lazy(lambda: _write(_tmp("s.idx"), b"\x00"))),
        ("truncated-gz", lazy(_gz_idx, np.ones((3, 2), np.float32), 0x0D), "truncated"),
        ("count-overflow", lazy(_huge_idx))]),
    *table(_d + "Dataset", dataset, {
        "y_train": [("length", lazy(jnp.ones, 3))],
        "x_test": [("columns", lazy(jnp.ones, (2, 3)))],
        "x_train": [("int32", lazy(jnp.ones, (4, 2), jnp.int32))],
    }),
]  # fmt: skip

test_bad_input = badinput_rows.bad_input_test(ROWS)
