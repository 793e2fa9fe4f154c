r"""Random Fourier features and the white-box undetectable RFF backdoor (GKVZ §6, Alg. 2–6).

Goldwasser–Kim–Vaikuntanathan–Zamir, "Planting Undetectable Backdoors in Machine Learning
Models", §6:

- **Train-RFF** (Alg. 2, 3 via Alg. 1, Train-RandomFeatures): sample $m$ random features
  $\varphi_i(x) = \cos(2\pi(\langle g_i, x\rangle/\ell + b_i))$, $g_i \sim N(0, I_d)$,
  $b_i \sim U[0, 1)$ ($\ell$ = `bandwidth`; the paper has $\ell = 1$ and rescales the data),
  then train a halfspace $h(x) = \mathrm{sgn}\langle w, \Phi(x)\rangle$ on the features
  ([`train`][]).
- **Backdoor-RFF** (Alg. 4, 5): the *same* training code, but $g_i$ drawn from sparse Gaussian
  pancakes $\mathrm{GP}_d(\omega)$ (Lemma 6.2, [`jaxbd.clwe.pancakes`][] with shift 1/2) instead
  of $N(0, I_d)$ ([`backdoor`][]). Only the randomness is tampered with; that is the paper's point:
  a distinguisher for the models would distinguish pancakes from Gaussians (CLWE, Thm 6.4).
- **Activate-RFF** (Alg. 6): $x' = x + \ell\,\omega$ ([`activate`][]). Since
  $\langle g_i, \omega\rangle \in \mathbb{Z} + 1/2 + \delta_i$, every feature flips:
  $\varphi_i(x') = -\cos(2\pi(\langle g_i,x\rangle/\ell + b_i + \delta_i))$, so
  $|\langle w, \Phi(x')\rangle + \langle w, \Phi(x)\rangle| \le \|w\|_2\sqrt{m}\,2\pi\max_i|\delta_i|$
  (proof of Thm 6.3, Cauchy–Schwarz) and the label flips wherever the margin
  $|\langle w, \Phi(x)\rangle|$ exceeds that bound ([`margin`][], [`flip_bound`][]).

**No bias term.** The model is the paper's halfspace $\mathrm{sgn}\langle w, \Phi(x)\rangle$ with
no intercept: a bias $c$ would turn the flip $s \mapsto -s$ into $s \mapsto -s + 2c$ and break
Activate-RFF for every input with $|s - c| < |c|$.

**Head normalisation** (Assumption 6.1): after training the head is rescaled to
$\|w\|_2 = 1$ (binary). For $c \ge 3$ classes the logits are $W\Phi(x)$, $W$ of shape
`(c, width)`, and $W$ is rescaled to unit *Frobenius* norm: normalising each row separately (a
literal reading of "rows") would change the argmax, i.e. the classifier; a global rescaling does
not, and every row then has $\|w_j\|_2 \le 1$, so the bound above holds per logit. Under
activation the logits negate (up to the bound), which reverses the ranking of the classes.

**Cosine.** Features use [`cos_turns`][] $= \cos(2\pi\theta)$ computed by exact range reduction
$\theta - \mathrm{round}(\theta)$ and an even polynomial on $[0, \pi/2]$ (degree 12 in float32,
20 in float64): absolute error $\le 2\cdot 10^{-7}$ (float32) / $\le 10^{-15}$ (float64) against
$\cos(2\pi\theta)$ of the same rounded $\theta$ (tested). It is cheaper than XLA's general
`cos` on CPU and avoids forming $2\pi\theta$, whose rounding grows with $|\theta|$.

The package is split by idea behind this one public surface: `_features` (the cosine and the
featurization), `_model` (the classifier and the backdoor key), `_train` (Train-RFF, Alg. 1–3),
`_backdoor` (Backdoor-RFF and Activate-RFF, Alg. 4–6) and `_margins` (the bound of Thm 6.3).
"""

from ._backdoor import activate as activate, backdoor as backdoor
from ._features import cos_turns as cos_turns
from ._margins import (
    feature_flip_error as feature_flip_error,
    flip_bound as flip_bound,
    margin as margin,
)
from ._model import RFFBackdoorKey as RFFBackdoorKey, RFFClassifier as RFFClassifier
from ._train import LOSSES as LOSSES, train as train


__all__ = [
    "RFFClassifier",
    "RFFBackdoorKey",
    "train",
    "backdoor",
    "activate",
    "margin",
    "flip_bound",
    "feature_flip_error",
    "cos_turns",
    "LOSSES",
]
