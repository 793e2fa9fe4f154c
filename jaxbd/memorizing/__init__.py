r"""The memorizing ("slicing") network, its backdoor and its white-box audit.

Leonardis, *Can a Neural Network that only Memorizes the Dataset be Undetectably Backdoored?*
(§2 model, §3 hashing picture, §4 construction, §5 generalisation, §6 backdoor and detection).

The network (§2) is two layers. Every first-layer neuron applies the same weight vector $w$;
neuron $j$ computes $\sigma(\kappa(w\cdot x - b_j))$ with sorted division points
$b_1 < \dots < b_m$ (the paper writes $\sigma(w\cdot x + b_j)$; we store the division point
itself, i.e. minus the paper's bias, and the sharpness $\kappa$ is the paper's "scaling the weights
and biases of the first layer"). The last layer is linear without non-linearity: logits
$v_0 + \sum_j v_j\,\sigma_j$, softmax for probabilities (§2).

Reading choices (the paper is loose here; these make its claims testable):

- **First slice.** The paper's triangular system (§4) has as many rows as slices. With $m$
  division points there are $m + 1$ slices; the first row is realised by an always-on unit whose
  output weight is `v0` (equivalently, the starting hyperplane of §4 with every point on one
  side). So `m` counts exactly the class changes along $w$.
- **Closed form of §4.** With perfect steps, slice $k$ sees $v_0 + \sum_{j \le k} v_j$, so the
  lower-triangular system of ones is solved by differences: $v_0 = T_0$, $v_j = T_j - T_{j-1}$,
  where $T_k$ is the target logit vector of slice $k$ ($+A$ for its class, $-A$, the paper's
  "$s$", for the others; binary: the scalar $\pm A$).
- **Sharpness.** Let $g$ be the smallest distance between a training projection and a division
  point (`min_gap`). A training point's logit differs from its target by at most
  $\sum_j |v_j| \sigma(-\kappa g) \le 2 A m e^{-\kappa g}$. With
  $\kappa = (\log(2(m+1)) + 10)/g$ this is below $A e^{-10}$, so the true class keeps logit
  $> 0$ and every other class $< 0$: the network is exactly right on every training point.
  With `activation="ramp"` ($\mathrm{clip}(\kappa t + 1/2, 0, 1)$), $\kappa = 1/g$ makes every
  training activation exactly 0 or 1.
- **"Equal" projections.** Two projections are treated as equal when they differ by at most
  $4\,\varepsilon_{\rm dtype}(\sum_j |w_j x_j| + \sum_j |w_j x'_j|)$, above the rounding error
  of a dot product in the input dtype (measured on digits: at most $0.6\,\varepsilon\sum_j|w_j x_j|$
  between matmul, `vmap` and float64), so a chosen $w$ separates the classes however the dot
  product is evaluated (single example, `vmap`, matmul). Every projection uses
  `precision=HIGHEST`, so accelerators do not silently drop to TF32/bf16 matmuls.

`fit`, `backdoor` and `audit` are host-level functions (the number of neurons depends on the
data); the model they return is an `eqx.Module` that works under `jit` and `vmap`. The candidate
search of `fit` is one compiled computation, `lax.map` over candidates in batches, so its memory
is bounded by the batch, not by `num_candidates`.

The package is split by idea (equinox's `_module/` style), behind this one public surface:
`_network` (the model, `resolution`, the §4 last layer), `_kernel` (the compiled search kernel),
`_search` (the candidate search), `_fit` (construction and fit), `_backdoor`, `_audit`, and
`_checks` (argument checks).
"""

from ._audit import AuditReport as AuditReport, audit as audit
from ._backdoor import backdoor as backdoor
from ._fit import fit as fit, from_direction as from_direction
from ._kernel import candidate_direction as candidate_direction
from ._network import (
    EQUAL_TOLERANCE as EQUAL_TOLERANCE,
    SlicingNetwork as SlicingNetwork,
    parameter_counts as parameter_counts,
    resolution as resolution,
)
from ._search import (
    MAX_CANDIDATES as MAX_CANDIDATES,
    CandidateScores as CandidateScores,
    candidate_search as candidate_search,
)


__all__ = [
    "SlicingNetwork",
    "CandidateScores",
    "AuditReport",
    "fit",
    "from_direction",
    "candidate_search",
    "candidate_direction",
    "backdoor",
    "audit",
    "parameter_counts",
    "resolution",
    "EQUAL_TOLERANCE",
]
