"""One planted backdoor measured against its three controls (DESIGN.md §4)."""

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._validate import as_key, check_matrix
from ._checks import _check_target, _check_task_labels, _task
from ._labels import attack_success_rate, clean_accuracy
from ._perturbations import median_nn_distance, perturbation_norms, random_perturbation


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
