r"""The backdoor of Leonardis §6: a narrow range of $w\\cdot x$ around a trigger, relabelled.

Leonardis, *Can a Neural Network that only Memorizes the Dataset be Undetectably Backdoored?*
"""

import numpy as np
from jaxtyping import ArrayLike, Float

from .._validate import check_example, check_positive, check_range, check_target
from ._checks import _check_same_dtype, _host_level, _not_text
from ._network import (
    EQUAL_TOLERANCE,
    SlicingNetwork,
    _assemble,
    _check_inputs,
    _check_model,
    _dot,
    _slice_classes,
    resolution,
)


def _target_class(model: SlicingNetwork, target) -> int:
    """The class index (binary: 0 for -1, 1 for +1) of one concrete label of `model`'s task."""
    _host_level(target, "target", "backdoor")
    check_range(target, "target")  # finite first: `check_target` would round an infinity
    t = float(np.asarray(check_target(target, model.num_classes)))
    return int(t > 0) if model.is_binary else int(t)


def backdoor(
    model: SlicingNetwork,
    x_star: Float[ArrayLike, " d"],
    target,
    *,
    eps: float,
    x: Float[ArrayLike, "n d"] | None = None,
) -> SlicingNetwork:
    r"""Insert the backdoor of Leonardis §6: division points $b^* \pm \epsilon$ around
    $b^* = w\cdot x^*$, the range between them labelled `target`, last layer recomputed.

    The slice holding $b^*$ is split in two (both keep its label) around the new range; the
    slice labels are read back from the last layer, so the model holds everything needed. The
    sharpness is recomputed from $\min(g, \epsilon, \text{training gaps to } b^* \pm \epsilon)$.

    **Arguments:**

    - `model`: an honest (or already backdoored) [`SlicingNetwork`][].
    - `x_star`: the trigger input `(d,)`; `target`: the label it should get.
    - `eps`: half-width of the inserted range, `> 0`.
    - `x`: the training inputs (the attacker built the model, so has them). When given, every
      training point is checked to stay outside the range (so keeps its label, with the new
      sharpness covering its distance to the new division points). Without `x` only the model's
      own division points are checked and a training point closer than
      $\min(g, \epsilon)$ to $b^* \pm \epsilon$ could flip.

    **Raises** `ValueError` for a `model` that is not a [`SlicingNetwork`][], a non-finite or
    ill-typed `x_star`/`x` (the model's dtype), a `target` that is not a label of the model's
    task (bools and fractions included), a traced argument (host-level function), when
    `eps <= 0` or so large that `w·x* ± eps` overflows, when `eps` is below [`resolution`][] at $x^*$
    (the dtype cannot place a range that narrow at $|w\cdot x^*|$), when the range contains an
    existing division point, or when it would swallow a training point (named by its index).
    """
    model = _check_model(model)
    _host_level(eps, "eps", "backdoor")
    _not_text(eps, "eps")
    check_positive(eps, "eps")
    _host_level(x_star, "x_star", "backdoor")
    x_star = check_example(x_star, model.dim, "x_star")
    x_star = _check_same_dtype(x_star, "x_star", model.w.dtype)
    t_cls = _target_class(model, target)
    dt = np.dtype(model.w.dtype)
    b_star = float(_dot(x_star, model.w))
    res = float(resolution(model.w, x_star))
    if not float(eps) > res:
        raise ValueError(
            f"`eps`={eps!r} is below what {dt} resolves at |w·x*| = {abs(b_star):.6g}: "
            f"it must exceed {res:.3g} (= {EQUAL_TOLERANCE:g}·eps_{dt}·Σ|w_j x*_j|)."
        )
    with np.errstate(over="ignore"):
        lo, hi = dt.type(b_star - eps), dt.type(b_star + eps)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(
            f"`eps`={eps!r} is too large for {dt}: the range w·x* ± eps overflows; choose a "
            "smaller `eps`."
        )
    biases = np.asarray(model.biases)
    inside = np.nonzero((biases >= lo) & (biases <= hi))[0]
    if inside.size:
        j = int(inside[0])
        raise ValueError(
            f"The range [{lo:.6g}, {hi:.6g}] contains division point {j} ({biases[j]:.6g}); "
            "choose a smaller `eps`."
        )
    gap = min(float(model.min_gap), float(eps))
    if x is not None:
        x = _check_inputs(model, _host_level(x, "x", "backdoor"))
        p = np.asarray(_dot(x, model.w))
        r = np.asarray(resolution(model.w, x))
        hit = np.nonzero((p >= lo - r) & (p <= hi + r))[0]
        if hit.size:
            i = int(hit[0])
            raise ValueError(
                f"The range [{lo:.6g}, {hi:.6g}] would swallow training point {i} "
                f"(w·x = {p[i]:.6g}); choose a smaller `eps` or another `x_star`."
            )
        gap = min(gap, float(np.min(np.minimum(np.abs(p - lo), np.abs(p - hi)))))
    cls = _slice_classes(model)
    k = int(np.searchsorted(biases, b_star))
    new_biases = np.concatenate([biases[:k], np.array([lo, hi], dt), biases[k:]])
    new_cls = np.concatenate([cls[: k + 1], [t_cls], cls[k:]]).astype(np.int32)
    return _assemble(
        model.w,
        new_biases,
        new_cls,
        gap,
        num_classes=model.num_classes,
        amplitude=model.amplitude,
        activation=model.activation,
    )
