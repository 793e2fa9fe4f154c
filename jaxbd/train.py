r"""The one optax training loop of jaxbd: `minimize(key, objective, params, ...)`.

Every gradient-trained part of the library (fine-tuning in [`jaxbd.finetune`][], the trained
random-ReLU head of [`jaxbd.relu`][]) runs this loop; it is public so a user's construction
trains the same way. It is a plain optax loop written once:

- `steps` optimiser steps of `optimizer` on `objective(params, key_t)`, one fresh key `key_t`
  per step (for minibatches or noise; an objective may ignore it), all inside one `lax.scan`
  in one `eqx.filter_jit`;
- every leaf keeps its dtype (optax updates can come back wider under `jax_enable_x64`);
- the optimiser runs under standard dtype promotion (optax's Adam raises its decay rates to an
  int32 step count), so callers using `jax_numpy_dtype_promotion="strict"` can still train —
  the objective itself stays under the caller's promotion rules;
- with `history_every=k`, `record(params)` is evaluated inside the compiled loop after
  `0, k, 2k, ...` steps and after the last one (the points of a training curve).

`minimize` is traceable (it can be `vmap`ped over keys or data); `steps`, `history_every` and
the optimiser are static and checked on the host.
"""

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import jax.random as jr
import optax
from jaxtyping import PRNGKeyArray, PyTree

from ._validate import as_key, check_int_range, check_positive, checked_jit, is_concrete


__all__ = ["minimize", "check_optimizer", "record_steps", "shared_optimizer"]

P = TypeVar("P")


def check_optimizer(optimizer: Any) -> optax.GradientTransformation:
    """`optimizer` must be an `optax.GradientTransformation` (`ValueError` naming it otherwise).

    A string such as `"adam"` is refused: pass `optax.adam(1e-3)`. Returns `optimizer`.
    """
    if isinstance(optimizer, (str, bytes)) or not (
        callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None))
    ):
        raise ValueError(
            "`optimizer` must be an optax.GradientTransformation (e.g. optax.adam(1e-3) or "
            f"optax.sgd(1e-2)), got {optimizer!r}."
        )
    return optimizer


_OPTIMIZERS = {"adam": optax.adam, "sgd": optax.sgd}


def shared_optimizer(name: str, learning_rate: float) -> optax.GradientTransformation:
    """`optax.adam(learning_rate)` or `optax.sgd(learning_rate)`, one object per
    `(name, learning_rate)` for the whole process.

    The compiled loop of [`minimize`][] is keyed on the optimiser it was traced with, and an
    optax optimiser is a pair of closures compared by identity: two calls of
    `optax.adam(1e-3)` compile two loops. The library's own training (linear models, relu's
    head, the experiments) goes through this function, so the same rate reuses one program
    (a profile of `reproduce --quick` counted 21 compilations of the loop, one per shape and
    optimiser object). `name`: `"adam"` or `"sgd"`;
    `learning_rate`: a finite number `> 0` (a traced rate: use `optax.inject_hyperparams`).
    """
    if not isinstance(name, str) or name not in _OPTIMIZERS:
        raise ValueError(f"`name` must be one of {sorted(_OPTIMIZERS)}, got {name!r}.")
    if not is_concrete(learning_rate):
        raise ValueError(
            "`learning_rate` must be a concrete number here (for a traced rate use "
            "optax.inject_hyperparams)."
        )
    return _shared(name, float(check_positive(learning_rate, "learning_rate")))


@functools.lru_cache(maxsize=64)
def _shared(name: str, learning_rate: float) -> optax.GradientTransformation:
    return _OPTIMIZERS[name](learning_rate)


def record_steps(steps: int, history_every: int) -> list[int]:
    """The step counts at which [`minimize`][] records: `0, k, 2k, ...` and finally `steps`."""
    steps = check_int_range(steps, "steps", low=0)
    every = check_int_range(history_every, "history_every", low=1)
    num_chunks, rest = divmod(steps, every)
    return [i * every for i in range(num_chunks + 1)] + ([steps] if rest else [])


def _apply(params, updates):
    # Keep every leaf's dtype (optax updates can carry a wider dtype under x64).
    return jax.tree.map(
        lambda p, u: p if u is None else (p + u).astype(p.dtype),
        params,
        updates,
        is_leaf=lambda v: v is None,
    )


def _promotion():
    # Optax transformations (e.g. Adam's bias correction `b1 ** count`, count int32) rely on
    # standard dtype promotion; allow it for the optimiser only.
    return jax.numpy_dtype_promotion("standard")


@checked_jit  # checks raise on the host, so JAX's persistent cache can keep the program
def _loop(key, objective, params, optimizer, steps, every, record):
    grad_fn = jax.value_and_grad(objective)

    def step(carry, k):
        p, state = carry
        value, grads = grad_fn(p, k)
        with _promotion():
            updates, state = optimizer.update(grads, state, p)
        return (_apply(p, updates), state), value

    with _promotion():
        state = optimizer.init(params)
    k_chunks, k_rest = jr.split(key)
    if every is None:
        (params, _), _ = jax.lax.scan(step, (params, state), jr.split(k_chunks, steps))
        return params, None
    num_chunks, rest = divmod(steps, every)

    def chunk(carry, keys):
        carry, _ = jax.lax.scan(step, carry, keys)
        return carry, record(carry[0])

    keys = jr.split(k_chunks, num_chunks * every).reshape(num_chunks, every)
    carry, records = jax.lax.scan(chunk, (params, state), keys)
    parts = [jax.tree.map(lambda a: a[None], record(params)), records]
    if rest:
        carry, _ = jax.lax.scan(step, carry, jr.split(k_rest, rest))
        parts.append(jax.tree.map(lambda a: a[None], record(carry[0])))
    return carry[0], jax.tree.map(lambda *a: jnp.concatenate(a), *parts)


def minimize(
    key: PRNGKeyArray,
    objective: Callable[[P, PRNGKeyArray], Any],
    params: P,
    *,
    optimizer: optax.GradientTransformation,
    steps: int,
    history_every: int | None = None,
    record: Callable[[P], PyTree] | None = None,
) -> Any:
    r"""Run `steps` steps of `optimizer` on `objective(params, key_t)`; one compiled `lax.scan`.

    **Arguments:**

    - `key`: JAX PRNG key; step `t` gets its own key `key_t` (split from `key`).
    - `objective`: `objective(params, key_t) -> scalar`, differentiable in `params`.
    - `params`: the pytree of inexact arrays to train (its structure, shapes and dtypes are kept).
    - `optimizer`: an `optax.GradientTransformation`, e.g. `optax.adam(1e-3)`.
    - `steps`: number of steps, an int `>= 0` (`0` without a history returns `params` itself).
    - `history_every`: `None` (no record), or `k >= 1`: record after `0, k, 2k, ...` steps and
      after the last step (see [`record_steps`][]).
    - `record`: with `history_every`, `record(params) -> pytree of arrays` (jittable; default
      `objective(params, key)`, the objective at the fixed key `key`).

    **Returns:** the trained `params`; with `history_every`, `(params, records)` where every
    leaf of `records` has a leading axis of length `len(record_steps(steps, history_every))`.

    With the same `key`, the trained parameters do not depend on `history_every` when `steps` is
    a multiple of it (the keys of the last `steps % history_every` steps are split apart
    otherwise).
    """
    as_key(key)
    if not callable(objective):
        raise ValueError(
            f"`objective` must be a callable objective(params, key), got {objective!r}."
        )
    check_optimizer(optimizer)
    steps = check_int_range(steps, "steps", low=0)
    every = None
    if history_every is not None:
        every = check_int_range(history_every, "history_every", low=1)
        if record is None:
            record = lambda p: objective(p, key)
        elif not callable(record):
            raise ValueError(f"`record` must be a callable record(params), got {record!r}.")
    elif record is not None:
        raise ValueError("`record` needs `history_every` (how often to record).")
    if steps == 0 and every is None:
        return params  # nothing to do: the input itself
    params, records = _loop(key, objective, params, optimizer, steps, every, record)
    return params if every is None else (params, records)
