"""Row builders and shared fixtures for the bad-input tables (`tests/test_bad_inputs_*.py`).

A table reads as data: per public function, which argument is checked with which bad values.
[`table`][] states the call once (through [`over`][], the good call with one argument to
replace) and lists, per argument, its `(bad, value, *words)` cases; [`cases`][] does the same
for one argument through a one-argument call. A case's error must name the argument in
backticks plus its `words`; a case whose third item is a tuple gives the words in full instead
(an error that names another argument, e.g. `model` for a mismatched `input_dim`). A
[`lazy`][] value (or `over` argument) is built when its row runs, so building a table compiles
nothing; each table file runs its rows with `test_bad_input = bad_input_test(ROWS)`.
"""

import inspect

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from badinput import Row, check_row, done, ids, jit, vmap


NAN, INF = float("nan"), float("inf")
R = RuntimeError  # eqx.error_if at run time (an EquinoxRuntimeError)


class Logits(eqx.Module):
    w: jax.Array

    def __call__(self, x):
        return self.w @ x


class IntScore(eqx.Module):
    """A model whose score is an integer (a silent cast would hide it)."""

    def __call__(self, x):
        return jnp.sum(x).astype(jnp.int32)


def bad_input_test(rows):
    """The test that runs a table, one case per row id: `test_bad_input = bad_input_test(ROWS)`."""

    @pytest.mark.parametrize("row", rows, ids=ids(rows))
    def test_bad_input(row):
        check_row(row)

    return test_bad_input


def put(x, index, value):
    """A numpy copy of `x` with `x[index] = value` (numpy: building the table compiles nothing)."""
    a = np.array(x, copy=True)
    a[index] = value
    return a


def ones(*shape):
    return np.ones(shape, np.float32)


def over(f, *args, **kw):
    """The call `f(*args, **kw)` as a function of keyword replacements: `over(f, ...)(n=0)` is
    `f(*args, **kw)` with the argument `n` replaced where it stands (positionally when `args`
    holds it), so a table row makes exactly the call a hand-written row would. A [`lazy`][]
    argument is built when the call runs."""
    names = list(inspect.signature(f).parameters)

    def call(**bad):
        a = [v() if isinstance(v, lazy) else v for v in args]
        k = {n: v() if isinstance(v, lazy) else v for n, v in kw.items()}
        for name, value in bad.items():
            i = names.index(name) if name in names else len(a)
            if i < len(a):
                a[i] = value
            else:
                k[name] = value
        return f(*a, **k)

    return call


class lazy:
    """A case's value built only when its row runs, `f(*args)` (a jax op run while the table
    is built would compile at import time, in every test process)."""

    def __init__(self, f, *args):
        self.f, self.args = f, args

    def __call__(self):
        return self.f(*self.args)


def _run(mode, call, value, compiled=False):
    if compiled:  # `call` runs an already-jitted entry point: no new trace per row
        return lambda: done(call(value() if isinstance(value, lazy) else value))
    if not isinstance(value, lazy):
        return {"jit": jit, "vmap": vmap}.get(mode, lambda f, v: lambda: f(v))(call, value)
    if mode in ("jit", "vmap"):
        return lambda: {"jit": jit, "vmap": vmap}[mode](call, value())()
    return lambda: call(value())


def _words(argument, more):
    if len(more) == 1 and isinstance(more[0], tuple):
        return more[0]
    return (f"`{argument}`", *more)


def cases(target, argument, call, values, *words, mode="eager", raises=ValueError, compiled=False):
    """One row per `(bad, value, *more_words)` in `values`: `call(value)` run eagerly, under
    `jit` or under `vmap` (`mode`), its error naming `argument`, `words` and `more_words`. A
    [`lazy`][] value is built when the row runs. `compiled`: `call` runs a jitted entry point
    shared by several rows (compiled once; each row's bad value still raises when it runs)."""
    return [
        Row(target, argument, bad, _run(mode, call, value, compiled),
            _words(argument, (*words, *more)), raises, mode)
        for bad, value, *more in values
    ]  # fmt: skip


def table(target, call, arguments, mode="eager", raises=ValueError):
    """[`cases`][] for each `argument: values` of `arguments`, through `call` (an [`over`][])."""
    return [
        row
        for argument, values in arguments.items()
        for row in cases(target, argument, lambda v, a=argument: call(**{a: v}), values,
                         mode=mode, raises=raises)
    ]  # fmt: skip


def bad_dims(x, good: int):
    """Cases for one example `x` of dimension `good`: NaN, inf, int, complex, bool, shape."""
    return [
        ("nan", put(x, 1, NAN), "NaN"),
        ("inf", put(x, 0, -INF), "inf"),
        ("int", np.ones(good, np.int32), "floating"),
        ("complex", np.ones(good, np.complex64), "complex"),
        ("bool", np.ones(good, bool)),
        ("wrong-shape", ones(good + 1)),
        ("batch", ones(2, good)),
    ]


def model_rows(target, model, x, d, *, nan_at, inf_batch, vmapped=None, dims=None, methods=()):
    """The `x` rows of a backdoored model class `target`: `model(x)` on `dims` (default
    `bad_dims(x, d)`), a NaN at `nan_at` under jit, `inf_batch` under vmap (through `vmapped`,
    default `model`), then `(method, bad, jit-or-vmap, value)` rows for its other methods."""
    vmapped = model if vmapped is None else vmapped
    call = target + ".__call__"
    return [
        *cases(call, "x", lambda v: model(v), bad_dims(x, d) if dims is None else dims),
        *cases(call, "x", lambda v: model(v), [("nan", put(x, nan_at, NAN), "NaN")], mode="jit"),
        *cases(call, "x", lambda v: vmapped(v), [("inf", inf_batch)], mode="vmap"),
        *[
            Row(f"{target}.{m}", "x", bad, how(lambda v, m=m: getattr(model, m)(v), value),
                ("`x`",), mode=how.__name__)
            for m, bad, how, value in methods
        ],
    ]  # fmt: skip
