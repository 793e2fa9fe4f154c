r"""Random-ReLU networks and their sparse-PCA backdoor (GKVZ Appendix A, Algorithms 7–10).

Goldwasser–Kim–Vaikuntanathan–Zamir, "Planting Undetectable Backdoors", Appendix A:

- **Train-Random-ReLU** (Alg. 7) with **Sample-Random-ReLU** (Alg. 8): draw $g_i \sim N(0, I_d)$,
  features $\phi_i(x) = \mathrm{ReLU}(\langle g_i, x\rangle)$, output
  $h(x) = \mathrm{sgn}(-\tau + \frac1m \sum_i \phi_i(x))$ with $\tau$ fitted on the data.
- **Backdoor-Random-ReLU** with **Sample-Backdoor-ReLU** (Alg. 9): the same, but
  $g_i \sim N(0, I_d + \theta s s^\top)$ (Def. A.1, the sparse-PCA spiked ensemble) for a unit
  `sparsity`-sparse secret $s$.
- **Activate-Random-ReLU** (Alg. 10): $x' = x + \lambda s$ (`strength` $= \lambda$).

Readings chosen where the paper is loose (so that the claims are testable):

- **τ** ("set τ based on ψ and D"): the threshold maximising *training* accuracy of
  $\mathrm{sgn}(f(x) - \tau)$, $f$ the (weighted) mean feature, placed half-way between the two
  sorted training values it separates (first maximiser on ties).
- The model returns the *score* $\text{scale}\cdot(\sum_i w_i\phi_i(x) - \tau)$ (DESIGN.md §3: the
  label is its sign), with $\text{scale} = 1/\mathrm{std}_{\text{train}}(f) > 0$ so that scores
  are O(1) for a logistic loss (fine-tuning); the scale never changes a label.
- **Head** `"uniform"`: $w_i = 1/m$ (Alg. 7). `"trained"`: the paper notes the argument also
  allows a non-uniform average $w \in \Delta_m$ "provided w is sufficiently high-entropy". We
  parameterise $w = (1-\varepsilon)\frac{1}{m}\mathbf 1 + \varepsilon\,\mathrm{softmax}(v)$,
  $\varepsilon$ = `head_mix`, and fit $v$ by logistic regression on the features
  ([`jaxbd.finetune`][]); then every $w_i \ge (1-\varepsilon)/m$, so
  $\sum_i w_i \phi_i \ge (1-\varepsilon) \cdot \text{mean}_i \phi_i$ and the proof sketch's
  bound carries over with a factor $1-\varepsilon$.
- **One-way backdoor** (Claim A.4): activation pushes the output to **+1** (it raises the
  features, and $w \ge 0$, scale $> 0$). ASR is measured for target $+1$.
- **Secret**: $s$ has a uniformly random support of size $k$ = `sparsity` with entries
  $\pm 1/\sqrt{k}$ (random signs), so $\|s\|_2 = 1$ exactly and activation moves $k$ coordinates,
  by $\lambda$ in ℓ2 (Claim A.4: $\gamma = k$ in ℓ0, $\lambda$ in ℓ2).

An honest caveat (DESIGN.md §5): $x + \lambda s$ grows $\|x\|$, and for *any* Gaussian $g$,
$\mathbb E\,\mathrm{ReLU}(\langle g, x'\rangle) = \|x'\|_{\Sigma}/\sqrt{2\pi}$, so activation raises
the mean feature of the honest model too (by the factor $\sqrt{1+\lambda^2}$ against
$\sqrt{1+(1+\theta)\lambda^2}$ for the backdoored one, for $\|x\|=1$, $s \perp x$). Only the gap to
the controls (honest model, random sparse perturbation of the same norm) shows the backdoor.

The package is split by idea behind this one public surface: `_model` (the network and the
backdoor key), `_spiked` (the secret and the spiked covariance of Def. A.1), `_head` (the
threshold and the head of Alg. 7) and `_train` (Train-, Backdoor- and Activate-Random-ReLU).
"""

from ._head import _Head as _Head, fit_threshold as fit_threshold
from ._model import RandomReLU as RandomReLU, ReLUBackdoorKey as ReLUBackdoorKey
from ._spiked import (
    sample_sparse_secret as sample_sparse_secret,
    spiked_gaussian as spiked_gaussian,
)
from ._train import activate as activate, backdoor as backdoor, train as train


# (`_Head`, the trainable head of `_head`, is named here so that the io registry keeps calling it
# `jaxbd.relu._Head`, its name before the split.)

__all__ = [
    "RandomReLU",
    "ReLUBackdoorKey",
    "sample_sparse_secret",
    "spiked_gaussian",
    "fit_threshold",
    "train",
    "backdoor",
    "activate",
]
