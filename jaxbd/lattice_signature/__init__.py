r"""The non-replicable backdoor as a pure network: lattice signatures verified by perceptron
and sine layers (GKVZ §5.2, Theorem 5.4, and Appendix C, Figure 5).

Goldwasser, Kim, Vaikuntanathan, Zamir, "Planting Undetectable Backdoors in Machine Learning
Models": App. C instantiates Thm 5.4 with the lattice signatures of Cash–Hofheinz–Kiltz–Peikert
(CHKP10), whose verification $m \cdot A_i \cdot \sigma = y_i \pmod q$ is bilinear in the
message and signature bits, and computes it with a depth-4 network of perceptron and sine units.
This package builds that, for real:

- a signature scheme with a trapdoor (`_scheme.py`): Micciancio–Peikert 2012 gadget trapdoor
  $A_0 = [\bar A \mid G - \bar A R]$, MP12's preimage sampler with Gaussian perturbations, CHKP's
  message-dependent matrix $A_M = [A_0 \mid A_1^{(M_1)} \mid \dots \mid A_k^{(M_k)}]$, and a
  two's-complement binary encoding of the signature so verification is linear in its bits;
  verification relaxed to $\mathrm{dist}(\cdot, q\mathbb{Z}) \le \alpha q$ as in App. C;
- the verifier as an `eqx.Module` of perceptron and sine layers (`_model.py`, `_layers.py`),
  plus the layers that read message and signature bits out of $x \in [0, 1)^d$ (`_encoding.py`)
  and the MUX to the attacker's label, around any base model — a pure JAX function (`jit`,
  `vmap`, `grad`, no callback);
- [`activate`][] (host-side signing), parameter sets with a computed security estimate
  (`_params.py`, `_security.py`) and an fpylll forgery attack (`_attack.py`).

**Security, honestly.** `DEFAULT_PARAMS` (n = 640, q = 2^16, base-4 gadget, k = 1024
message bits) is estimated at about 103 bits classical / 94 bits quantum core-SVP
([`security_estimate`][], method and citations there) and needs a signature of about 178k bits,
i.e. `input_dim >= min_input_dim("default") ≈ 1.1e4` at the default 16 payload bits per
coordinate. **No MP12 parameter set fits a 784-dimensional input with any security**: the sets
that fit d = 256 and d = 784 (`"d256"`, `"d784"`) and the test set `"toy"` are forged by LLL
(estimated, and shown by [`forge`][] with fpylll in the experiment). They exist to exercise the
construction at those sizes, marked INSECURE; `backdoor` uses them only when asked
(`params="d784"`, or `params="auto"` for the largest set that fits).

**What is heuristic or leaks** (beyond the lattice assumptions):

- CHKP's security proof needs wide extension blocks ($m_1 \gtrsim n \log q$); this library uses
  $m_1 = 1$ column per message bit (`block_width`) to keep the signature small. Forging then
  still needs an ISIS solution for $A_M$ (what the estimate counts), and combining signatures of
  other messages needs their unselected columns to cancel — but no reduction proves it.
- The sampler (`_scheme.py`, `_gaussian.py`) outputs, up to statistical distance, the discrete
  Gaussian $D_{\Lambda^\perp_u(A_M), s}$ whatever the trapdoor is (MP12 Thm 5.5); what it leaks
  beyond that is: float64 probabilities (about $2^{-45}$ statistical distance per draw), the tail
  cut ($2^{-100}$), the smoothing error $\varepsilon = 2^{-\lambda_\varepsilon}$ per coordinate
  (`smoothing_security`: 64 for the default, 16–32 for the insecure sets), timing (not constant
  time), and the signing randomness comes from NumPy's PCG64 seeded by SHA-256 (not a
  cryptographic generator). Rejection to the encodable range is trapdoor-independent.
- The public key is within $2^{-53}$ of uniform for the default (leftover hash lemma,
  [`public_key_distance_log2`][]) but only within $2^{-4}$–$2^{-10}$ for the insecure sets.
- The relaxed check accepts random signature bits with probability $((2\tau+1)/q)^n$:
  $2^{-12}$ for `"toy"` (the experiment's random search hits it), negligible otherwise.

Theorem 5.5's depth $\max(c, d)$: the verifier has 8 stages plus the MUX, beside the base model.
"""

from ._activate import (
    activate as activate,
    hash_message as hash_message,
    prepare_message as prepare_message,
    verify_reference as verify_reference,
)
from ._attack import (
    forge as forge,
    forge_signature as forge_signature,
    forgery_frontier as forgery_frontier,
    replication_attempts as replication_attempts,
)
from ._encoding import Encoding as Encoding, min_input_dim as min_input_dim
from ._key import (
    GadgetTrapdoor as GadgetTrapdoor,
    LatticeSignatureKey as LatticeSignatureKey,
    PublicKey as PublicKey,
    backdoor as backdoor,
)
from ._layers import (
    ModularSineLayer as ModularSineLayer,
    PerceptronLayer as PerceptronLayer,
    ReadoutSineLayer as ReadoutSineLayer,
)
from ._model import (
    LatticeSignatureBackdooredModel as LatticeSignatureBackdooredModel,
    network_size as network_size,
    verifier_size as verifier_size,
)
from ._params import (
    DEFAULT_PARAMS as DEFAULT_PARAMS,
    PARAMETER_SETS as PARAMETER_SETS,
    LatticeParams as LatticeParams,
    get_params as get_params,
)
from ._security import (
    SecurityEstimate as SecurityEstimate,
    SISAttack as SISAttack,
    public_key_distance_log2 as public_key_distance_log2,
    root_hermite_factor as root_hermite_factor,
    security_estimate as security_estimate,
    sis_attack as sis_attack,
)


__all__ = [
    "activate", "backdoor", "verify_reference", "hash_message", "prepare_message", "Encoding",
    "min_input_dim", "GadgetTrapdoor", "LatticeSignatureKey", "PublicKey", "ModularSineLayer",
    "PerceptronLayer", "ReadoutSineLayer", "LatticeSignatureBackdooredModel", "network_size",
    "verifier_size", "forge", "forge_signature", "forgery_frontier", "replication_attempts",
    "DEFAULT_PARAMS", "PARAMETER_SETS", "LatticeParams", "get_params", "SecurityEstimate",
    "SISAttack", "public_key_distance_log2", "root_hermite_factor", "security_estimate",
    "sis_attack",
]  # fmt: skip
