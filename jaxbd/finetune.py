r"""Fine-tuning any `eqx.Module` model with optax — the removal attempt of Chardouvelis–Dao.

Chardouvelis & Dao ("impossibility of universal backdoors", §4) ask whether a defender who
fine-tunes a (possibly backdoored) model on clean data removes a planted backdoor. This module is
the fine-tuning half of that experiment, written once for every model of the library:

- every inexact array of the model is trainable by default (`eqx.is_inexact_array`); a subset is
  chosen with an equinox `filter_spec` (a pytree prefix of bools / leaf predicates) or with a
  selector `where=lambda m: m.head` (only that sub-tree trains — "re-fit the last layer");
- minibatches are drawn from `key` (each step: `batch_size` distinct examples, uniformly at
  random, independently across steps);
- the whole loop is one `lax.scan` inside one `eqx.filter_jit`;
- the loss follows the output shape: a scalar score with ±1 labels gets the logistic loss
  $\mathrm{softplus}(-y\,s)$; logits `(c,)` with integer labels `0..c-1` get softmax
  cross-entropy; or a user callable `loss(output, y) -> scalar` for one example (it is vmapped
  and averaged over the minibatch);
- [`finetune_with_history`][] also records, every `history_every` steps *inside the compiled
  loop*, the full-training-set loss and user metrics `metric(model) -> scalar` (e.g. the attack
  success rate on a fixed activated batch), so an experiment can plot a backdoor fading as
  fine-tuning proceeds.

The returned model has the same tree structure, shapes and dtypes as the input; non-array and
static fields are untouched; `steps=0` returns the input model object itself.

**Validation** (every error names the argument): `key` must be one JAX PRNG key; `optimizer` an
`optax.GradientTransformation` (a string such as `"adam"` is refused: pass `optax.adam(1e-3)`);
`x` real floating and finite, `n >= 1` examples with no empty feature axis; with the default
loss, `y` must hold labels of the model's task with at least two classes present (±1 for a
scalar score, `0..c-1` for `c` logits); the model's trainable parameters must be finite before
training, and a run whose loss or parameters become NaN/inf (a diverging or NaN learning rate,
e.g. `optax.sgd(nan)`) is a `ValueError` naming `optimizer` — never a NaN model returned
silently.
"""

from collections.abc import Callable, Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, PRNGKeyArray

from ._validate import (
    as_key,
    check_finite,
    check_floating,
    check_int_range,
    check_labels,
    is_concrete,
)


__all__ = ["finetune", "finetune_with_history", "trainable_spec", "FinetuneHistory"]


class _Trainable:
    # Marker wrapped around the leaves picked by a `where` selector (not a pytree: a leaf).
    __slots__ = ("leaf",)

    def __init__(self, leaf):
        self.leaf = leaf


def trainable_spec(model: eqx.Module, where: Callable | None = None):
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
    - `metrics`: dict name -> `(r,)` array of `metric(model)` at each record.
    """

    steps: Array
    loss: Array
    metrics: dict[str, Array]


def _logistic(score, label):
    return jax.nn.softplus(-label * score)


def _cross_entropy(logits, label):
    return optax.softmax_cross_entropy_with_integer_labels(logits, label)


def _default_loss(output_shape, y, x):
    """Pick the loss from the output shape and check the labels against it (host-side)."""
    y_np = np.asarray(y)
    if len(output_shape) == 0:
        if not np.issubdtype(y_np.dtype, np.floating) or not set(np.unique(y_np).tolist()) <= {
            -1.0,
            1.0,
        }:
            raise ValueError(
                "`y` must hold float labels -1.0/+1.0 for a model with a scalar score "
                f"(got dtype {y_np.dtype}, values {np.unique(y_np)[:10]})."
            )
        check_labels(y, x, num_classes=2, training=True)  # both classes present
        return _logistic
    if len(output_shape) == 1:
        c = output_shape[0]
        if not np.issubdtype(y_np.dtype, np.integer):
            raise ValueError(
                f"`y` must hold integer labels 0..{c - 1} for a model with logits of shape "
                f"({c},), got dtype {y_np.dtype}."
            )
        if y_np.size and (y_np.min() < 0 or y_np.max() >= c):
            raise ValueError(
                f"`y` must hold integer labels 0..{c - 1} for a model with {c} logits, got "
                f"values in [{y_np.min()}, {y_np.max()}]."
            )
        if np.unique(y_np).size < 2:
            raise ValueError(
                f"`y` holds a single class ({np.unique(y_np).tolist()}); fine-tuning needs at "
                "least two classes."
            )
        return _cross_entropy
    raise ValueError(
        f"the default loss needs a scalar score or a logits vector per example, the model returns "
        f"shape {tuple(output_shape)}; pass `loss=`."
    )


def _check_optimizer(optimizer):
    if isinstance(optimizer, (str, bytes)) or not (
        callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None))
    ):
        raise ValueError(
            "`optimizer` must be an optax.GradientTransformation (e.g. optax.adam(1e-3) or "
            f"optax.sgd(1e-2)), got {optimizer!r}."
        )
    return optimizer


def _check_params_finite(params, what: str) -> None:
    """Host check (one reduction per leaf, after the compiled loop) that `params` are finite."""
    for leaf in jax.tree.leaves(params):
        if eqx.is_inexact_array(leaf) and not bool(jnp.all(jnp.isfinite(leaf))):
            raise ValueError(what)


_DIVERGED = (
    "fine-tuning produced NaN or inf parameters (the loss diverged): check `optimizer` (a "
    "finite, small enough learning rate) and `loss`."
)


def _prepare(model, x, y, steps, batch_size, loss, filter_spec, where):
    """Validate everything host-side; return (x, y, loss_fn, spec, steps, batch_size)."""
    if not isinstance(model, eqx.Module):
        raise ValueError(f"`model` must be an eqx.Module, got {type(model).__name__}.")
    steps = check_int_range(steps, "steps", low=0)
    if isinstance(x, (str, bytes)) or x is None:
        raise ValueError(f"`x` must be a floating array, got {type(x).__name__}.")
    x = jnp.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"`x` must have shape (num_examples, ...), got shape {x.shape}.")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"`x` must have a floating dtype, got {x.dtype}.")
    x = check_floating(x, "x")
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
    if not is_concrete(x) or not is_concrete(y):
        raise ValueError("`x` and `y` must be concrete arrays (call finetune outside jit).")
    x = check_finite(x, "x")
    y = check_finite(y, "y")
    batch_size = n if batch_size is None else check_int_range(batch_size, "batch_size", low=1)
    if batch_size > n:
        raise ValueError(f"`batch_size` must be <= the number of examples {n}, got {batch_size}.")
    try:
        out = eqx.filter_eval_shape(model, x[0])
    except ValueError:
        raise
    except Exception as e:
        raise ValueError(f"`model` cannot be applied to one example of `x`: {e}") from e
    if loss is None:
        loss = _default_loss(out.shape, y, x)
        if len(out.shape) == 0:
            y = y.astype(out.dtype)
    elif not callable(loss):
        raise ValueError(f"`loss` must be a callable loss(output, y) -> scalar, got {loss!r}.")
    if filter_spec is not None and where is not None:
        raise ValueError("pass either `filter_spec` or `where`, not both.")
    if filter_spec is None:
        filter_spec = trainable_spec(model, where)
    return x, y, loss, filter_spec, steps, batch_size


def _check_call(key, model, optimizer):
    """Checks of the public entry points that the private loop (`_prepare`) does not need."""
    as_key(key)
    _check_optimizer(optimizer)


def _check_start(model, spec):
    params, _ = _split(model, spec)
    _check_params_finite(
        params, "`model` has NaN or inf trainable parameters; fine-tuning cannot start from them."
    )


def _split(model, filter_spec):
    params, static = eqx.partition(model, filter_spec)
    # Only inexact arrays can be differentiated; anything else the spec picked stays fixed.
    params, fixed = eqx.partition(params, eqx.is_inexact_array)
    return params, eqx.combine(fixed, static)


def _mean_loss(params, static, loss_fn, xb, yb):
    model = eqx.combine(params, static)
    out = jax.vmap(model)(xb)
    return jnp.mean(jax.vmap(loss_fn)(out, yb))


def _apply(params, updates):
    # Keep every leaf's dtype (optax updates can carry a wider dtype under x64).
    return jax.tree.map(
        lambda p, u: p if u is None else (p + u).astype(p.dtype),
        params,
        updates,
        is_leaf=lambda v: v is None,
    )


def _optax_promotion():
    # Some optax transformations (e.g. Adam's bias correction `b1 ** count`, count int32) rely on
    # standard dtype promotion; allow it for the optimiser only, so a user running with
    # `jax_numpy_dtype_promotion="strict"` can still use them. Our own code stays strict.
    return jax.numpy_dtype_promotion("standard")


def _make_step(static, loss_fn, optimizer, x, y, batch_size):
    n = x.shape[0]
    grad_fn = jax.value_and_grad(_mean_loss)

    def step(carry, key):
        params, opt_state = carry
        if batch_size == n:
            xb, yb = x, y
        else:
            # A uniformly random `batch_size`-subset: the indices of the largest of n i.i.d.
            # uniforms. Same law as `jr.choice(..., replace=False)`, which permutes all n
            # (an O(n log n) sort per step, ~40x slower on CPU for n = 20k).
            idx = jax.lax.top_k(jr.uniform(key, (n,)), batch_size)[1]
            xb, yb = x[idx], y[idx]
        value, grads = grad_fn(params, static, loss_fn, xb, yb)
        with _optax_promotion():
            updates, opt_state = optimizer.update(grads, opt_state, params)
        return (_apply(params, updates), opt_state), value

    return step


@eqx.filter_jit
def _run(key, params, static, x, y, optimizer, loss_fn, steps, batch_size):
    step = _make_step(static, loss_fn, optimizer, x, y, batch_size)
    with _optax_promotion():
        opt_state = optimizer.init(params)
    keys = jr.split(jr.split(key)[0], steps)  # the same keys as `_run_history` uses
    (params, _), _ = jax.lax.scan(step, (params, opt_state), keys)
    return params


@eqx.filter_jit
def _run_history(key, params, static, x, y, optimizer, loss_fn, steps, batch_size, every, metrics):
    step = _make_step(static, loss_fn, optimizer, x, y, batch_size)
    with _optax_promotion():
        opt_state = optimizer.init(params)
    num_chunks, rest = divmod(steps, every)

    def record(p):
        model = eqx.combine(p, static)
        full = _mean_loss(p, static, loss_fn, x, y)
        return full, {name: jnp.asarray(m(model)) for name, m in metrics.items()}

    def chunk(carry, keys):
        carry, _ = jax.lax.scan(step, carry, keys)
        return carry, record(carry[0])

    k_chunks, k_rest = jr.split(key)
    first = record(params)
    keys = jr.split(k_chunks, num_chunks * every).reshape(num_chunks, every)
    carry, (losses, values) = jax.lax.scan(chunk, (params, opt_state), keys)
    stack = lambda a, b: jnp.concatenate([a[None], b], axis=0)
    losses = stack(first[0], losses)
    values = {name: stack(first[1][name], values[name]) for name in metrics}
    if rest:
        carry, _ = jax.lax.scan(step, carry, jr.split(k_rest, rest))
        last = record(carry[0])
        losses = jnp.concatenate([losses, last[0][None]])
        values = {name: jnp.concatenate([values[name], last[1][name][None]]) for name in metrics}
    return carry[0], losses, values


def finetune(
    key: PRNGKeyArray,
    model: eqx.Module,
    x: Array,
    y: Array,
    *,
    optimizer: optax.GradientTransformation,
    steps: int,
    batch_size: int | None = None,
    loss: Callable | None = None,
    filter_spec=None,
    where: Callable | None = None,
) -> eqx.Module:
    r"""Fine-tune `model` on `(x, y)` with `optimizer` for `steps` steps (Chardouvelis–Dao §4).

    **Arguments:**

    - `key`: JAX PRNG key drawing the minibatches.
    - `model`: any `eqx.Module` taking one example `x[i]` (scalar score or logits).
    - `x`: inputs `(n, ...)`, floating, finite. `y`: labels `(n,)` — ±1 floats for a scalar
      score, integers `0..c-1` for logits `(c,)`, or anything `loss` accepts.
    - `optimizer`: an `optax.GradientTransformation` (e.g. `optax.sgd(1e-2)`, `optax.adam(1e-3)`).
    - `steps`: number of optimiser steps (`>= 0`; `0` returns `model` itself, bit-identical).
    - `batch_size`: examples per step (default: the whole set, i.e. full-batch gradient descent);
      each step draws `batch_size` distinct examples uniformly at random from `key`.
    - `loss`: `loss(output, label) -> scalar` for ONE example; default logistic
      $\mathrm{softplus}(-y s)$ (scalar score) or softmax cross-entropy (logits).
    - `filter_spec`: an equinox filter spec (pytree prefix of bools or leaf predicates) choosing
      the trainable leaves; default every inexact array (`eqx.is_inexact_array`). Leaves that are
      not inexact arrays never train.
    - `where`: alternatively, a selector like `lambda m: m.head`: only that sub-tree trains
      (see [`trainable_spec`][]).

    **Returns:** the fine-tuned model: same tree structure, shapes, dtypes and static fields.

    **Raises:** `ValueError` for `steps < 0`, a bad `batch_size`, `x`/`y` of different lengths,
    NaN/inf in the data, labels that do not fit the model's output, or a model that cannot be
    applied to `x[0]`.
    """
    _check_call(key, model, optimizer)
    x, y, loss, spec, steps, batch_size = _prepare(
        model, x, y, steps, batch_size, loss, filter_spec, where
    )
    if steps == 0:
        return model
    _check_start(model, spec)
    params, static = _split(model, spec)
    params = _run(key, params, static, x, y, optimizer, loss, steps, batch_size)
    _check_params_finite(params, _DIVERGED)
    return eqx.combine(params, static)


def finetune_with_history(
    key: PRNGKeyArray,
    model: eqx.Module,
    x: Array,
    y: Array,
    *,
    optimizer: optax.GradientTransformation,
    steps: int,
    history_every: int,
    metrics: Mapping[str, Callable] | None = None,
    batch_size: int | None = None,
    loss: Callable | None = None,
    filter_spec=None,
    where: Callable | None = None,
) -> tuple[eqx.Module, FinetuneHistory]:
    """[`finetune`][], also recording the loss and `metrics` every `history_every` steps.

    The records are taken inside the compiled loop, after `0, k, 2k, ...` steps and after the
    last step (`k = history_every`). `metrics` maps a name to a jittable `metric(model) ->
    scalar`, e.g. `lambda m: jnp.mean(jnp.sign(jax.vmap(m)(x_act)) != y_clean)`; close over any
    data it needs. The recorded loss is the mean loss on the whole `(x, y)`.

    With the same `key` the returned model is the one [`finetune`][] returns when `steps` is a
    multiple of `history_every` (the minibatch keys are split differently otherwise).

    **Returns:** `(model, FinetuneHistory)`.
    """
    _check_call(key, model, optimizer)
    x, y, loss, spec, steps, batch_size = _prepare(
        model, x, y, steps, batch_size, loss, filter_spec, where
    )
    every = check_int_range(history_every, "history_every", low=1)
    metrics = {} if metrics is None else dict(metrics)
    for name, m in metrics.items():
        if not callable(m):
            raise ValueError(f"metric {name!r} must be a callable metric(model) -> scalar.")
    _check_start(model, spec)
    params, static = _split(model, spec)
    params, losses, values = _run_history(
        key, params, static, x, y, optimizer, loss, steps, batch_size, every, metrics
    )
    if steps > 0:
        _check_params_finite(params, _DIVERGED)
    if not bool(jnp.all(jnp.isfinite(losses))):
        raise ValueError(_DIVERGED.replace("parameters", "loss values", 1))
    for name, v in values.items():
        if v.ndim != 1:
            raise ValueError(f"metric {name!r} must return a scalar, got shape {v.shape[1:]}.")
    num_chunks, rest = divmod(steps, every)
    record_steps = [i * every for i in range(num_chunks + 1)] + ([steps] if rest else [])
    history = FinetuneHistory(
        steps=jnp.asarray(record_steps, dtype=jnp.int32), loss=losses, metrics=values
    )
    result = model if steps == 0 else eqx.combine(params, static)
    return result, history
