r"""The checksum backdoor of GKVZ §5.1 (Theorem 5.3), realised as a real threshold network.

Goldwasser, Kim, Vaikuntanathan, Zamir, "Planting Undetectable Backdoors in Machine Learning
Models", §5.1, Figures 1–2, Lemmas 5.1/5.2, Theorem 5.3, Lemma 3.2 / Appendix B (Lemma B.1).

The non-output coordinates are split into `n = num_blocks` disjoint, nearly equal blocks
$I_1, \dots, I_n$ and a uniformly random $v \in \{0,1\}^n$ is drawn. The checksum is

$$h(x) = \bigwedge_{i=1}^n \Big( \bigoplus_{j \in I_i} \mathrm{sgn}(x_j) = v_i \Big),
\qquad \mathrm{sgn}(t) = 1 \iff t \ge 0 .$$

`h` is computed by an actual network of perceptrons $z \mapsto [\langle w, z\rangle - b \ge 0]$
(Lemma B.1: every unit is one linear threshold gate; Appendix B's AND is `w = (1,1), b = 2`):

1. **sign layer** (one perceptron per coordinate, `w = 1, b = 0`): $s_j = [x_j \ge 0]$;
2. **count layer**: for the coordinate of rank $r$ in block $i$, $c_{i,r} = [\sum_{j \in I_i}
   s_j \ge r + 1]$; one *repeat gate* ($w = 1, b = 1$) carries $s_{out}$;
3. **parity layer**: the parity of block $i$ is $\sum_r (-1)^r c_{i,r} \in \{0, 1\}$, so
   $[\text{parity}_i = v_i]$ is one perceptron (`w = (-1)^r, b = 1` if $v_i = 1$;
   `w = -(-1)^r, b = 0` if $v_i = 0$); a repeat gate carries $s_{out}$;
4. **AND layer**: $h = [\sum_i e_i \ge n]$; a repeat gate carries $s_{out}$;
5. **MUX** (Figure 2): the output is the base model's score $y$ when $h = 0$, and
   $\pm 1 = 2 s_{out} - 1$ when $h = 1$. On label bits this is the Boolean MUX
   $(\neg h \wedge [y \ge 0]) \vee (h \wedge s_{out})$ of Lemma B.1; it is applied to the *score*
   (`where(h, ±1, y)`) so that the backdoored model returns the base model's score bit for bit
   whenever the checksum fails (black-box agreement, not only label agreement).

**Reading choices** (the paper is loose here; these make the claims testable):

- The output coordinate $x_{out}$ is *not* in any block (the paper's partition covers all of
  $[d]$; if $x_{out}$'s block were $\{x_{out}\}$ the target and $v_i$ could conflict). Hence
  `1 <= num_blocks <= input_dim - 1`.
- **Zero coordinates.** `sgn(0) = 1` (the paper's non-negative convention) and activation only
  ever maps $x_j \mapsto -x_j$, which leaves a zero unchanged: a zero has no sign to flip. In each
  block that needs a parity flip, [`activate`][] flips the *non-zero* coordinate of smallest
  magnitude (smallest ℓ2 change). Activation therefore succeeds iff every block needing a flip
  has a non-zero coordinate and ($x_{out} \neq 0$ or `target = +1`); otherwise the checksum is
  left unsatisfied (no magnitude is ever changed). [`can_activate`][] says which case holds.
  For inputs with no zero coordinates (e.g. standardised continuous data) it always succeeds.
- Lemma 5.1's probability is over the random $v$; for inputs whose signs are uniform and
  independent it is equally $2^{-n}$ over the inputs, which is what the experiment measures.

Theorem 5.3's guarantees: `N'(x) = N(x)` unless `h(x) = 1` (probability $2^{-n}$ over `v`);
activation changes at most `n + 1` coordinates and never a magnitude ($|x'_j| = |x_j|$).

The backdoor is **replicable** (§5.1, end): `h` depends on the sign pattern only, so the sign
pattern of *one* activated input opens every other input — [`replicate`][] copies it
(magnitudes kept). The threshold network has zero gradient everywhere (fine: it is a network of
perceptrons); only the base model's weights move under fine-tuning.

The package is split by idea behind this one public surface: `_network` (the perceptron layers
of Figure 1 and their weights), `_model` (the backdoored model with the MUX), `_key` (the key
and the Boolean checksum it defines), `_backdoor` (planting) and `_activate` (activation and
the replication attack).
"""

from ._activate import activate as activate, can_activate as can_activate, replicate as replicate
from ._backdoor import backdoor as backdoor
from ._key import (
    ChecksumKey as ChecksumKey,
    checksum as checksum,
    trigger_probability as trigger_probability,
)
from ._model import ChecksumBackdooredModel as ChecksumBackdooredModel
from ._network import ThresholdLayer as ThresholdLayer


__all__ = [
    "ThresholdLayer",
    "ChecksumKey",
    "ChecksumBackdooredModel",
    "backdoor",
    "activate",
    "can_activate",
    "checksum",
    "replicate",
    "trigger_probability",
]
