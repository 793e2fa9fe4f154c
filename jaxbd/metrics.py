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
"""

import dataclasses
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._validate import check_matrix


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


def predict(model: Callable, x: Float[Array, "n d"]) -> Array:
    """Labels of a batch: `±1` (sign of a scalar score, `0 -> +1`) or argmax of logits."""
    x = check_matrix(x, "x")
    s = _scores(model, x)
    if s.ndim == 1:
        return jnp.where(s >= 0, 1.0, -1.0).astype(s.dtype)
    if s.ndim == 2:
        return jnp.argmax(s, axis=-1)
    raise ValueError(
        f"model output must be a scalar score or a logits vector per example, got {s.shape[1:]}."
    )


def clean_accuracy(model: Callable, x: Float[Array, "n d"], y: ArrayLike) -> float:
    """Fraction of `x` whose predicted label equals `y`."""
    pred = predict(model, x)
    y = jnp.asarray(y)
    if y.shape != pred.shape:
        raise ValueError(f"`y` must have shape {pred.shape}, got {y.shape}.")
    return float(jnp.mean(pred == y.astype(pred.dtype)))


def attack_success_rate(
    model: Callable,
    x: Float[Array, "n d"],
    x_activated: Float[Array, "n d"],
    *,
    target=None,
    y: ArrayLike | None = None,
) -> float:
    """Attack success rate of `x_activated` against `model`.

    **Arguments:**

    - `x`, `x_activated`: clean inputs and their activated versions, row by row.
    - `target`: the attacker's label. `None` means a *flip* backdoor: success is a label that
      differs from the model's label on the clean input.
    - `y`: true labels; with a `target`, inputs whose true label already is the target are left out.

    **Returns:** a fraction in `[0, 1]` (NaN if no input is eligible).
    """
    if jnp.shape(x) != jnp.shape(x_activated):
        raise ValueError(
            f"`x` and `x_activated` must have the same shape, got {jnp.shape(x)} and "
            f"{jnp.shape(x_activated)}."
        )
    pred_act = predict(model, x_activated)
    if target is None:
        pred = predict(model, x)
        return float(jnp.mean(pred_act != pred))
    hit = pred_act == jnp.asarray(target, dtype=pred_act.dtype)
    if y is not None:
        keep = np.asarray(jnp.asarray(y).astype(pred_act.dtype) != target)
        if not keep.any():
            return float("nan")
        return float(np.mean(np.asarray(hit)[keep]))
    return float(jnp.mean(hit))


def perturbation_norms(x: Float[Array, "n d"], x_prime: Float[Array, "n d"]) -> dict:
    """Per-example ℓ0 (exact non-zero count), ℓ2 and ℓ∞ of `x_prime - x`."""
    if jnp.shape(x) != jnp.shape(x_prime):
        raise ValueError(
            f"`x` and `x_prime` must have the same shape, got {jnp.shape(x)} and "
            f"{jnp.shape(x_prime)}."
        )
    delta = jnp.asarray(x_prime) - jnp.asarray(x)
    return {
        "l0": jnp.sum(delta != 0, axis=-1),
        "l2": jnp.linalg.norm(delta, axis=-1),
        "linf": jnp.max(jnp.abs(delta), axis=-1),
    }


def median_nn_distance(x: Float[Array, "n d"], *, batch_size: int = 256) -> float:
    """Median over points of the ℓ2 distance to the nearest *other* point of `x`.

    The honest yardstick for "a slight perturbation": a perturbation larger than this moves an
    input further than the typical gap between two data points. Computed in row blocks
    (`lax.map` with `batch_size`), so memory is `O(batch_size · n)`.
    """
    x = check_matrix(x, "x")
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


@jax.jit
def random_perturbation(
    key: PRNGKeyArray, x: Float[Array, "n d"], x_prime: Float[Array, "n d"]
) -> Float[Array, "n d"]:
    """The random-perturbation control: for each row, a perturbation of `x` with the same ℓ0
    (number of changed coordinates, on a uniformly random support) and the same ℓ2 norm as
    `x_prime - x`, in a uniformly random direction on that support."""
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
    x: Float[Array, "n d"],
    y: ArrayLike,
    *,
    target=None,
    wrong_activate: Callable | None = None,
    reference_x: Float[Array, "m d"] | None = None,
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
    x = check_matrix(x, "x")
    x_act = jax.vmap(activate)(x)
    if x_act.shape != x.shape:
        raise ValueError(f"`activate` must return one example of shape {x.shape[1:]}.")
    x_rand = random_perturbation(key, x, x_act)
    asr = lambda m, xa: attack_success_rate(m, x, xa, target=target, y=y)
    wrong = None
    if wrong_activate is not None:
        wrong = asr(backdoored, jax.vmap(wrong_activate)(x))
    norms = perturbation_norms(x, x_act)
    scale = median_nn_distance(x if reference_x is None else reference_x)
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
    """Mean and (population) standard deviation of a sequence of numbers, NaNs ignored."""
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0 or np.all(np.isnan(a)):
        return float("nan"), float("nan")
    return float(np.nanmean(a)), float(np.nanstd(a))
