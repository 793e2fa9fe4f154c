r"""Train-Random-ReLU (GKVZ Alg. 7, 8), Backdoor-Random-ReLU (Alg. 9) and Activate-Random-ReLU
(Alg. 10): the two training functions differ only in the law of the first layer."""

from typing import Any

import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._validate import (
    as_key,
    check_example,
    check_int_range,
    check_positive,
    check_scalar,
    check_xy,
    is_concrete,
    static_number,
)
from ._head import _fit_head
from ._model import RandomReLU, ReLUBackdoorKey, _check_key
from ._spiked import sample_sparse_secret, spiked_gaussian


def _check_common(x, y, width, head, head_mix, head_steps, head_lr):
    """The checked data, width and head settings (keyword arguments of `_fit_head`).

    The task is binary by construction, so the labels may be traced (jit/vmap over data):
    then they are checked by `eqx.error_if` (a label other than ±1 raises, naming `y`)."""
    x, y, task, _ = check_xy(x, y, num_classes=None if is_concrete(y) else 2, traced=True)
    if task != "binary":
        raise ValueError(
            "`y` must hold binary labels -1.0/+1.0 (the random-ReLU model is binary)."
        )
    width = check_int_range(width, "width", low=1)
    if head not in ("uniform", "trained"):
        raise ValueError(f"`head` must be 'uniform' or 'trained', got {head!r}.")
    check_positive(head_mix, "head_mix", allow_zero=True)
    if not 0 <= head_mix < 1:
        raise ValueError(f"`head_mix` must lie in [0, 1), got {head_mix}.")
    check_int_range(head_steps, "head_steps", low=0)
    check_positive(head_lr, "head_lr")
    kw: dict[str, Any] = dict(head=head, head_mix=head_mix, head_steps=head_steps, head_lr=head_lr)
    return x, y, width, kw


def train(
    key: PRNGKeyArray,
    x: Float[ArrayLike, "n d"],
    y: ArrayLike,
    *,
    width: int,
    head: str = "uniform",
    head_mix: float = 0.5,
    head_steps: int = 300,
    head_lr: float = 0.05,
) -> RandomReLU:
    r"""Train-Random-ReLU (GKVZ Alg. 7 with Alg. 8): $g_i \sim N(0, I)$, then fit the head.

    **Arguments:**

    - `key`: PRNG key (split as in [`backdoor`][], so the same key gives the same $z$ draws).
    - `x` `(n, d)`, `y` `(n,)` ±1: training data (GKVZ assume $\|x\|_2 = 1$; see
      `datasets.load(..., normalize="unit_norm")`).
    - `width`: number of hidden ReLUs $m$.
    - `head`: `"uniform"` ($w_i = 1/m$, Alg. 7) or `"trained"` (high-entropy non-negative $w$).
    - `head_mix`, `head_steps`, `head_lr`: for `"trained"`: $\varepsilon$ of
      $w = (1-\varepsilon)/m + \varepsilon\,\mathrm{softmax}(v)$, Adam steps and learning rate.

    **Returns:** a [`RandomReLU`][] whose `tau` maximises training accuracy.

    **Raises:** `ValueError` naming the argument (a `key` that is not a PRNG key, data that are
    not finite floating `(n, d)` with ±1 labels of both classes, `width < 1`, ...).
    """
    key = as_key(key)
    x, y, width, kw = _check_common(x, y, width, head, head_mix, head_steps, head_lr)
    _, k_g, k_head = jr.split(key, 3)
    g = jr.normal(k_g, (width, x.shape[1]), x.dtype)
    return _fit_head(k_head, g, x, y, **kw)


def backdoor(
    key: PRNGKeyArray,
    x: Float[ArrayLike, "n d"],
    y: ArrayLike,
    *,
    width: int,
    sparsity: int,
    theta: float,
    head: str = "uniform",
    head_mix: float = 0.5,
    head_steps: int = 300,
    head_lr: float = 0.05,
) -> tuple[RandomReLU, ReLUBackdoorKey]:
    r"""Backdoor-Random-ReLU (GKVZ App. A, Alg. 9): as [`train`][], with
    $g_i \sim N(0, I + \theta s s^\top)$ for a fresh unit `sparsity`-sparse secret $s$.

    The first layer is the only difference from [`train`][] (the head is fitted by the same
    code). With the same `key` and `theta = 0` the result equals `train(key, ...)` exactly.

    **Returns:** `(model, backdoor_key)`; open it with [`activate`][].

    **Raises:** `ValueError` for `sparsity` outside `[1, d]`, `theta < 0`, bad data.

    **Warns:** `jaxbd.detect.DetectableRegimeWarning` when a distinguisher of the detection
    lab detects these parameters (e.g. `theta` above the BBP line `sqrt(d / width)`).
    """
    key = as_key(key)
    x, y, width, kw = _check_common(x, y, width, head, head_mix, head_steps, head_lr)
    sparsity = check_int_range(sparsity, "sparsity", low=1, high=x.shape[1])
    theta = static_number(check_scalar(theta, "theta"), "theta", allow_zero=True)
    from ..detect.regime import warn_if_detectable

    warn_if_detectable("relu", dim=x.shape[1], width=width, sparsity=sparsity, theta=theta)
    k_secret, k_g, k_head = jr.split(key, 3)
    s = sample_sparse_secret(k_secret, x.shape[1], sparsity, dtype=x.dtype)
    g = spiked_gaussian(k_g, s, width, theta=theta)
    return _fit_head(k_head, g, x, y, **kw), ReLUBackdoorKey(secret=s, theta=theta)


def activate(
    backdoor_key: ReLUBackdoorKey, x: Float[ArrayLike, " d"], *, strength
) -> Float[Array, " d"]:
    r"""Activate-Random-ReLU (GKVZ Alg. 10): $x' = x + \lambda s$, $\lambda$ = `strength` $\ge 0$.

    Changes at most `sparsity` coordinates, by exactly `strength` in ℓ2. One-way: pushes the
    backdoored model's output towards **+1**. `strength` may be traced (jit / vmap).
    """
    s = _check_key(backdoor_key).secret
    x = check_example(x, s.shape[0])
    strength = check_positive(check_scalar(strength, "strength"), "strength", allow_zero=True)
    return x + jnp.asarray(strength, x.dtype) * s.astype(x.dtype)
