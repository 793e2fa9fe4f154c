r"""Measurements shared by every construction: clean accuracy, attack success, controls, sizes.

Vocabulary (DESIGN.md §4):

- **clean accuracy**: fraction of held-out inputs whose predicted label equals the true label.
- **attack success rate (ASR)**: for a *targeted* backdoor, the fraction of activated inputs
  (among those whose true label is not the target) that get the target label; for a *flip*
  backdoor (`target=None`), the fraction whose activated label differs from the model's own
  label on the clean input.
- **controls**, always reported next to ASR: the same activation on the honest model; a random
  perturbation with the same ℓ0 support size and ℓ2 norm on the backdoored model; a wrong
  backdoor key on the backdoored model.
- **perturbation size**: ℓ0, ℓ2, ℓ∞ of `x' - x`, and ℓ2 relative to the median nearest-neighbour
  distance of the data.

All functions take one model (unbatched `model(x)`, as every jaxbd model) and batch with `vmap`.

**Validation** (every error names the argument): inputs are finite real-floating matrices
`(n, d)` with `n, d >= 1` (integer and complex inputs are refused, not cast); a model's score
must be finite (a NaN score has no label: `ValueError`, or under `jit` an `eqx.error_if`
`RuntimeError`, naming `model`); labels (`y`, `target`) must belong to the model's task, inferred
from its output shape — `-1/+1` for a scalar score, `0..c-1` for logits `(c,)` — so `{0, 1}`
labels for a binary model, or `target=5` on a binary task, are refused rather than scored as
misses. [`evaluate_backdoor`][] refuses reference data whose median nearest-neighbour distance
is 0 (mostly duplicated points), since `relative_l2` would be infinite.
"""

import dataclasses
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._validate import (
    as_key,
    check_floating,
    check_int_range,
    check_labels,
    check_matrix,
    is_concrete,
)


__all__ = [
    "predict",
    "clean_accuracy",
    "attack_success_rate",
    "perturbation_norms",
    "median_nn_distance",
    "random_perturbation",
    "BackdoorEvaluation",
    "evaluate_backdoor",
    "mean_std",
]


@eqx.filter_jit
def _scores(model, x):
    return jax.vmap(model)(x)


def _check_model(model, name: str = "model"):
    if not callable(model):
        raise ValueError(
            f"`{name}` must be a callable model(x) -> score or logits, got {type(model).__name__}."
        )
    return model


def _task(model, x, name: str = "model") -> tuple[bool, int]:
    """`(logits, num_classes)` of the model, from its output on one example: `(False, 2)` for
    a scalar score, `(True, c)` for logits `(c,)` (raises naming `name` otherwise)."""
    _check_model(model, name)
    try:
        out = jax.eval_shape(model, x[0])
    except (ValueError, TypeError) as e:
        if type(e).__name__ == "TypeCheckError":
            raise
        raise ValueError(
            f"`{name}` cannot be applied to one example of shape {x.shape[1:]}: {e}"
        ) from e
    shape = getattr(out, "shape", None)
    if shape == ():
        return False, 2
    if shape is not None and len(shape) == 1 and shape[0] >= 2:
        return True, int(shape[0])
    raise ValueError(
        f"`{name}` must return a scalar score or a logits vector (c,), c >= 2, per example, "
        f"got {out!r}."
    )


def _check_task_labels(y, x, num_classes: int, *, logits: bool, name: str = "y") -> Array:
    """Labels of the model's task: ±1 for a scalar score, `0..c-1` for `c` logits."""
    if logits and num_classes == 2:
        # Two logits: labels 0/1 (check_labels reads num_classes=2 as the ±1 task).
        y_np = np.asarray(check_labels(y, x, name=name, num_classes=3, training=False)[0])
        if y_np.size and y_np.max() > 1:
            raise ValueError(
                f"`{name}` holds label {int(y_np.max())} but the model has 2 logits (labels 0..1)."
            )
        return jnp.asarray(y_np)
    return check_labels(y, x, name=name, num_classes=num_classes, training=False)[0]


def _check_scores(s, name: str = "model"):
    msg = f"`{name}` returned NaN or inf scores (a non-finite score has no label)."
    if is_concrete(s):
        if not np.all(np.isfinite(np.asarray(s))):
            raise ValueError(msg)
        return s
    return eqx.error_if(s, ~jnp.all(jnp.isfinite(s)), msg)


def predict(model: Callable, x: Float[ArrayLike, "n d"]) -> Array:
    """Labels of a batch: `±1` (sign of a scalar score, `0 -> +1`) or argmax of logits.

    A NaN or inf score raises (naming `model`) instead of being read as a label."""
    _check_model(model)
    x = check_matrix(x, "x")
    s = _scores(model, x)
    if s.ndim == 1:
        s = _check_scores(s)
        return jnp.where(s >= 0, 1.0, -1.0).astype(s.dtype)
    if s.ndim == 2:
        s = _check_scores(s)
        return jnp.argmax(s, axis=-1)
    raise ValueError(
        f"`model` output must be a scalar score or a logits vector per example, got {s.shape[1:]}."
    )


def clean_accuracy(model: Callable, x: Float[ArrayLike, "n d"], y: ArrayLike) -> float:
    """Fraction of `x` whose predicted label equals `y`.

    `y` must hold labels of the model's task (inferred from its output): `-1/+1` for a scalar
    score, `0..c-1` for logits `(c,)`; anything else is a `ValueError` naming `y`.
    """
    pred = predict(model, x)
    x = jnp.asarray(x)
    y_arr = jnp.asarray(y)
    if y_arr.shape != pred.shape:
        raise ValueError(f"`y` must have shape {pred.shape}, got {y_arr.shape}.")
    logits, c = _task(model, x)
    y = _check_task_labels(y, x, c, logits=logits)
    return float(jnp.mean(pred == y.astype(pred.dtype)))


def _check_target(target, x, num_classes: int, *, logits: bool) -> Array:
    """`target` (a label, or one per row) as a `(n,)` label vector of the model's task."""
    if isinstance(target, (str, bytes)):
        raise ValueError(f"`target` must be a label of the model's task, got {target!r}.")
    t = jnp.asarray(target)
    if t.ndim > 1 or (t.ndim == 1 and t.shape[0] != x.shape[0]):
        raise ValueError(
            f"`target` must be one label or one label per example ({x.shape[0]},), got shape "
            f"{t.shape}."
        )
    t = jnp.broadcast_to(t, (x.shape[0],))
    return _check_task_labels(t, x, num_classes, logits=logits, name="target")


def attack_success_rate(
    model: Callable,
    x: Float[ArrayLike, "n d"],
    x_activated: Float[ArrayLike, "n d"],
    *,
    target=None,
    y: ArrayLike | None = None,
) -> float:
    """Attack success rate of `x_activated` against `model`.

    **Arguments:**

    - `x`, `x_activated`: clean inputs and their activated versions, row by row.
    - `target`: the attacker's label (of the model's task: ±1 for a scalar score, `0..c-1` for
      logits). `None` means a *flip* backdoor: success is a label that differs from the
      model's label on the clean input.
    - `y`: true labels (of the model's task); with a `target`, inputs whose true label already
      is the target are left out.

    **Returns:** a fraction in `[0, 1]` (NaN if no input is eligible).
    """
    x = check_matrix(x, "x")
    x_activated = check_floating(x_activated, "x_activated")
    if x.shape != x_activated.shape:
        raise ValueError(
            f"`x` and `x_activated` must have the same shape, got {x.shape} and "
            f"{x_activated.shape}."
        )
    x_activated = check_matrix(x_activated, "x_activated")
    pred_act = predict(model, x_activated)
    if target is None:
        pred = predict(model, x)
        return float(jnp.mean(pred_act != pred))
    logits, c = _task(model, x)
    t_vec = _check_target(target, x, c, logits=logits)
    hit = pred_act == t_vec.astype(pred_act.dtype)
    if y is not None:
        y_arr = jnp.asarray(y)
        if y_arr.shape != pred_act.shape:
            raise ValueError(f"`y` must have shape {pred_act.shape}, got {y_arr.shape}.")
        y_chk = _check_task_labels(y, x, c, logits=logits)
        keep = np.asarray(y_chk.astype(pred_act.dtype) != t_vec.astype(pred_act.dtype))
        if not keep.any():
            return float("nan")
        return float(np.mean(np.asarray(hit)[keep]))
    return float(jnp.mean(hit))


def perturbation_norms(x: Float[ArrayLike, "n d"], x_prime: Float[ArrayLike, "n d"]) -> dict:
    """Per-example ℓ0 (exact non-zero count), ℓ2 and ℓ∞ of `x_prime - x` (jittable: NaN/inf
    are refused with `eqx.error_if` under `jit`)."""
    _same_shape(x, x_prime, "x", "x_prime")
    x = check_matrix(x, "x")
    x_prime = check_matrix(x_prime, "x_prime")
    delta = x_prime - x
    return {
        "l0": jnp.sum(delta != 0, axis=-1),
        "l2": jnp.linalg.norm(delta, axis=-1),
        "linf": jnp.max(jnp.abs(delta), axis=-1),
    }


def _same_shape(a, b, name_a: str, name_b: str) -> None:
    if jnp.shape(a) != jnp.shape(b):
        raise ValueError(
            f"`{name_a}` and `{name_b}` must have the same shape, got {jnp.shape(a)} and "
            f"{jnp.shape(b)}."
        )


def median_nn_distance(x: Float[ArrayLike, "n d"], *, batch_size: int = 256) -> float:
    """Median over points of the ℓ2 distance to the nearest *other* point of `x`.

    The honest yardstick for "a slight perturbation": a perturbation larger than this moves an
    input further than the typical gap between two data points. Computed in row blocks
    (`lax.map` with `batch_size`), so memory is `O(batch_size · n)`. The answer is `0.0` when
    more than half of the points have an exact duplicate (a true value, but no yardstick:
    [`evaluate_backdoor`][] refuses it).
    """
    x = check_matrix(x, "x")
    if not is_concrete(x):
        raise ValueError("`x` must be a concrete array (the result is a Python float).")
    batch_size = check_int_range(batch_size, "batch_size", low=1)
    n = x.shape[0]
    if n < 2:
        raise ValueError("`x` needs at least two examples for a nearest-neighbour distance.")
    sq = jnp.sum(x * x, axis=1)
    idx = jnp.arange(n)

    def row(i):
        d2 = sq[i] + sq - 2.0 * (x @ x[i])
        d2 = jnp.where(idx == i, jnp.inf, d2)
        return jnp.sqrt(jnp.maximum(jnp.min(d2), 0.0))

    nn = jax.lax.map(row, idx, batch_size=min(batch_size, n))
    return float(jnp.median(nn))


def random_perturbation(
    key: PRNGKeyArray, x: Float[ArrayLike, "n d"], x_prime: Float[ArrayLike, "n d"]
) -> Float[Array, "n d"]:
    """The random-perturbation control: for each row, a perturbation of `x` with the same ℓ0
    (number of changed coordinates, on a uniformly random support) and the same ℓ2 norm as
    `x_prime - x`, in a uniformly random direction on that support. Jittable (NaN/inf refused
    with `eqx.error_if` under `jit`)."""
    key = as_key(key)
    _same_shape(x, x_prime, "x", "x_prime")
    x = check_matrix(x, "x")
    x_prime = check_matrix(x_prime, "x_prime")
    return _random_perturbation(key, x, x_prime)


@jax.jit
def _random_perturbation(key, x, x_prime):
    delta = x_prime - x
    l0 = jnp.sum(delta != 0, axis=-1)
    l2 = jnp.linalg.norm(delta, axis=-1)

    def one(k, xi, k0, r):
        k1, k2 = jr.split(k)
        ranks = jnp.argsort(jr.uniform(k1, xi.shape))
        mask = jnp.zeros(xi.shape, bool).at[ranks].set(jnp.arange(xi.shape[0]) < k0)
        v = jnp.where(mask, jr.normal(k2, xi.shape, xi.dtype), 0.0)
        norm = jnp.linalg.norm(v)
        return xi + jnp.where(norm > 0, r * v / jnp.where(norm > 0, norm, 1.0), 0.0)

    return jax.vmap(one)(jr.split(key, x.shape[0]), x, l0, l2)


def _activated(activate, x, name: str) -> Array:
    if not callable(activate):
        raise ValueError(
            f"`{name}` must be a callable activate(x) -> x' for one example, got "
            f"{type(activate).__name__}."
        )
    x_act = jax.vmap(activate)(x)
    if not isinstance(x_act, jax.Array) or x_act.shape != x.shape:
        raise ValueError(
            f"`{name}` must return one example of shape {x.shape[1:]}, got "
            f"{getattr(x_act, 'shape', type(x_act).__name__)}."
        )
    if not jnp.issubdtype(x_act.dtype, jnp.floating):
        raise ValueError(f"`{name}` must return a floating example, got dtype {x_act.dtype}.")
    if not np.all(np.isfinite(np.asarray(x_act))):
        raise ValueError(f"`{name}` returned NaN or inf values.")
    return x_act


@dataclasses.dataclass(frozen=True)
class BackdoorEvaluation:
    """A backdoor's measurements next to its controls (all fractions in `[0, 1]`).

    `control_*` are ASRs of the same kind as `asr`: `control_honest` (the activation applied to
    the honest model), `control_random` (a random perturbation of the same ℓ0/ℓ2 on the
    backdoored model), `control_wrong_key` (another backdoor's key on the backdoored model, or
    `None` when no wrong key was given). Sizes are means over examples; `relative_l2` is the
    median ℓ2 divided by the median nearest-neighbour distance of the reference data.
    """

    clean_accuracy_honest: float
    clean_accuracy_backdoored: float
    asr: float
    control_honest: float
    control_random: float
    control_wrong_key: float | None
    l0: float
    l2: float
    linf: float
    relative_l2: float
    num_examples: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def evaluate_backdoor(
    key: PRNGKeyArray,
    honest: Callable,
    backdoored: Callable,
    activate: Callable,
    x: Float[ArrayLike, "n d"],
    y: ArrayLike,
    *,
    target=None,
    wrong_activate: Callable | None = None,
    reference_x: Float[ArrayLike, "m d"] | None = None,
) -> BackdoorEvaluation:
    """Clean accuracy, ASR and the three controls for one planted backdoor.

    **Arguments:**

    - `key`: randomness for the random-perturbation control.
    - `honest`, `backdoored`: the two models (same task).
    - `activate`: one example -> one activated example (the backdoor key closed over).
    - `x`, `y`: held-out data.
    - `target`: the attacker's label, or `None` for a flip backdoor.
    - `wrong_activate`: the same activation with a wrong key (e.g. another backdoor's key).
    - `reference_x`: data defining the nearest-neighbour scale (default `x`).
    """
    key = as_key(key)
    x = check_matrix(x, "x")
    logits, c = _task(honest, x, "honest")
    if _task(backdoored, x, "backdoored") != (logits, c):
        raise ValueError(
            "`honest` and `backdoored` must solve the same task (same output shape per example)."
        )
    y_arr = jnp.asarray(y)
    if y_arr.shape != (x.shape[0],):
        raise ValueError(f"`y` must have shape {(x.shape[0],)}, got {y_arr.shape}.")
    _check_task_labels(y, x, c, logits=logits)
    if target is not None:
        _check_target(target, x, c, logits=logits)
    ref_name = "x" if reference_x is None else "reference_x"
    if reference_x is not None:
        reference_x = check_matrix(reference_x, "reference_x", dim=x.shape[1])
    scale = median_nn_distance(x if reference_x is None else reference_x)
    if scale == 0.0:
        raise ValueError(
            f"the median nearest-neighbour distance of `{ref_name}` is 0 (more than half of its "
            "points are duplicates), so `relative_l2` would be infinite; pass `reference_x` "
            "with distinct points."
        )
    x_act = _activated(activate, x, "activate")
    x_wrong = None if wrong_activate is None else _activated(wrong_activate, x, "wrong_activate")
    x_rand = random_perturbation(key, x, x_act)
    asr = lambda m, xa: attack_success_rate(m, x, xa, target=target, y=y)
    wrong = None
    if x_wrong is not None:
        wrong = asr(backdoored, x_wrong)
    norms = perturbation_norms(x, x_act)
    return BackdoorEvaluation(
        clean_accuracy_honest=clean_accuracy(honest, x, y),
        clean_accuracy_backdoored=clean_accuracy(backdoored, x, y),
        asr=asr(backdoored, x_act),
        control_honest=asr(honest, x_act),
        control_random=asr(backdoored, x_rand),
        control_wrong_key=wrong,
        l0=float(jnp.mean(norms["l0"])),
        l2=float(jnp.mean(norms["l2"])),
        linf=float(jnp.mean(norms["linf"])),
        relative_l2=float(jnp.median(norms["l2"]) / scale),
        num_examples=int(x.shape[0]),
    )


def mean_std(values) -> tuple[float, float]:
    """Mean and (population) standard deviation of a sequence of numbers, NaNs ignored.

    (A nested sequence or array is taken over all its entries.) NaN entries (e.g. an ASR with no eligible input) are skipped; an empty or all-NaN sequence
    gives `(nan, nan)`. Infinite, complex or non-numeric values are a `ValueError` naming
    `values`.
    """
    if isinstance(values, (str, bytes)):
        raise ValueError(f"`values` must be a sequence of real numbers, got {values!r}.")
    try:
        raw = np.asarray(values)
    except (TypeError, ValueError) as e:
        raise ValueError(f"`values` must be a sequence of real numbers: {e}") from None
    if raw.dtype == np.bool_ or np.iscomplexobj(raw) or raw.dtype.kind not in "iuf":
        raise ValueError(f"`values` must hold real numbers, got dtype {raw.dtype}.")
    a = raw.astype(np.float64).ravel()
    if np.any(np.isinf(a)):
        raise ValueError("`values` contains inf.")
    if a.size == 0 or np.all(np.isnan(a)):
        return float("nan"), float("nan")
    return float(np.nanmean(a)), float(np.nanstd(a))
