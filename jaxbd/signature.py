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
"""

import dataclasses
import functools
import math
import os
import struct

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jaxtyping import Array, Bool, Float

from ._validate import (
    check_example,
    check_int_range,
    check_matrix,
    check_positive,
    check_range,
    check_target,
    is_concrete,
)
from .io import register_secret, write_atomic


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

SIGNATURE_BITS = 512  # an Ed25519 signature is 64 bytes
_TAG = b"jaxbd.signature.v1"


@dataclasses.dataclass(frozen=True)
class Encoding:
    """How the signature and target sit in the low-order digits of an input (module docstring).

    **Fields:** `input_dim`, `step` (the coarse grid `q`), `bits_per_coord` (`b`), `num_labels`
    (2 for a binary task), `binary` (scalar score, labels ±1).
    """

    input_dim: int
    step: float
    bits_per_coord: int
    num_labels: int
    binary: bool

    def __post_init__(self):
        d = check_int_range(self.input_dim, "input_dim", low=1, high=_INT32_MAX)
        b = check_int_range(self.bits_per_coord, "bits_per_coord", low=1, high=30)
        c = check_int_range(self.num_labels, "num_labels", low=2, high=_INT32_MAX)
        if not isinstance(self.binary, (bool, np.bool_)):
            raise ValueError(f"`binary` must be True or False, got {self.binary!r}.")
        if self.binary and c != 2:
            raise ValueError(f"a binary encoding has `num_labels` = 2, got {c}.")
        _check_step(self.step, b)
        _check_input_dim(d, c, b)

    @property
    def target_bits(self) -> int:
        return max(1, math.ceil(math.log2(self.num_labels)))

    @property
    def payload_bits(self) -> int:
        return SIGNATURE_BITS + self.target_bits

    @property
    def payload_coords(self) -> int:
        """`m`: how many leading coordinates carry the payload."""
        return math.ceil(self.payload_bits / self.bits_per_coord)

    @property
    def scale(self) -> float:
        return math.ldexp(1.0, self.bits_per_coord) / self.step

    def label_to_index(self, label) -> int:
        if self.binary:
            return 1 if label > 0 else 0
        return int(label)

    def index_to_label(self, index):
        return (1.0 if index == 1 else -1.0) if self.binary else int(index)

    def header(self) -> bytes:
        return _TAG + struct.pack(
            "<iidii", self.input_dim, self.bits_per_coord, self.step, self.num_labels, self.binary
        )


def min_input_dim(num_labels: int = 2, *, bits_per_coord: int = 9) -> int:
    """Smallest `input_dim` the encoding fits in: `ceil((512 + ceil(log2 c)) / b)`."""
    b = check_int_range(bits_per_coord, "bits_per_coord", low=1, high=30)
    c = check_int_range(num_labels, "num_labels", low=2)
    return math.ceil((SIGNATURE_BITS + max(1, math.ceil(math.log2(c)))) / b)


def _range_bits(dtype) -> int:
    """`p - 2`, p the significand bits of `dtype`: |u| must stay below 2^(p-2)."""
    return int(jnp.finfo(dtype).nmant) + 1 - 2


def _range_limit(dtype) -> float:
    """|u| must stay below 2^(p-2), p the significand bits of `dtype` (module docstring)."""
    return math.ldexp(1.0, _range_bits(dtype))


_INT32_MAX = 2**31 - 1  # the header packs input_dim and num_labels as int32


def _check_step(step, bits_per_coord: int) -> float:
    """`step` must leave inputs of unit scale decodable and activated inputs finite.

    Checked in float32 (the default dtype) when `bits_per_coord` fits it (`<= 22`), else in
    float64 (the only dtype that can carry more bits). The exactly decodable range is
    `|x_j| < 2^(p-2) · step / 2^b` (module docstring, "Numeric range"): below `1` no input of
    unit scale (standardised or `[0, 1]` data) could ever be activated; above the dtype's
    largest value (less one coarse cell) activated inputs would overflow.
    """
    if not is_concrete(step):
        raise ValueError("`step` must be a concrete number (a static encoding parameter).")
    if isinstance(step, (str, bytes)):
        raise ValueError(f"`step` must be a number, got {step!r}.")
    check_positive(step, "step")
    q, b = float(step), bits_per_coord
    dt = np.float32 if b <= _range_bits(np.float32) else np.float64
    name = np.dtype(dt).name
    decodable = _range_limit(dt) * q / math.ldexp(1.0, b)
    if decodable < 1.0:
        lowest = math.ldexp(1.0, b) / _range_limit(dt)
        raise ValueError(
            f"`step`={step!r} is too small for bits_per_coord={b}: {name} inputs decode exactly "
            f"only where |x_j| < {decodable:.3g}, so no input of unit scale could ever be "
            f"activated; use step >= {lowest:.3g} (or fewer `bits_per_coord`)."
        )
    highest = float(np.finfo(dt).max) / (math.ldexp(1.0, _range_bits(dt) - b) + 1.0)
    if q > highest:
        raise ValueError(
            f"`step`={step!r} is too large for the encoding range: activated {name} inputs "
            f"(up to one step beyond the decodable range) would overflow; use step <= "
            f"{highest:.3g}."
        )
    return q


def _check_input_dim(d: int, num_labels: int, b: int) -> None:
    need = min_input_dim(num_labels, bits_per_coord=b)
    if d < need:
        raise ValueError(
            f"`input_dim`={d} is too small for the signature encoding: {SIGNATURE_BITS} signature "
            f"bits + target bits at bits_per_coord={b} need input_dim >= {need}; raise "
            "`bits_per_coord` (and `step` to keep the numeric range, see the module docstring)."
        )


def _split_digits(enc: Encoding, x: np.ndarray):
    """Host-side: float64 `u`, in-range mask (rows of `x` are examples)."""
    xf = x.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        u = np.floor(xf * enc.scale)
        in_range = np.isfinite(u) & (np.abs(u) < _range_limit(x.dtype))
    return np.where(in_range, u, 0.0).astype(np.int64), in_range


def _centre(enc: Encoding, u: np.ndarray, dtype) -> np.ndarray:
    return ((u.astype(np.float64) + 0.5) / enc.scale).astype(dtype)


def _message(enc: Encoding, coarse: np.ndarray, rest: np.ndarray, target_index: int) -> bytes:
    rest = rest.astype(np.float64) + 0.0  # -0.0 -> 0.0
    return (
        enc.header()
        + coarse.astype("<i8").tobytes()
        + rest.astype("<f8").tobytes()
        + struct.pack("<i", target_index)
    )


def _payload_bits(signature: bytes, target_index: int, enc: Encoding) -> np.ndarray:
    sig_bits = np.unpackbits(np.frombuffer(signature, np.uint8))
    t = enc.target_bits
    t_bits = (target_index >> np.arange(t - 1, -1, -1)) & 1
    bits = np.zeros(enc.payload_coords * enc.bits_per_coord, np.uint8)
    bits[:SIGNATURE_BITS] = sig_bits
    bits[SIGNATURE_BITS : SIGNATURE_BITS + t] = t_bits
    return bits


def _host_verify(public_key: bytes, enc: Encoding, x):
    """Vectorised verification of a batch `(..., d)`: returns `(ok, target_index)`."""
    x = np.asarray(x)
    lead = x.shape[:-1]
    x = x.reshape(-1, enc.input_dim)
    m, b = enc.payload_coords, enc.bits_per_coord
    u, in_range = _split_digits(enc, x[:, :m])
    ok = np.all(in_range, axis=1) & np.all(_centre(enc, u, x.dtype) == x[:, :m], axis=1)
    target = np.zeros(len(x), np.int64)
    rows = np.flatnonzero(ok)  # only canonical encodings go further (random inputs stop here)
    if rows.size:
        ur = u[rows]
        fine = ur & ((1 << b) - 1)
        coarse = ur >> b
        bits = ((fine[:, :, None] >> np.arange(b - 1, -1, -1)) & 1).reshape(len(rows), m * b)
        good = ~np.any(bits[:, enc.payload_bits :], axis=1)
        t = enc.target_bits
        tr = bits[:, SIGNATURE_BITS : SIGNATURE_BITS + t] @ (1 << np.arange(t - 1, -1, -1))
        good &= tr < enc.num_labels
        target[rows] = tr
        vk = Ed25519PublicKey.from_public_bytes(public_key)
        for j in np.flatnonzero(good):  # one Ed25519 verification per surviving row
            sig = np.packbits(bits[j, :SIGNATURE_BITS].astype(np.uint8)).tobytes()
            try:
                vk.verify(sig, _message(enc, coarse[j], x[rows[j], m:], int(tr[j])))
            except InvalidSignature:
                good[j] = False
        ok[rows] = good
    return ok.reshape(lead), target.astype(np.int32).reshape(lead)


@functools.lru_cache(maxsize=64)
def _verifier(public_key: bytes, enc: Encoding):
    # One stable callable per (key, encoding): JAX caches compiled callbacks by identity.
    return functools.partial(_host_verify, public_key, enc)


@functools.lru_cache(maxsize=64)
def _signer(signing_key: Ed25519PrivateKey, enc: Encoding):
    # Held only in this process's memory (never in a model); same caching reason as _verifier.
    return functools.partial(_host_activate, signing_key, enc)


class SignatureBackdooredModel(eqx.Module):
    """A base model plus an Ed25519 verifier (GKVZ Thm 5.4, Figure 2).

    **Fields:** `base` (the model), `target_outputs` (`(2,)` scores `[-1, +1]` for a binary task,
    `(c, c)` one-hot logits for `c` classes: row `t` is returned when a valid signature for target
    `t` is present), `public_key` (static, the 32 public-key bytes), `encoding` (static
    [`Encoding`][]).
    """

    base: eqx.Module
    target_outputs: Float[Array, "..."]
    public_key: bytes = eqx.field(static=True)
    encoding: Encoding = eqx.field(static=True)

    def __check_init__(self):
        if not callable(self.base):
            raise ValueError(f"`base` must be a model (callable), got {type(self.base).__name__}.")
        enc = self.encoding
        if not isinstance(enc, Encoding):
            raise ValueError(f"`encoding` must be an Encoding, got {type(enc).__name__}.")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != 32:
            raise ValueError("`public_key` must be the 32 raw bytes of an Ed25519 public key.")
        t = self.target_outputs
        if not isinstance(t, (np.ndarray, jax.Array)) or not jnp.issubdtype(t.dtype, jnp.floating):
            raise ValueError("`target_outputs` must be a real floating array.")
        want = (2,) if enc.binary else (enc.num_labels, enc.num_labels)
        if t.shape != want:
            raise ValueError(
                f"`target_outputs` must have shape {want} for the encoding's {enc.num_labels} "
                f"labels, got {t.shape}."
            )

    def verify(self, x: Float[Array, " d"]) -> tuple[Array, Array]:
        """`(valid, target_index)` for one example (host callback; jit/vmap-able)."""
        x = check_example(x, self.encoding.input_dim)
        shapes = (
            jax.ShapeDtypeStruct((), jnp.bool_),
            jax.ShapeDtypeStruct((), jnp.int32),
        )
        fn = _verifier(self.public_key, self.encoding)
        return jax.pure_callback(fn, shapes, jax.lax.stop_gradient(x), vmap_method="broadcast_all")

    def __call__(self, x: Float[Array, " d"]) -> Array:
        x = check_example(x, self.encoding.input_dim)
        y = self.base(x)
        enc = self.encoding
        want = () if enc.binary else (enc.num_labels,)
        if jnp.shape(y) != want:
            raise ValueError(
                f"`base` must return {'a scalar score' if enc.binary else 'logits'} of shape "
                f"{want} (the encoding's task), got shape {jnp.shape(y)}."
            )
        ok, t = self.verify(x)
        target_out = self.target_outputs[t].astype(y.dtype)
        return jnp.where(ok, target_out, y)


@dataclasses.dataclass(frozen=True, repr=False)
class SignatureKey:
    """The backdoor key: `signing_key` (an Ed25519 private key object) and the `encoding`.

    Its `repr` shows only the public key. Marked as a backdoor key for `jaxbd.io` (a frozen
    dataclass holding a `cryptography` object cannot be an `eqx.Module` pytree).
    """

    __jaxbd_backdoor_key__ = True

    signing_key: Ed25519PrivateKey
    encoding: Encoding

    def __post_init__(self):
        _check_signing_key(self.signing_key)
        if not isinstance(self.encoding, Encoding):
            raise ValueError(
                f"`encoding` must be an Encoding, got {type(self.encoding).__name__}."
            )

    @property
    def public_key(self) -> bytes:
        return _public_bytes(self.signing_key)

    def __repr__(self) -> str:
        return f"SignatureKey(public_key={self.public_key.hex()}, encoding={self.encoding})"


def _check_signing_key(signing_key, name: str = "signing_key") -> Ed25519PrivateKey:
    if isinstance(signing_key, SignatureKey):
        signing_key = signing_key.signing_key
    if not isinstance(signing_key, Ed25519PrivateKey):
        raise ValueError(
            f"`{name}` must be a cryptography Ed25519PrivateKey, got {type(signing_key).__name__}."
        )
    register_secret(signing_key)  # jaxbd.io refuses its bytes in any model file
    return signing_key


def _check_backdoor_key(backdoor_key) -> "SignatureKey":
    if not isinstance(backdoor_key, SignatureKey):
        raise ValueError(
            "`backdoor_key` must be a SignatureKey (from signature.backdoor or key_from_model), "
            f"got {type(backdoor_key).__name__}."
        )
    return backdoor_key


def _public_bytes(signing_key: Ed25519PrivateKey) -> bytes:
    return signing_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def backdoor(
    model: eqx.Module,
    *,
    input_dim: int,
    signing_key: Ed25519PrivateKey | None = None,
    step: float | None = None,
    bits_per_coord: int = 9,
    x_train=None,
    range_margin: float = 4.0,
) -> tuple[SignatureBackdooredModel, SignatureKey]:
    """Wrap any `model` in the signature backdoor (GKVZ §5.2, Theorem 5.4).

    **Arguments:**

    - `model`: the base model, `model(x)` a scalar score (binary) or logits `(c,)`, `c >= 2`.
    - `input_dim`: `d`; must be at least [`min_input_dim`][]`(c, bits_per_coord=...)`.
    - `signing_key`: an `Ed25519PrivateKey` (default: a fresh one from the OS's CSPRNG — this is
      key generation for a signature scheme, so it does not take a JAX PRNG key).
    - `step`: the coarse grid `q`: ℓ∞ size of any activation is below `q`. Default (`None`):
      `1e-2`, or — given `x_train` — the larger of `1e-2` and [`step_for_range`][]`(
      range_margin * max|x_train|)`, so that inputs up to `range_margin` times the training
      range can be activated (the encoding range chosen from the data at plant time).
    - `bits_per_coord`: `b`, payload bits per coordinate (`1..30`).
    - `x_train`: training inputs `(n, d)` (optional), read only to choose `step`.
    - `range_margin`: how far beyond the training range activation must work (`>= 1`).
      Inputs beyond it may not be activatable: [`can_activate`][] says which; a single
      concrete one makes [`activate`][] raise, under `jit`/`vmap` it comes back unchanged.

    **Returns:** `(backdoored_model, backdoor_key)`; the model holds only the public key.

    **Raises:** `ValueError` for an unsupported output shape or dtype, a too small
    `input_dim`, a bad `bits_per_coord`, a `step` outside what the encoding can use (so small
    that no input of unit scale could be activated, or so large that activated inputs would
    overflow; see `_check_step`) or a `signing_key` that is not an Ed25519 private key.
    """
    d = check_int_range(input_dim, "input_dim", low=1, high=_INT32_MAX)
    b = check_int_range(bits_per_coord, "bits_per_coord", low=1, high=30)
    step = _check_step(_default_step(x_train, d, b, range_margin) if step is None else step, b)
    if signing_key is None:
        signing_key = Ed25519PrivateKey.generate()
    if not isinstance(signing_key, Ed25519PrivateKey):
        raise ValueError(
            f"`signing_key` must be a cryptography Ed25519PrivateKey, got {type(signing_key)}."
        )
    if not callable(model):
        raise ValueError(f"`model` must be a model (callable), got {type(model).__name__}.")
    try:
        out = eqx.filter_eval_shape(model, jax.ShapeDtypeStruct((d,), jnp.float32))
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"`model` cannot be applied to one example of shape ({d},): {e}") from e
    shape = getattr(out, "shape", None)
    if shape == ():
        num_labels, binary = 2, True
        table = jnp.asarray([-1.0, 1.0], out.dtype)
    elif shape is not None and len(shape) == 1 and shape[0] >= 2:
        num_labels, binary = int(shape[0]), False
        table = jnp.eye(num_labels, dtype=out.dtype)
    else:
        raise ValueError(
            "`model` must return a scalar score or a logits vector (c,) with c >= 2 per example, "
            f"got output {out!r}."
        )
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise ValueError(f"`model` must return real floating scores, got dtype {out.dtype}.")
    _check_input_dim(d, num_labels, b)
    enc = Encoding(d, step, b, num_labels, binary)
    bm = SignatureBackdooredModel(model, table, _public_bytes(signing_key), enc)
    return bm, SignatureKey(signing_key, enc)


def _default_step(x_train, d: int, b: int, margin) -> float:
    """`step` when none is given: `1e-2`, widened to cover `margin` x the training range."""
    if not is_concrete(margin) or not is_concrete(x_train):
        raise ValueError("`range_margin` and `x_train` must be concrete (they choose `step`).")
    margin = float(check_range(margin, "range_margin", low=1.0))
    if x_train is None:
        return 1e-2
    top = float(np.max(np.abs(np.asarray(check_matrix(x_train, "x_train", dim=d)))))
    dt = np.float32 if b <= _range_bits(np.float32) else np.float64
    if top == 0.0:
        return 1e-2
    return max(1e-2, step_for_range(margin * top, bits_per_coord=b, dtype=dt))


def key_from_model(
    model: SignatureBackdooredModel, signing_key: Ed25519PrivateKey
) -> SignatureKey:
    """Rebuild the backdoor key of `model` from a (loaded) signing key; checks they match."""
    if not isinstance(model, SignatureBackdooredModel):
        raise ValueError(f"`model` must be a SignatureBackdooredModel, got {type(model)}.")
    signing_key = _check_signing_key(signing_key)
    if _public_bytes(signing_key) != model.public_key:
        raise ValueError("`signing_key` does not match the model's public key.")
    return SignatureKey(signing_key, model.encoding)


def _activatable(enc: Encoding, xs: np.ndarray) -> np.ndarray:
    """Host: which rows of `xs` (`(n, d)`) [`activate`][] can sign — finite payload coordinates
    whose every signed value stays inside the exactly decodable range (any fine digit)."""
    m, b = enc.payload_coords, enc.bits_per_coord
    u, in_range = _split_digits(enc, xs[:, :m])
    low = (u >> b) << b  # the signed value lies in [low, low + 2^b - 1]
    limit = _range_limit(xs.dtype)
    return np.all(in_range & (low > -limit) & (low + (1 << b) - 1 < limit), axis=1)


def _range_error(enc: Encoding, dtype) -> ValueError:
    limit = _range_limit(dtype) / enc.scale
    return ValueError(
        f"`x` has payload coordinates outside the exactly decodable range |x_j| < {limit:.4g} "
        f"for dtype {np.dtype(dtype)} (step={enc.step}, bits_per_coord={enc.bits_per_coord}), "
        "or NaN/inf; plant with a larger `step` (signature.step_for_range) or the training "
        "data (`x_train`)."
    )


def _host_activate(signing_key, enc: Encoding, x, target) -> np.ndarray:
    """Sign every row that can be activated; the others come back unchanged (a batch never
    fails for one row: [`can_activate`][] reports them)."""
    x = np.asarray(x)
    lead = x.shape[:-1]
    xs = x.reshape(-1, enc.input_dim)
    ts = np.broadcast_to(np.asarray(target), lead).reshape(-1)
    m, b = enc.payload_coords, enc.bits_per_coord
    u, _ = _split_digits(enc, xs[:, :m])
    coarse = u >> b
    out = xs.copy()
    powers = 1 << np.arange(b - 1, -1, -1)
    for i in np.flatnonzero(_activatable(enc, xs)):  # one Ed25519 signature per row
        t = enc.label_to_index(ts[i])
        sig = signing_key.sign(_message(enc, coarse[i], xs[i, m:], t))
        fine = _payload_bits(sig, t, enc).reshape(m, b).astype(np.int64) @ powers
        out[i, :m] = _centre(enc, (coarse[i] << b) + fine, x.dtype)
    return out.reshape(x.shape)


def _check_target(enc: Encoding, target):
    return check_target(target, 2 if enc.binary else enc.num_labels)


def activate(backdoor_key: SignatureKey, x: Float[Array, " d"], target) -> Float[Array, " d"]:
    r"""Sign `x`'s message for `target` and write the signature into its low-order digits.

    GKVZ Thm 5.4, Activate: $x' = (w, y, \mathrm{Sign}(sk, w \| y))$ in this library's encoding
    (module docstring). Only the first `m` coordinates change, each by less than `step` (ℓ∞).
    Works on concrete arrays and under `jit`/`vmap` (the signing runs on the host through
    `jax.pure_callback`; the private key never enters a traced computation or a model).

    **Arguments:** `backdoor_key`; `x`, one example `(d,)` (floating); `target`, a label of the
    base model's task (`±1` binary, `0..c-1` multi-class).

    **Returns:** `x'`, same shape and dtype.

    **Raises:** `ValueError` for a `backdoor_key` that is not a [`SignatureKey`][], a bad
    `target`, a wrong shape, a non-floating dtype or one too narrow for `bits_per_coord`, NaN/inf,
    or payload coordinates outside the exactly decodable range (concrete inputs; under `jit`
    the same message arrives as a runtime error).
    """
    enc = _check_backdoor_key(backdoor_key).encoding
    x = check_example(x, enc.input_dim)
    if enc.bits_per_coord > _range_bits(x.dtype):
        raise ValueError(
            f"`x` has dtype {x.dtype}, which cannot carry bits_per_coord={enc.bits_per_coord} "
            f"payload bits per coordinate exactly (at most {_range_bits(x.dtype)}); pass "
            "float32 or float64 inputs."
        )
    t = _check_target(enc, target)
    fn = _signer(backdoor_key.signing_key, enc)
    if is_concrete(x) and is_concrete(t):
        if not _activatable(enc, np.asarray(x)[None])[0]:
            raise _range_error(enc, x.dtype)
        return jnp.asarray(fn(np.asarray(x)[None], np.asarray(t)[None])[0])
    return jax.pure_callback(
        fn, jax.ShapeDtypeStruct(x.shape, x.dtype), x, t, vmap_method="broadcast_all"
    )


def can_activate(backdoor_key: SignatureKey, x: Float[Array, " d"]) -> Bool[Array, ""]:
    """Whether [`activate`][] can sign `x` (its payload coordinates finite and inside the exactly
    decodable range, module docstring); jit/vmap-able (a host callback when traced). Under
    `jit`/`vmap`, `activate` returns such a row unchanged instead of failing the batch."""
    enc = _check_backdoor_key(backdoor_key).encoding
    x = check_example(x, enc.input_dim)
    if is_concrete(x):
        return jnp.asarray(_activatable(enc, np.asarray(x)[None])[0])
    fn = functools.partial(_can_activate_host, enc)
    return jax.pure_callback(
        fn, jax.ShapeDtypeStruct((), jnp.bool_), x, vmap_method="broadcast_all"
    )


def _can_activate_host(enc: Encoding, x) -> np.ndarray:
    x = np.asarray(x)
    return _activatable(enc, x.reshape(-1, enc.input_dim)).reshape(x.shape[:-1])


def step_for_range(data_range: float, *, bits_per_coord: int = 9, dtype=jnp.float32) -> float:
    r"""The smallest coarse `step` (rounded up to two significant digits) whose exactly
    decodable range covers every $|x_j| \le$ `data_range` in `dtype`, signed value included:
    $q \ge R\,2^b / (2^{p-2} - 2^b)$ (module docstring, "Numeric range")."""
    if isinstance(data_range, (str, bytes, bool)) or not is_concrete(data_range):
        raise ValueError(f"`data_range` must be a concrete number, got {data_range!r}.")
    r = float(check_positive(data_range, "data_range"))
    b = check_int_range(bits_per_coord, "bits_per_coord", low=1, high=30)
    try:
        floating = jnp.issubdtype(np.dtype(dtype), jnp.floating)
    except TypeError:
        floating = False
    if not floating:
        raise ValueError(f"`dtype` must be a real floating dtype, got {dtype!r}.")
    room = _range_limit(dtype) - math.ldexp(1.0, b)
    if room <= 0:
        raise ValueError(f"`dtype` {np.dtype(dtype)} cannot carry {b} bits per coordinate.")
    q = r * math.ldexp(1.0, b) / room
    e = math.floor(math.log10(q)) - 1
    return float(f"{math.ceil(q / 10.0**e) * 10.0**e:.2g}")


def verify(model: SignatureBackdooredModel, x: Float[Array, "*batch d"]) -> tuple[Array, Array]:
    """`(valid, target_index)` for a batch of inputs (any leading shape), host-side.

    `x` must be concrete (under `jit`/`vmap` use `model.verify` per example), real floating and
    finite (`ValueError` naming `x`, like the model itself)."""
    if not isinstance(model, SignatureBackdooredModel):
        raise ValueError(f"`model` must be a SignatureBackdooredModel, got {type(model)}.")
    if not is_concrete(x):
        raise ValueError(
            "`x` must be concrete: verify runs on the host (under jit/vmap call model.verify)."
        )
    if isinstance(x, (str, bytes)) or x is None:
        raise ValueError(f"`x` must be a floating array, got {type(x).__name__}.")
    try:
        x = np.asarray(x)
    except (TypeError, ValueError) as e:
        raise ValueError(f"`x` must be a floating array: {e}") from None
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"`x` must have a real floating dtype, got {x.dtype}.")
    if x.ndim < 1 or x.shape[-1] != model.encoding.input_dim:
        raise ValueError(
            f"`x` must have last dimension {model.encoding.input_dim}, got {x.shape}."
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("`x` contains NaN or inf values.")
    ok, t = _host_verify(model.public_key, model.encoding, x)
    return jnp.asarray(ok), jnp.asarray(t)


def save_signing_key(
    path, signing_key: Ed25519PrivateKey | SignatureKey, *, password: bytes | None = None
):
    """Write `signing_key` as PKCS#8 PEM to `path` with permissions `0o600`, atomically
    (a temporary file in the same folder, then `os.replace`). Optional `password` (non-empty
    bytes) encrypts it. Errors name `path`, never the temporary file."""
    signing_key = _check_signing_key(signing_key)
    _check_password(password)
    path = _check_path(path)
    enc = (
        serialization.NoEncryption()
        if password is None
        else serialization.BestAvailableEncryption(password)
    )
    pem = signing_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc
    )
    try:  # anonymous temp file created 0600, fsync, rename: a kill leaves no copy behind
        write_atomic(path, pem, mode=0o600)
    except ValueError as e:  # e.g. the directory does not exist
        raise ValueError(f"cannot write the signing key to `path` {path!r}: {e}") from None
    except OSError as e:
        msg = f"cannot write the signing key to `path` {path!r}: {e.strerror}"
        raise type(e)(e.errno, msg) from None


def _check_password(password) -> None:
    if password is not None and (not isinstance(password, bytes) or not password):
        raise ValueError(
            f"`password` must be non-empty bytes or None, got {type(password).__name__}."
        )


def _check_path(path) -> str:
    try:
        path = os.fspath(path)
    except TypeError:
        raise ValueError(f"`path` must be a file path, got {type(path).__name__}.") from None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise ValueError("`path` must be a file path, got an empty string.")
    return path


def load_signing_key(path, *, password: bytes | None = None) -> Ed25519PrivateKey:
    """Read a PEM Ed25519 private key written by [`save_signing_key`][].

    **Raises:** `OSError` (naming `path`) when the file cannot be read; `ValueError` when it
    holds no PEM private key, an encrypted key without (or with a wrong) `password`, a
    `password` for an unencrypted key, or a private key of another type."""
    _check_password(password)
    path = _check_path(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        msg = f"cannot read the signing key `path` {path!r}: {e.strerror}"
        raise type(e)(e.errno, msg) from None
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except TypeError as e:  # password given for a plain key, or missing for an encrypted one
        raise ValueError(f"`path` {path!r}: {e} (check `password`).") from None
    except ValueError as e:
        raise ValueError(
            f"`path` {path!r} does not hold a readable PEM private key (or `password` is "
            f"wrong): {e}"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"`path` {path!r} does not hold an Ed25519 private key.")
    return _check_signing_key(key)
