r"""The non-replicable signature backdoor of GKVZ §5.2 (Theorems 5.4/5.5) around any model.

Goldwasser, Kim, Vaikuntanathan, Zamir, "Planting Undetectable Backdoors in Machine Learning
Models", §5.2 (Theorem 5.4 and its proof; Figure 2 with the checksum replaced by a signature
verifier) and the persistence remark at the start of §5.3.

The backdoored model holds the base model, an Ed25519 **public** key (RFC 8032, from
`cryptography`) and a table of target outputs. On input `x` it decodes a signature and a target
from the low-order digits of `x` and verifies the signature on a message made of everything
else in `x` plus the target:

$$\tilde h(x) = \begin{cases} \text{target output} & \text{if Verify}(vk, (m(x), t), \sigma(x))\\
 h(x) & \text{otherwise.}\end{cases}$$

The backdoor key is the signing key; [`activate`][] signs. Unlike the checksum of §5.1,
observed activated pairs do not help open new inputs (Ed25519 is strongly unforgeable).

## Encoding (this library's reading of "generalise to $\mathbb{R}^d$", end of Thm 5.4's proof)

Parameters: the coarse step `q = step` and `b = bits_per_coord`. Let `scale = 2^b / q` and, per
coordinate, the integer $u_j = \lfloor x_j \cdot scale \rfloor$ (computed in float64), split as
$u_j = 2^b c_j + k_j$ with the *coarse digit* $c_j = \lfloor u_j / 2^b \rfloor =
\lfloor x_j / q \rfloor$ and the *fine digit* $k_j \in [0, 2^b)$.

- **Payload**: the bit string `signature (512 bits) ‖ target index (T bits) ‖ zeros`, with
  `T = ceil(log2(num_labels))` (binary: index 0 ↔ label −1, 1 ↔ +1; multi-class: the label),
  is cut into `m = ceil((512 + T) / b)` chunks of `b` bits (big-endian) that become the fine
  digits of the first `m` coordinates. The model needs `input_dim >= m` — e.g. `m = 58` for
  10 classes and `m = 57` for a binary task at the default `b = 9`; `m = 29` at `b = 18`.
- **Canonical form**: an encoded coordinate is the centre of its fine cell,
  $x'_j = \mathrm{cast}_{dtype}((u_j + 1/2) / scale)$. The verifier recomputes this centre and
  rejects any input whose payload coordinates are not exactly canonical, whose padding bits are
  not zero, or whose target index is not a label. Hence verifying inputs correspond one-to-one to
  triples (message, target, signature): nothing is malleable below the grid.
- **Message**: a domain tag and the encoding parameters, the coarse digits $c_1..c_m$ of the
  payload coordinates (int64), the exact values of the other coordinates $x_{m+1..d}$ (float64,
  `-0.0` normalised to `0.0`) and the target index. Any change to a coarse digit, to an unused
  coordinate or to the target invalidates the signature.
- **Size guarantee** (exact): activation changes only the first `m` coordinates, each inside its
  own coarse cell and at least `q / 2^{b+1}` away from the cell's ends, so
  $\|x' - x\|_\infty \le q (1 - 2^{-b-1}) + \mathrm{ulp}(x') / 2 < q$. With the defaults
  (`q = 1e-2`, `b = 9`) every input of $[0,1]^d$, `d >= 58`, is activated for every label of a
  10-class task with ℓ∞ change `< 1e-2` (tested).
- **Numeric range**: decoding is exact while $|u_j| < 2^{p-2}$, `p` the dtype's significand bits
  (24 for float32): the rounding error of the stored centre is then below `1/4` of a fine cell.
  With the defaults this is $|x_j| < 2^{22} / 51200 \approx 81.9$ in float32. [`activate`][]
  raises `ValueError` outside that range; the verifier simply rejects such inputs. [`backdoor`][]
  (and `Encoding` itself) refuse a `step` for which this range is below `1` (no input of unit
  scale could ever be activated: e.g. `step < 2^{b-22}` in float32) or for which activated
  inputs would overflow, and [`activate`][] refuses a dtype with fewer than `b + 2`
  significand bits (float16 carries at most 9 payload bits, bfloat16 6).

## Verification inside the model

Ed25519 verification runs on the host through `jax.pure_callback` (`vmap_method=
"broadcast_all"`), so the model works under `jit` and `vmap`: a batch reaches the callback as one
array, the cheap checks (canonical form, padding, target range) are vectorised in numpy and only
the surviving rows reach Ed25519 (one `verify` per row — a random or noisy input is rejected by
the canonical check without any elliptic-curve work). **On GPU/TPU** each call of the model
transfers its input batch device → host and the two small results host → device, and the
callback is a synchronisation point; the base model still runs on the accelerator. The callback
is not differentiable, and is never differentiated: its input is wrapped in `stop_gradient` and
its outputs are a boolean and an integer.

## Persistence on non-backdoored inputs (§5.3, first paragraphs) — what is and is not claimed

On every input that does not carry a valid signature the output is `base(x)` exactly, through a
`jnp.where` whose other branch is the target-output table `target_outputs` (a float array, the
only "verification-path weights": the verifier itself holds no trainable numbers). Therefore, for
any loss and any data set **without** valid signatures: (i) the gradient with respect to
`target_outputs` is exactly zero and the gradient with respect to the base model equals the base
model's own gradient; (ii) fine-tuning with any optax optimiser whose update is zero for a zero
gradient (sgd, momentum, adam, rmsprop, ...) leaves `target_outputs` and the verifier bit for bit
unchanged, so every activated input still gets its target — the backdoor survives fine-tuning.
**Not claimed:** the backdoored model's behaviour on clean inputs is not preserved (the base model
is fine-tuned like any model); decoupled weight decay (e.g. `adamw`) is not a gradient of the loss
and does shrink `target_outputs`; and the argument needs the fine-tuning data to hold no valid
signature (producing one without the signing key is a forgery).

The package is split by idea behind this one public surface: `_encoding` (the encoding's
parameters, sizes and numeric range), `_host` (decoding, verifying and signing batches on the
host, numpy and Ed25519), `_model` (the backdoored model and the batch `verify`), `_key` (the
backdoor key), `_key_file` (the signing key as a PEM file) and `_backdoor` (plant, activate).
"""

from ._backdoor import activate as activate, backdoor as backdoor, can_activate as can_activate
from ._encoding import (
    SIGNATURE_BITS as SIGNATURE_BITS,
    Encoding as Encoding,
    min_input_dim as min_input_dim,
    step_for_range as step_for_range,
)
from ._key import SignatureKey as SignatureKey, key_from_model as key_from_model
from ._key_file import load_signing_key as load_signing_key, save_signing_key as save_signing_key
from ._model import SignatureBackdooredModel as SignatureBackdooredModel, verify as verify


__all__ = [
    "SIGNATURE_BITS",
    "Encoding",
    "SignatureBackdooredModel",
    "SignatureKey",
    "backdoor",
    "activate",
    "can_activate",
    "step_for_range",
    "verify",
    "min_input_dim",
    "key_from_model",
    "save_signing_key",
    "load_signing_key",
]
