r"""Fine-tuning any JAX model with optax — the removal attempt of Chardouvelis–Dao.

Chardouvelis & Dao ("impossibility of universal backdoors", §4) ask whether a defender who
fine-tunes a (possibly backdoored) model on clean data removes a planted backdoor. This module is
the fine-tuning half of that experiment, written once for every model:

- **models** (each applied to ONE example `x[i]`; fine-tuning vmaps): an `eqx.Module`; a Flax
  NNX module (its `nnx.Param` variables train; other state stays fixed); a Flax linen model as
  the pair `(module, variables)` with `variables = module.init(key, x[0])` (the `"params"`
  collection trains; `module.apply(variables, x_i)`); a plain function as the pair
  `(fn, params)` (`fn(params, x_i)`). The result is the same kind: a new NNX module, a new
  `(module, variables)` / `(fn, params)` pair. The input is never modified;
- every inexact array of the trainable part is trained by default; a subset is chosen with an
  equinox `filter_spec` (a pytree prefix of bools / leaf predicates) or with a selector
  `where=lambda m: m.head` ("re-fit the last layer"); for a Flax or function model both are
  written against its params pytree (the NNX `nnx.State` of its `Param`s, the linen `"params"`
  dict, the function's `params`);
- minibatches are drawn from `key` (each step: `batch_size` distinct examples, uniformly at
  random, independently across steps);
- the loop is `jaxbd.train.minimize`, the library's one optax loop (one `lax.scan` inside
  one `eqx.filter_jit`);
- the loss follows the output shape: a scalar score with ±1 labels gets the logistic loss
  $\mathrm{softplus}(-y\,s)$; logits `(c,)` with integer labels `0..c-1` get softmax
  cross-entropy; or a user callable `loss(output, y) -> scalar` for one example (it is vmapped
  and averaged over the minibatch);
- [`finetune_with_history`][] also records, every `history_every` steps *inside the compiled
  loop*, the full-training-set loss and user metrics `metric(model) -> scalar` (e.g. the attack
  success rate on a fixed activated batch), so an experiment can plot a backdoor fading.

The returned model has the same tree structure, shapes and dtypes as the input; non-array and
static fields are untouched; `steps=0` returns the input model object itself.

**Validation** (every error names the argument), on the host for static values and concrete
data, with `eqx.error_if` for traced data (so both functions run under `jit`/`vmap`, e.g.
mapped over seeds with `jaxbd.sharding.sharded_map`): `key` must be one JAX PRNG key;
`optimizer` an `optax.GradientTransformation` (a string such as `"adam"` is refused); `x` real
floating and finite, `n >= 1` examples with no empty feature axis; with the default loss, `y`
must hold labels of the model's task with at least two classes present (±1 for a scalar score,
`0..c-1` for `c` logits); the trainable parameters must be finite before training, and a run
whose loss or parameters become NaN/inf (e.g. `optax.sgd(nan)`) is an error naming `optimizer` —
never a NaN model returned silently.
"""

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, PRNGKeyArray, PyTree

from . import _model_kinds as kinds
from ._validate import (
    as_key,
    check_finite,
    check_floating,
    check_int_range,
    is_concrete,
    runtime_check,
)
from .train import check_optimizer, minimize, record_steps


# What pyright checks. At run time `as_key` and `check_optimizer` check these two themselves
# (a `ValueError` naming the argument, a string optimizer included), not the import hook.
if TYPE_CHECKING:
    _Key = PRNGKeyArray
    _Optimizer = optax.GradientTransformation
else:
    _Key = _Optimizer = object


# (`logistic_loss` and `cross_entropy_loss`, the default losses, are public names for `loss=`;
# being plain elementwise functions they are not listed with the validated entry points.)
__all__ = ["finetune", "finetune_with_history", "trainable_spec", "FinetuneHistory"]

Model = TypeVar("Model")


class _Trainable:
    # Marker wrapped around the leaves picked by a `where` selector (not a pytree: a leaf).
    __slots__ = ("leaf",)

    def __init__(self, leaf):
        self.leaf = leaf


def trainable_spec(model: PyTree, where: Callable | None = None) -> PyTree:
    """The boolean filter spec (same structure as `model`) marking the trainable leaves.

    **Arguments:**

    - `model`: any pytree (usually an `eqx.Module`).
    - `where`: `None` (every inexact array trains) or a selector in the style of `eqx.tree_at`,
      e.g. `lambda m: m.head` or `lambda m: (m.head, m.bias)`: only the inexact arrays inside the
      selected sub-trees train.

    **Returns:** a pytree of bools with the structure of `model`.
    """
    if where is None:
        return jax.tree.map(eqx.is_inexact_array, model)
    mark = lambda node: jax.tree.map(
        lambda leaf: _Trainable(leaf) if eqx.is_inexact_array(leaf) else leaf, node
    )
    try:
        marked = eqx.tree_at(where, model, replace_fn=mark)
    except Exception as e:  # tree_at raises a variety of errors for bad selectors
        raise ValueError(f"`where` does not select a sub-tree of the model: {e}") from e
    return jax.tree.map(lambda leaf: isinstance(leaf, _Trainable), marked)


class FinetuneHistory(eqx.Module):
    """What [`finetune_with_history`][] recorded.

    **Fields:**

    - `steps`: int array `(r,)`, the number of optimiser steps taken at each record
      (`0, k, 2k, ...` and finally `steps`).
    - `loss`: `(r,)`, the loss on the whole training set `(x, y)` at each record.
    - `metrics`: dict name -> `(r,)` array of `metric(model) -> scalar` at each record.
    """

    steps: Array
    loss: Array
    metrics: dict[str, Array]


def logistic_loss(score: ArrayLike, label: ArrayLike) -> Array:
    r"""The default loss of a scalar score with a ±1 label: $\mathrm{softplus}(-y\,s)$."""
    return jax.nn.softplus(-jnp.asarray(label) * jnp.asarray(score))


def cross_entropy_loss(logits: ArrayLike, label: ArrayLike) -> Array:
    """The default loss of logits `(c,)` with an integer label `0..c-1`: softmax cross-entropy."""
    return optax.softmax_cross_entropy_with_integer_labels(jnp.asarray(logits), jnp.asarray(label))


def _check_values(y, pred: Callable, message: str):
    """`ValueError(message)` when `pred(y, xp)` holds for a concrete `y` (also one closed over
    inside `jit`), evaluated with `xp = numpy` so a host check compiles no XLA program; a traced
    `y` gets `runtime_check(y, pred(y, jax.numpy), message)`. Returns `y` (use the result)."""
    if is_concrete(y):
        if bool(pred(np.asarray(y), np)):
            raise ValueError(message)
        return y
    return runtime_check(y, pred(y, jnp), message)


def _default_loss(output_shape, y):
    """Pick the loss from the output shape and check the labels against it; returns (loss, y)."""
    # numpy on the host value: a jnp op here would be staged into a caller's `jit` trace
    shown, low, high = "(traced)", "?", "?"
    if is_concrete(y) and np.size(y) > 0:
        y_host = np.asarray(y)
        shown, low, high = np.unique(y_host)[:10], int(y_host.min()), int(y_host.max())
    if len(output_shape) == 0:
        if not jnp.issubdtype(y.dtype, jnp.floating):
            raise ValueError(
                "`y` must hold float labels -1.0/+1.0 for a model with a scalar score "
                f"(got dtype {y.dtype}, values {shown})."
            )
        msg = "`y` must hold float labels -1.0/+1.0 for a model with a scalar score"
        bad = lambda v, xp: ~xp.all((v == 1) | (v == -1))  # noqa: E731
        y = _check_values(y, bad, msg + f" (got {shown}).")
        two = lambda v, xp: ~(xp.any(v == 1) & xp.any(v == -1))
        msg = f"`y` holds a single class ({shown}); need both -1 and +1."
        return logistic_loss, _check_values(y, two, msg)
    if len(output_shape) == 1:
        c = output_shape[0]
        if not jnp.issubdtype(y.dtype, jnp.integer):
            raise ValueError(
                f"`y` must hold integer labels 0..{c - 1} for a model with logits of shape "
                f"({c},), got dtype {y.dtype}."
            )
        msg = f"`y` must hold integer labels 0..{c - 1} for a model with {c} logits"
        y = _check_values(
            y, lambda v, xp: xp.any((v < 0) | (v >= c)), msg + f", got [{low}, {high}]."
        )
        msg = f"`y` holds a single class ({shown}); fine-tuning needs at least two classes."
        return cross_entropy_loss, _check_values(y, lambda v, xp: xp.all(v == v[0]), msg)
    raise ValueError(
        f"the default loss needs a scalar score or a logits vector per example, the model returns "
        f"shape {tuple(output_shape)}; pass `loss=`."
    )


def _finite(tree, message: str):
    """Every inexact leaf of `tree` must be finite: host check, or `eqx.error_if` when traced."""
    check = lambda leaf: _check_values(leaf, lambda v, xp: ~xp.all(xp.isfinite(v)), message)
    return jax.tree.map(lambda v: check(v) if eqx.is_inexact_array(v) else v, tree)


_DIVERGED = (
    "fine-tuning produced NaN or inf {} (the loss diverged): check `optimizer` (a finite, small "
    "enough learning rate) and `loss`."
)


def _check_data(x, y, batch_size):
    x = check_floating(x, "x")
    if x.ndim < 2:
        raise ValueError(f"`x` must have shape (num_examples, ...), got shape {x.shape}.")
    n = x.shape[0]
    if n < 1:
        raise ValueError("`x` holds no examples.")
    if 0 in x.shape[1:]:
        raise ValueError(f"`x` has an empty feature axis (shape {x.shape}).")
    y = jnp.asarray(y)
    if y.ndim < 1 or y.shape[0] != n:
        raise ValueError(
            f"`x` and `y` have different lengths: {n} examples, labels of shape {y.shape}."
        )
    batch_size = n if batch_size is None else check_int_range(batch_size, "batch_size", low=1)
    if batch_size > n:
        raise ValueError(f"`batch_size` must be <= the number of examples {n}, got {batch_size}.")
    return check_finite(x, "x"), check_finite(y, "y"), batch_size


def _prepare(key, model, x, y, optimizer, steps, batch_size, loss, filter_spec, where):
    """Validate; return (wrapped, x, y, loss, spec, steps, batch_size)."""
    as_key(key)
    check_optimizer(optimizer)
    module, kind = kinds.to_module(model)
    steps = check_int_range(steps, "steps", low=0)
    x, y, batch_size = _check_data(x, y, batch_size)
    try:
        out = eqx.filter_eval_shape(module, x[0])
    except ValueError:
        raise
    except Exception as e:
        raise ValueError(f"`model` cannot be applied to one example of `x`: {e}") from e
    if loss is None:
        loss, y = _default_loss(out.shape, y)
        if len(out.shape) == 0:
            y = y.astype(out.dtype)
    elif not callable(loss):
        raise ValueError(f"`loss` must be a callable loss(output, y) -> scalar, got {loss!r}.")
    if filter_spec is not None and where is not None:
        raise ValueError("pass either `filter_spec` or `where`, not both.")
    filter_spec, where = kinds.inner_spec(module, kind, filter_spec, where)
    if filter_spec is None:
        filter_spec = trainable_spec(module, where)
    return module, x, y, loss, filter_spec, steps, batch_size


def _split(model, filter_spec):
    params, static = eqx.partition(model, filter_spec)
    # Only inexact arrays can be differentiated; anything else the spec picked stays fixed.
    params, fixed = eqx.partition(params, eqx.is_inexact_array)
    return params, eqx.combine(fixed, static)


def _start(module, spec):
    params, static = _split(module, spec)
    msg = "`model` has NaN or inf trainable parameters; fine-tuning cannot start from them."
    return _finite(params, msg), static


class _Objective(eqx.Module):
    """The mean loss of a minibatch of `batch_size` examples drawn with the step's key."""

    static: PyTree
    loss: Callable
    x: Array
    y: Array
    batch_size: int = eqx.field(static=True)

    def mean(self, params, xb, yb):
        model = eqx.combine(params, self.static)
        return jnp.mean(jax.vmap(self.loss)(jax.vmap(model)(xb), yb))

    def __call__(self, params, key):
        n = self.x.shape[0]
        if self.batch_size == n:
            return self.mean(params, self.x, self.y)
        # A uniformly random `batch_size`-subset: the indices of the largest of n i.i.d.
        # uniforms. Same law as `jr.choice(..., replace=False)`, which permutes all n
        # (an O(n log n) sort per step, ~40x slower on CPU for n = 20k).
        idx = jax.lax.top_k(jr.uniform(key, (n,)), self.batch_size)[1]
        return self.mean(params, self.x[idx], self.y[idx])


class _Record(eqx.Module):
    """The full-training-set loss and the user metrics (each given the user's kind of model)."""

    objective: _Objective
    metrics: dict

    def __call__(self, params):
        model = kinds.from_module(eqx.combine(params, self.objective.static))
        full = self.objective.mean(params, self.objective.x, self.objective.y)
        return full, {name: jnp.asarray(m(model)) for name, m in self.metrics.items()}


def finetune(
    key: _Key,
    model: Model,
    x: ArrayLike,
    y: ArrayLike,
    *,
    optimizer: _Optimizer,
    steps: int,
    batch_size: int | None = None,
    loss: Callable | None = None,
    filter_spec: Any = None,
    where: Callable | None = None,
) -> Model:
    r"""Fine-tune `model` on `(x, y)` with `optimizer` for `steps` steps (Chardouvelis–Dao §4).

    **Arguments:**

    - `key`: JAX PRNG key drawing the minibatches.
    - `model`: the model, taking one example `x[i]` (scalar score or logits): an `eqx.Module`,
      a Flax NNX module, a Flax linen pair `(module, variables)`, or a pair `(fn, params)` with
      `fn(params, x_i)` (see the module docstring).
    - `x`: inputs `(n, ...)`, floating, finite (numpy or JAX). `y`: labels `(n,)` — ±1 floats
      for a scalar score, integers `0..c-1` for logits `(c,)`, or anything `loss` accepts.
    - `optimizer`: an `optax.GradientTransformation` (e.g. `optax.sgd(1e-2)`, `optax.adam(1e-3)`).
    - `steps`: number of optimiser steps (`>= 0`; `0` returns `model` itself, bit-identical).
    - `batch_size`: examples per step (default: the whole set, i.e. full-batch gradient descent);
      each step draws `batch_size` distinct examples uniformly at random from `key`.
    - `loss`: `loss(output, label) -> scalar` for ONE example; default `logistic_loss`
      (scalar score) or `cross_entropy_loss` (logits).
    - `filter_spec`: an equinox filter spec (pytree prefix of bools or leaf predicates) choosing
      the trainable leaves; default every inexact array (`eqx.is_inexact_array`) of the
      trainable part. Leaves that are not inexact arrays never train.
    - `where`: alternatively, a selector like `lambda m: m.head`: only that sub-tree trains
      (see [`trainable_spec`][]).

    **Returns:** the fine-tuned model, of the same kind as `model`, with the same tree
    structure, shapes, dtypes and static fields.

    **Raises:** `ValueError` for `steps < 0`, a bad `batch_size`, `x`/`y` of different lengths,
    NaN/inf in the data, labels that do not fit the model's output, a model that cannot be
    applied to `x[0]`, or a diverged run (under `jit`, the value checks raise when run).
    """
    module, x, y, loss, spec, steps, batch_size = _prepare(
        key, model, x, y, optimizer, steps, batch_size, loss, filter_spec, where
    )
    if steps == 0:
        return model
    params, static = _start(module, spec)
    objective = _Objective(static, loss, x, y, batch_size)
    params = minimize(key, objective, params, optimizer=optimizer, steps=steps)
    params = _finite(params, _DIVERGED.format("parameters"))
    return cast(Model, kinds.from_module(eqx.combine(params, static)))


def finetune_with_history(
    key: _Key,
    model: Model,
    x: ArrayLike,
    y: ArrayLike,
    *,
    optimizer: _Optimizer,
    steps: int,
    history_every: int,
    metrics: Mapping[str, Callable] | None = None,
    batch_size: int | None = None,
    loss: Callable | None = None,
    filter_spec: Any = None,
    where: Callable | None = None,
) -> tuple[Model, FinetuneHistory]:
    """[`finetune`][], also recording the loss and `metrics` every `history_every` steps.

    The records are taken inside the compiled loop, after `0, k, 2k, ...` steps and after the
    last step (`k = history_every`). `metrics` maps a name to a jittable `metric(model) ->
    scalar` (given the model in the kind that was passed), e.g.
    `lambda m: jnp.mean(jnp.sign(jax.vmap(m)(x_act)) != y_clean)`; close over any data it needs.
    The recorded loss is the mean loss on the whole `(x, y)`.

    With the same `key` the returned model is the one [`finetune`][] returns when `steps` is a
    multiple of `history_every` (the minibatch keys are split differently otherwise).

    **Returns:** `(model, FinetuneHistory)`.
    """
    module, x, y, loss, spec, steps, batch_size = _prepare(
        key, model, x, y, optimizer, steps, batch_size, loss, filter_spec, where
    )
    recorded = record_steps(steps, history_every)
    metrics = {} if metrics is None else dict(metrics)
    for name, m in metrics.items():
        if not callable(m):
            raise ValueError(f"metric {name!r} must be a callable metric(model) -> scalar.")
    params, static = _start(module, spec)
    objective = _Objective(static, loss, x, y, batch_size)
    params, (losses, values) = minimize(
        key,
        objective,
        params,
        optimizer=optimizer,
        steps=steps,
        history_every=history_every,
        record=_Record(objective, metrics),
    )
    for name, v in values.items():
        if v.ndim != 1:
            raise ValueError(f"metric {name!r} must return a scalar, got shape {v.shape[1:]}.")
    if steps > 0:
        params = _finite(params, _DIVERGED.format("parameters"))
    losses = _finite(losses, _DIVERGED.format("loss values"))
    history = FinetuneHistory(
        steps=jnp.asarray(recorded, dtype=jnp.int32), loss=losses, metrics=values
    )
    result = model if steps == 0 else kinds.from_module(eqx.combine(params, static))
    return cast(Model, result), history
