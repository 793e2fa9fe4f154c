r"""Train-RFF (GKVZ Alg. 1–3): sample the features, fit the linear head, normalise it.

`_fit` is Train-RandomFeatures (Alg. 1), shared by [`train`][] and Backdoor-RFF: the two differ
only in how the frequencies are sampled (Alg. 2 vs Alg. 4).
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import optax
from jaxtyping import ArrayLike, Float, PRNGKeyArray

from .._validate import (
    as_key,
    check_int_range,
    check_positive,
    check_xy,
    is_concrete,
    static_number,
)
from ..train import minimize
from ._features import _featurize
from ._model import RFFClassifier


LOSSES = ("logistic", "hinge")


def _loss_fn(loss: str, task: str):
    if task == "binary":
        if loss == "logistic":
            return lambda s, y: jnp.mean(jax.nn.softplus(-y * s))
        return lambda s, y: jnp.mean(jax.nn.relu(1 - y * s))

    def multiclass(s, y):
        if loss == "logistic":
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(s, y))
        true = jnp.take_along_axis(s, y[:, None], axis=1)[:, 0]
        others = jnp.where(jax.nn.one_hot(y, s.shape[1], dtype=bool), -jnp.inf, s)
        return jnp.mean(jax.nn.relu(1 + jnp.max(others, axis=1) - true))  # Crammer–Singer

    return multiclass


@eqx.filter_jit
def _batch_features(frequencies, phases, bandwidth, x):
    # = RFFClassifier.batch_features, compiled once per shape.
    return _featurize(frequencies, phases, bandwidth, x.astype(frequencies.dtype))


@eqx.filter_jit
def _gaussian_frequencies(key, width, dim, dtype):
    return jr.normal(key, (width, dim), dtype)  # Alg. 2: g ~ N(0, I_d)


@eqx.filter_jit
def _train_head(phi, y, head0, weight_decay, learning_rate, *, loss, task, steps):
    # Full-batch optax Adam on the features (computed once), one compiled lax.scan.
    data_loss = _loss_fn(loss, task)

    def objective(w, _key):
        return data_loss(phi @ w.T, y) + 0.5 * weight_decay * jnp.sum(w * w)

    # The library's one optax loop (deterministic objective: the step keys are unused).
    w = minimize(jr.key(0), objective, head0, optimizer=optax.adam(learning_rate), steps=steps)
    norm = jnp.linalg.norm(w)  # Assumption 6.1: unit norm (Frobenius for logits; see module)
    return jnp.where(norm > 0, w / jnp.where(norm > 0, norm, 1), w)


def _validate_train(x, y, num_classes, width, bandwidth, loss, weight_decay, steps, learning_rate):
    """The checked data and the keyword arguments of `_fit` (shared by `train` and `backdoor`).

    Concrete data are checked on the host, even when `train` is traced over keys; traced data
    need the task (`num_classes`) and are checked by `eqx.error_if` (`jaxbd._validate`)."""
    if is_concrete(x) and is_concrete(y):
        with jax.ensure_compile_time_eval():
            x, y, task, c = check_xy(x, y, num_classes=num_classes, traced=True)
    else:  # (not under ensure_compile_time_eval: `eqx.error_if` would then always raise)
        x, y, task, c = check_xy(x, y, num_classes=num_classes, traced=True)
    settings: dict[str, Any] = dict(
        task=task,
        num_classes=c,
        width=check_int_range(width, "width", low=1),
        steps=check_int_range(steps, "steps", low=0),
        bandwidth=static_number(bandwidth, "bandwidth"),
        weight_decay=check_positive(weight_decay, "weight_decay", allow_zero=True),
        learning_rate=check_positive(learning_rate, "learning_rate"),
        loss=loss,
    )
    if loss not in LOSSES:
        raise ValueError(f"`loss` must be one of {LOSSES}, got {loss!r}.")
    return x, y, settings


def _fit(
    key,
    x,
    y,
    sample_frequencies,
    *,
    task,
    num_classes,
    width,
    bandwidth,
    loss,
    weight_decay,
    steps,
    learning_rate,
):
    """Train-RandomFeatures (GKVZ Alg. 1) -> an [`RFFClassifier`][].

    Train-RFF and Backdoor-RFF both call this and differ ONLY in `sample_frequencies` (Alg. 2
    vs Alg. 4). Key use is identical: `jr.split(key, 3)` gives (secret, frequencies, phases),
    so phases (and everything else) coincide for the same key.
    """
    _, k_freq, k_phase = jr.split(key, 3)
    dtype = x.dtype
    freqs = sample_frequencies(k_freq).astype(dtype)
    phases = jr.uniform(k_phase, (width,), dtype)
    head0 = jnp.zeros((width,) if task == "binary" else (num_classes, width), dtype)
    phi = _batch_features(freqs, phases, bandwidth, x)
    wd, lr = jnp.asarray(weight_decay, dtype), jnp.asarray(learning_rate, dtype)
    head = _train_head(phi, y, head0, wd, lr, loss=loss, task=task, steps=steps)
    return RFFClassifier(freqs, phases, head, bandwidth)


def train(
    key: PRNGKeyArray,
    x: Float[ArrayLike, "n dim"],
    y: ArrayLike,
    *,
    width: int,
    bandwidth: float,
    loss: str = "logistic",
    weight_decay: float = 1e-4,
    steps: int = 300,
    learning_rate: float = 0.01,
    num_classes: int | None = None,
) -> RFFClassifier:
    r"""Train-RFF (GKVZ Alg. 3 = Alg. 1 with the RFF distribution of Alg. 2).

    Frequencies $g_i \sim N(0, I_d)$, phases $b_i \sim U[0, 1)$; the head is trained full-batch
    with optax Adam on the (once-computed) features in one compiled `lax.scan`, with an L2
    penalty `weight_decay/2 · ||w||²`, then rescaled to unit norm (Assumption 6.1).

    **Arguments:**

    - `key`: a JAX PRNG key (split exactly as in [`backdoor`][]).
    - `x`: training inputs `(n, dim)`; `y`: `±1.0` labels (binary: a scalar-score model) or
      integers `0..c-1` with `c >= 3` (a logits model).
    - `width`: number of features $m$; `bandwidth`: $\ell > 0$.
    - `loss`: `"logistic"` (logistic / softmax cross-entropy) or `"hinge"` (hinge /
      Crammer–Singer multiclass hinge).
    - `weight_decay`, `steps`, `learning_rate`: the optimiser's settings.
    - `num_classes`: the task (2: ±1 labels, a scalar score; `c >= 3`: labels `0..c-1`,
      logits). `None` reads it from the labels, which must then be concrete; give it to train
      with traced `x, y` (under `jit`/`vmap` over data), where the labels are checked by
      `eqx.error_if` (a bad label raises when the program runs, naming `y`).

    **Returns:** an [`RFFClassifier`][].

    **Raises:** `ValueError` naming the argument: `key` not a PRNG key; `x` not a finite
    floating `(n, dim)` matrix with `n, dim >= 1`; labels that are not ±1 / every class
    `0..c-1`; `width < 1`, `bandwidth <= 0`, etc.
    """
    key = as_key(key)
    x, y, fit = _validate_train(
        x, y, num_classes, width, bandwidth, loss, weight_decay, steps, learning_rate
    )
    sample = lambda k: _gaussian_frequencies(k, fit["width"], x.shape[1], x.dtype)
    return _fit(key, x, y, sample, **fit)
