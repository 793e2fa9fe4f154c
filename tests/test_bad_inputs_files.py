"""Bad-input table for files, keys, the construction interface and the linear base model:
`jaxbd.io`, `jaxbd.keys`, `jaxbd.constructions`, `jaxbd.linear` (issue 13 items 1-4, 6).

Crafted and malformed *files* are in `tests/test_io_security.py`; these rows are bad
*arguments* to the public functions.
"""

import atexit
import os
import shutil
import tempfile

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from badinput import Row, check_row, ids

from jaxbd import constructions, io, linear


TMP = tempfile.mkdtemp(prefix="jaxbd-badinput-files-")
atexit.register(shutil.rmtree, TMP, ignore_errors=True)  # no folder left in /tmp
MISSING_DIR = os.path.join(TMP, "no", "such", "dir", "m.jaxbd")
MODEL_FILE = os.path.join(TMP, "m.jaxbd")
io.save(MODEL_FILE, {"w": np.ones(3, np.float32)})
KEY_FILE = os.path.join(TMP, "k.key")
io.save_key(KEY_FILE, {"omega": np.ones(3, np.float32)})
X = jnp.asarray(np.random.default_rng(0).standard_normal((12, 4)), jnp.float32)
Y = jnp.asarray(np.where(np.arange(12) % 2 == 0, 1.0, -1.0), jnp.float32)
LIN = linear.LinearClassifier(jnp.ones(4), jnp.zeros(()))


def _noop(x):
    return x


r = Row
ROWS = [
    # io.save / save_key: the target, the construction name, hyperparameters
    r("jaxbd.io.save", "path", "missing directory", lambda: io.save(MISSING_DIR, jnp.ones(2)), ("does not exist",)),
    r("jaxbd.io.save", "path", "a directory", lambda: io.save(TMP, jnp.ones(2)), ("is a directory",)),
    r("jaxbd.io.save", "construction", "not a string", lambda: io.save(MODEL_FILE, jnp.ones(2), construction=3), ("`construction`",)),
    r("jaxbd.io.save", "construction", "too long", lambda: io.save(MODEL_FILE, jnp.ones(2), construction="x" * 300), ("`construction`",)),
    r("jaxbd.io.save", "hyperparameters", "not a dict", lambda: io.save(MODEL_FILE, jnp.ones(2), hyperparameters=[1]), ("`hyperparameters`",)),
    r("jaxbd.io.save", "hyperparameters", "NaN value", lambda: io.save(MODEL_FILE, jnp.ones(2), hyperparameters={"a": float("nan")}), ("`hyperparameters`", "finite")),
    r("jaxbd.io.save", "hyperparameters", "object value", lambda: io.save(MODEL_FILE, jnp.ones(2), hyperparameters={"a": object()}), ("`hyperparameters`", "JSON")),
    r("jaxbd.io.save", "hyperparameters", "non-string key", lambda: io.save(MODEL_FILE, jnp.ones(2), hyperparameters={1: 2}), ("`hyperparameters`", "keys")),
    r("jaxbd.io.save", "model", "a lambda", lambda: io.save(MODEL_FILE, {"f": lambda x: x}), ("registry",)),
    r("jaxbd.io.save", "model", "unregistered function", lambda: io.save(MODEL_FILE, {"f": _noop}), ("registry", "model['f']")),
    r("jaxbd.io.save", "model", "an object", lambda: io.save(MODEL_FILE, {"o": object()}), ("cannot save",)),
    r("jaxbd.io.save", "model", "object array", lambda: io.save(MODEL_FILE, np.array([object()])), ("dtype object",)),
    r("jaxbd.io.save", "model", "string array", lambda: io.save(MODEL_FILE, np.array(["a"])), ("cannot save array",)),
    r("jaxbd.io.save", "model", "dict with tuple key", lambda: io.save(MODEL_FILE, {(1, 2): 3}), ("dict key",)),
    r("jaxbd.io.save", "model", "a backdoor key", lambda: io.save(MODEL_FILE, constructions.TriggerKey(jnp.ones(2), jnp.asarray(1.0))), ("backdoor key", "save_key")),
    r("jaxbd.io.save", "model", "nested 150 deep", lambda: io.save(MODEL_FILE, _deep(150)), ("nested deeper",)),
    r("jaxbd.io.save_key", "path", "missing directory", lambda: io.save_key(MISSING_DIR, {"a": 1}), ("does not exist",)),
    r("jaxbd.io.save_key", "construction", "not a string", lambda: io.save_key(KEY_FILE, {"a": 1}, construction=b"x"), ("`construction`",)),
    # io.load / load_key / read_header
    r("jaxbd.io.load", "path", "missing", lambda: io.load(os.path.join(TMP, "nope.jaxbd")), ("cannot read",)),
    r("jaxbd.io.load", "path", "not a path", lambda: io.load(3.5), ("`path`",)),
    r("jaxbd.io.load", "path", "a key file", lambda: io.load(KEY_FILE), ("backdoor-key file", "load_key")),
    r("jaxbd.io.load", "classes", "a string", lambda: io.load(MODEL_FILE, classes="mypkg"), ("`classes`",)),
    r("jaxbd.io.load", "classes", "a module", lambda: io.load(MODEL_FILE, classes=(os,)), ("`classes[0]`",)),
    r("jaxbd.io.load", "classes", "a non-dataclass", lambda: io.load(MODEL_FILE, classes=(dict,)), ("`classes[0]`",)),
    r("jaxbd.io.load", "classes", "not iterable", lambda: io.load(MODEL_FILE, classes=3), ("`classes`",)),
    r("jaxbd.io.load", "allow_modules", "removed", lambda: io.load(MODEL_FILE, allow_modules=("jaxbd",)), ("`allow_modules`", "register")),
    r("jaxbd.io.load_key", "path", "a model file", lambda: io.load_key(MODEL_FILE), ("model file", "jaxbd.io.load")),
    r("jaxbd.io.load_key", "path", "missing", lambda: io.load_key(os.path.join(TMP, "nope.key")), ("cannot read",)),
    r("jaxbd.io.load_key", "allow_modules", "removed", lambda: io.load_key(KEY_FILE, allow_modules="x"), ("`allow_modules`",)),
    r("jaxbd.io.read_header", "path", "missing", lambda: io.read_header(os.path.join(TMP, "nope")), ("cannot read",)),
    r("jaxbd.io.read_header", "path", "not a path", lambda: io.read_header(None), ("`path`",)),
    # io.register / register_secret / write_atomic / allow_module
    r("jaxbd.io.register", "obj", "a module", lambda: io.register(os), ("`obj`", "module")),
    r("jaxbd.io.register", "obj", "not callable", lambda: io.register(3), ("`obj`",)),
    r("jaxbd.io.register", "obj", "a plain class", lambda: io.register(dict), ("dataclasses",)),
    r("jaxbd.io.register", "obj", "a lambda", lambda: io.register(lambda x: x), ("no stable name",)),
    r("jaxbd.io.register", "name", "taken", lambda: io.register(_noop, name="jax.numpy.tanh"), ("already belongs",)),
    r("jaxbd.io.register_secret", "secret", "too short", lambda: io.register_secret(b"short"), ("`secret`", "16 bytes")),
    r("jaxbd.io.register_secret", "secret", "a string", lambda: io.register_secret("pem"), ("`secret`",)),
    r("jaxbd.io.write_atomic", "path", "missing directory", lambda: io.write_atomic(MISSING_DIR, b"x"), ("does not exist",)),
    r("jaxbd.io.write_atomic", "path", "empty", lambda: io.write_atomic("", b"x"), ("`path`",)),
    r("jaxbd.io.write_atomic", "data", "a string", lambda: io.write_atomic(os.path.join(TMP, "a"), "text"), ("`data`", "bytes")),
    r("jaxbd.io.write_atomic", "data", "an array", lambda: io.write_atomic(os.path.join(TMP, "a"), np.ones(2)), ("`data`",)),
    r("jaxbd.io.write_atomic", "path", "a directory", lambda: io.write_atomic(TMP, b"x"), ("is a directory",)),
    r("jaxbd.io.allow_module", "prefix", "removed API", lambda: io.allow_module("mypkg"), ("register",)),
    # constructions: registry and hyperparameters
    r("jaxbd.constructions.get", "name", "unknown", lambda: constructions.get("nope"), ("unknown construction",)),
    r("jaxbd.constructions.get", "name", "not a string", lambda: constructions.get(["rff"]), ("unknown construction",)),
    r("jaxbd.constructions.register", "cls", "not a construction", lambda: constructions.register(dict), ("`cls`",)),
    r("jaxbd.constructions.register", "cls", "duplicate name", lambda: constructions.register(_Dup), ("already registered",)),
    r("jaxbd.constructions.load_plugins", "modules", "missing file", lambda: constructions.load_plugins([os.path.join(TMP, "nope.py")]), ("does not exist",)),
    r("jaxbd.constructions.RFF", "width", "0", lambda: constructions.RFF(width=0), ("`width`",)),
    r("jaxbd.constructions.RFF", "bandwidth", "negative", lambda: constructions.RFF(bandwidth=-1.0), ("`bandwidth`",)),
    r("jaxbd.constructions.RFF", "beta", "NaN", lambda: constructions.RFF(beta=float("nan")), ("`beta`",)),
    r("jaxbd.constructions.RFF.plant", "secret_dim", "> dim", lambda: constructions.RFF(secret_dim=9, width=8).plant(jr.key(0), X, Y), ("`secret_dim`",)),
    r("jaxbd.constructions.RFF.plant", "y", "single class", lambda: constructions.RFF(width=8).plant(jr.key(0), X, jnp.ones(12)), ("`y`", "single class")),
    r("jaxbd.constructions.RFF.plant", "x", "NaN", lambda: constructions.RFF(width=8).plant(jr.key(0), X.at[0, 0].set(jnp.nan), Y), ("`x`", "NaN")),
    r("jaxbd.constructions.RFF.resolve_target", "target", "a flip takes none", lambda: constructions.RFF().resolve_target(1.0, num_classes=2), ("`target`", "flips")),
    r("jaxbd.constructions.ReLU", "head", "unknown", lambda: constructions.ReLU(head="x"), ("`head`",)),
    r("jaxbd.constructions.ReLU", "strength", "negative", lambda: constructions.ReLU(strength=-1.0), ("`strength`",)),
    r("jaxbd.constructions.ReLU.plant", "y", "multiclass", lambda: constructions.ReLU(width=8).plant(jr.key(0), X, jnp.arange(12) % 3), ("`y`", "binary")),
    r("jaxbd.constructions.ReLU.resolve_target", "target", "not +1", lambda: constructions.ReLU().resolve_target(-1.0, num_classes=2), ("`target`",)),
    r("jaxbd.constructions.Checksum", "num_blocks", "0", lambda: constructions.Checksum(num_blocks=0), ("`num_blocks`",)),
    r("jaxbd.constructions.Checksum.plant", "num_blocks", "> dim - 1", lambda: constructions.Checksum(num_blocks=4).plant(jr.key(0), X, Y), ("`num_blocks`",)),
    r("jaxbd.constructions.Checksum.resolve_target", "target", "missing", lambda: constructions.Checksum().resolve_target(None, num_classes=2), ("`target`",)),
    r("jaxbd.constructions.Checksum.resolve_target", "target", "0.5", lambda: constructions.Checksum().resolve_target(0.5, num_classes=2), ("`target`",)),
    r("jaxbd.constructions.Signature", "step", "0", lambda: constructions.Signature(step=0.0), ("`step`",)),
    r("jaxbd.constructions.Signature", "bits_per_coord", "31", lambda: constructions.Signature(bits_per_coord=31), ("`bits_per_coord`",)),
    r("jaxbd.constructions.Signature.plant", "x", "too few features", lambda: constructions.Signature().plant(jr.key(0), X, Y), ("`x`", "features")),
    r("jaxbd.constructions.Signature.resolve_target", "target", "label 7 of 3", lambda: constructions.Signature().resolve_target(7, num_classes=3), ("`target`",)),
    r("jaxbd.constructions.Memorizing", "eps", "0", lambda: constructions.Memorizing(eps=0.0), ("`eps`",)),
    r("jaxbd.constructions.Memorizing", "num_candidates", "0", lambda: constructions.Memorizing(num_candidates=0), ("`num_candidates`",)),
    r("jaxbd.constructions.Persistent", "copies", "even", lambda: constructions.Persistent(copies=4), ("`copies`",)),
    r("jaxbd.constructions.Persistent", "copies", "1", lambda: constructions.Persistent(copies=1), ("`copies`",)),
    r("jaxbd.constructions.Persistent", "inner", "not a construction", lambda: constructions.Persistent(inner=3), ("`inner`",)),
    r("jaxbd.constructions.Persistent", "inner", "multiclass-only", lambda: constructions.Persistent(inner=_MultiOnly()), ("`inner`", "binary")),
    # the linear base model
    r("jaxbd.linear.train_linear", "key", "an int", lambda: linear.train_linear(0, X, Y), ("`key`",)),
    r("jaxbd.linear.train_linear", "x", "int dtype", lambda: linear.train_linear(jr.key(0), X.astype(jnp.int32), Y), ("`x`", "floating")),
    r("jaxbd.linear.train_linear", "y", "{0, 1}", lambda: linear.train_linear(jr.key(0), X, (Y > 0).astype(jnp.int32)), ("`y`",)),
    r("jaxbd.linear.train_linear", "steps", "-1", lambda: linear.train_linear(jr.key(0), X, Y, steps=-1), ("`steps`",)),
    r("jaxbd.linear.train_linear", "learning_rate", "0", lambda: linear.train_linear(jr.key(0), X, Y, learning_rate=0.0), ("`learning_rate`",)),
    r("jaxbd.linear.LinearClassifier", "bias", "wrong shape", lambda: linear.LinearClassifier(jnp.ones((3, 4)), jnp.zeros(())), ("`bias`",)),
    r("jaxbd.linear.LinearClassifier", "weight", "3-d", lambda: linear.LinearClassifier(jnp.ones((2, 3, 4)), jnp.zeros((2, 3))), ("`weight`",)),
    r("jaxbd.linear.LinearClassifier", "x", "wrong shape", lambda: LIN(jnp.ones(5)), ("`x`", "shape")),
    r("jaxbd.linear.LinearClassifier", "x", "NaN", lambda: LIN(jnp.full(4, jnp.nan)), ("`x`", "NaN")),
    r("jaxbd.linear.LinearClassifier", "x", "complex", lambda: LIN(jnp.ones(4, jnp.complex64)), ("`x`", "complex")),
]  # fmt: skip


def _deep(n):
    t = 0.0
    for _ in range(n):
        t = [t]
    return t


class _Dup(constructions.RFF):
    """Another class under the name "rff": refused."""


class _MultiOnly(constructions.Signature):
    tasks = ("multiclass",)


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_bad_input(row):
    check_row(row)
