"""Bad `expect=` classes for `jaxbd.io.load` / `load_key` (the argument that gives type
checkers the loaded object's type): a non-class and a file holding another class are refused
with a `ValueError` naming what was expected. And an `eqx.Module` that is not callable, where
a model is annotated `eqx.Module` but called (`persistent.make_persistent`)."""

import atexit
import functools
import os
import shutil
import tempfile

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import pytest
from badinput import Row, check_row, ids

from jaxbd import io, linear, persistent, rff


class _Weights(eqx.Module):
    """An equinox module with no `__call__`: not a model."""

    w: jax.Array


@functools.cache
def _files() -> tuple[str, str]:
    """A saved model and a saved key (made on first use, so collecting the table is cheap)."""
    d = tempfile.mkdtemp(prefix="jaxbd-typing-")
    atexit.register(shutil.rmtree, d, ignore_errors=True)  # no folder left in /tmp
    x = jr.normal(jr.key(0), (16, 3))
    y = jnp.where(x[:, 0] >= 0, 1.0, -1.0)
    _, bkey = rff.backdoor(
        jr.key(1), x, y, width=8, bandwidth=1.0, secret_dim=3, beta=0.1, steps=2
    )
    model = io.save(
        os.path.join(d, "m.jaxbd"), linear.LinearClassifier(jnp.ones(3), jnp.zeros(()))
    )
    return model, io.save_key(os.path.join(d, "k.key"), bkey)


def _model():
    return _files()[0]


def _key():
    return _files()[1]


r = Row
ROWS = [
    r("jaxbd.io.load", "expect", "not a class", lambda: io.load(_model(), expect=3), ("expect", "class")),
    r("jaxbd.io.load", "expect", "another class", lambda: io.load(_model(), expect=rff.RFFClassifier), ("LinearClassifier", "RFFClassifier")),
    r("jaxbd.io.load_key", "expect", "not a class", lambda: io.load_key(_key(), expect="RFFBackdoorKey"), ("expect", "class")),
    r("jaxbd.io.load_key", "expect", "another class", lambda: io.load_key(_key(), expect=rff.RFFClassifier), ("RFFBackdoorKey", "RFFClassifier")),
    r("jaxbd.persistent.make_persistent", "model", "module not callable", lambda: persistent.make_persistent(_Weights(jnp.ones(3))), ("`model`", "callable")),
]  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_bad_expect(row):
    check_row(row)
