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

The package is split by idea behind this one public surface: `_labels` (predictions, clean
accuracy, ASR), `_perturbations` (sizes and the random-perturbation control), `_evaluate` (one
backdoor against its controls), `_summary` (over seeds) and `_checks` (the model's task and its
labels).
"""

from ._evaluate import (
    BackdoorEvaluation as BackdoorEvaluation,
    evaluate_backdoor as evaluate_backdoor,
)
from ._labels import (
    attack_success_rate as attack_success_rate,
    clean_accuracy as clean_accuracy,
    predict as predict,
)
from ._perturbations import (
    median_nn_distance as median_nn_distance,
    perturbation_norms as perturbation_norms,
    random_perturbation as random_perturbation,
)
from ._summary import mean_std as mean_std


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
