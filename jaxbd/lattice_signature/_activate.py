r"""[`activate`][] (the attacker's signing step, on the host) and the host reference verifier.

Activation of $x \in [0, 1]^d$ for a target (GKVZ Thm 5.4, Activate: $x' = (w, y,
\mathrm{Sign}(sk, w \| y))$ in this encoding, `_encoding.py`): snap $x$ to its grid, clear the
carriers' payload bits, write the target index (zero padding), hash every non-signature bit into
the message $M$, sign $M$ with the trapdoor (`_scheme.sign`), write the signature's bits, and
return the cell centres. Deterministic (same input and target, same output). Works on concrete
arrays and under `jit`/`vmap` (through `jax.pure_callback` — the *backdoored model* has no
callback; activation is the key holder's offline step and needs the trapdoor on the host).
"""

import functools
import hashlib

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validate import check_example, check_instance, check_target, is_concrete, runtime_check
from ._checks import (
    as_encoding,
    as_params,
    check_bits,
    check_hash_matrix,
    check_label_index,
    check_unit_rows,
    host_array,
)
from ._encoding import Encoding
from ._key import LatticeSignatureKey
from ._params import LatticeParams
from ._scheme import PreimageSampler, bits_to_entries, check_signature, entries_to_bits, sign


__all__ = ["activate", "verify_reference", "hash_message", "prepare_message"]


def hash_message(p: LatticeParams, hash_matrix, v) -> np.ndarray:
    """$M$ = bits of $Hv \\bmod q_h$, row-major, least significant bit first; `(..., k)`. `v`
    is all grid bits (`hash_matrix` is zero on the signature's)."""
    p = as_params(p)
    h = check_hash_matrix(hash_matrix, p, None).astype(np.int64)
    v = check_bits(v, "v", h.shape[1])
    z = np.mod(np.asarray(v, np.int64) @ h.T, 1 << p.hash_log_q)
    bits = (z[..., None] >> np.arange(p.hash_log_q)) & 1
    return bits.reshape(*z.shape[:-1], -1).astype(np.uint8)


def prepare_message(enc: Encoding, p: LatticeParams, hash_matrix, x, target_index):
    """Public part of activation: the grid bits of `x` with payload cleared and the target
    written, and the message `M` they hash to. `x` is `(d,)` in [0, 1]."""
    enc, p = as_encoding(enc), as_params(p)
    hash_matrix = check_hash_matrix(hash_matrix, p, enc.grid_size)
    x = check_unit_rows(x, "x", enc.input_dim, ndim=1)
    target_index = check_label_index(target_index, enc.num_labels, "target_index")
    u = enc.grid(x)
    b, m = enc.payload_bits_per_coord, enc.payload_coords
    u[:m] = (u[:m] >> b) << b
    bits = enc.to_bits(u)
    t = int(target_index)
    bits[enc.target_index] = (t >> np.arange(enc.target_bits)) & 1
    bits[enc.signature_index] = 0  # (ignored by the hash)
    message = hash_message(p, hash_matrix, bits)
    return bits, message


def encode_signature(enc: Encoding, p: LatticeParams, bits, entries, dtype) -> np.ndarray:
    """Write signature `entries` into prepared grid `bits`; the canonical input."""
    bits = np.array(bits, copy=True)
    bits[enc.signature_index] = entries_to_bits(entries, p.entry_bits).reshape(-1)
    return enc.centres(enc.from_bits(bits), dtype)


class _Signer:
    """Host-side signing state of one key (numpy copies; the sampler is built on first use)."""

    def __init__(self, bk: LatticeSignatureKey):
        self.p, self.enc = bk.params, bk.encoding
        self.public = bk.public_key.as_numpy()
        self.hash_matrix = np.asarray(bk.public_key.hash_matrix, np.int64)
        self.r = np.asarray(bk.trapdoor.r, np.int8)
        self.seed = np.asarray(bk.trapdoor.seed, np.uint8).tobytes()
        self._sampler = None
        self.batch = functools.partial(_activate_batch, self)  # one stable callable for jit

    @property
    def sampler(self) -> PreimageSampler:
        if self._sampler is None:
            pub = self.public
            self._sampler = PreimageSampler(self.p, pub["a_hat"], pub["a_gadget"], self.r)
        return self._sampler

    def activate(self, x: np.ndarray, target_index: int) -> np.ndarray:
        bits, message = prepare_message(self.enc, self.p, self.hash_matrix, x, target_index)
        entries = sign(self.p, self.sampler, self.public, self.seed, message)
        return encode_signature(self.enc, self.p, bits, entries, x.dtype)


@functools.lru_cache(maxsize=8)
def _signer_for(digest: bytes, bk_box) -> _Signer:
    return _Signer(bk_box.key)


class _Box:
    """Hash-by-digest wrapper so the signer cache keys on the key's contents."""

    def __init__(self, digest, key):
        self.digest, self.key = digest, key

    def __hash__(self):
        return hash(self.digest)

    def __eq__(self, other):
        return isinstance(other, _Box) and other.digest == self.digest


def _signer(bk: LatticeSignatureKey) -> _Signer:
    h = hashlib.sha256()
    for a in (bk.trapdoor.r, bk.trapdoor.seed, bk.public_key.u, bk.public_key.hash_matrix):
        h.update(np.ascontiguousarray(np.asarray(a)).tobytes())
    h.update(repr((bk.params, bk.encoding)).encode())
    digest = h.digest()
    return _signer_for(digest, _Box(digest, bk))


def _activate_batch(signer: _Signer, x, t) -> np.ndarray:
    x = np.asarray(x)
    lead = x.shape[:-1]
    xs = x.reshape(-1, signer.enc.input_dim)
    ts = np.broadcast_to(np.asarray(t), lead).reshape(-1)
    out = np.empty_like(xs)
    for i in range(xs.shape[0]):  # one signature per row
        out[i] = signer.activate(xs[i], signer.enc.label_to_index(ts[i]))
    return out.reshape(x.shape)


def _check_key(bk) -> LatticeSignatureKey:
    return check_instance(bk, LatticeSignatureKey, "backdoor_key", "lattice_signature.backdoor")


def _check_target(enc: Encoding, target):
    return check_target(target, 2 if enc.binary else enc.num_labels)


def activate(
    backdoor_key: LatticeSignatureKey, x: Float[ArrayLike, " d"], target
) -> Float[Array, " d"]:
    r"""Sign `x`'s message for `target` and write the signature into its low-order grid bits.

    GKVZ Thm 5.4, Activate (module docstring). Perturbation (exact, `_encoding.py`):
    $\ell_\infty < 2^{-\texttt{coarse\_bits}}$ on the carriers, $\le 2^{-24}$ elsewhere.

    **Arguments:** `backdoor_key`; `x`, one example `(d,)`, float32 or float64, in $[0, 1]^d$;
    `target`, a label of the base model's task (`±1` binary, `0..c-1` multi-class).

    **Returns:** `x'`, same shape and dtype.

    **Raises:** `ValueError` naming the argument for a wrong key, shape, dtype, NaN/inf or a
    value outside $[0, 1]$, or a bad `target` (concrete inputs; under `jit` the value checks are
    `eqx.error_if` runtime errors with the same messages).
    """
    bk = _check_key(backdoor_key)
    enc = bk.encoding
    x = check_example(x, enc.input_dim)
    if x.dtype not in (jnp.float32, jnp.float64):
        raise ValueError(
            f"`x` must be float32 or float64 (the grid has {enc.grid_bits} bits), got {x.dtype}."
        )
    what = "`x` must lie in [0, 1]^d (the encoding's input range)."
    if is_concrete(x):
        xn = np.asarray(x)
        if np.any(xn < 0) or np.any(xn > 1):
            raise ValueError(what[:-1] + f", got values in [{xn.min()}, {xn.max()}].")
    else:
        x = jnp.asarray(runtime_check(x, jnp.any((x < 0) | (x > 1)), what))
    t = _check_target(enc, target)
    signer = _signer(bk)
    if is_concrete(x) and is_concrete(t):
        return jnp.asarray(signer.batch(np.asarray(x)[None], np.asarray(t)[None])[0])
    return jax.pure_callback(
        signer.batch, jax.ShapeDtypeStruct(x.shape, x.dtype), x, t, vmap_method="broadcast_all"
    )


def verify_reference(backdoor_key: LatticeSignatureKey, x) -> tuple[np.ndarray, np.ndarray]:
    """The host (numpy, exact) reference of the verifier network for a batch `(..., d)`:
    `(accepted, target_index)`. Used to test the network; not part of the model."""
    bk = _check_key(backdoor_key)
    p, enc = bk.params, bk.encoding
    x = host_array(x, "x", finite=False)  # NaN / inf: not canonical, rejected (as the network)
    if x.ndim < 1 or x.shape[-1] != enc.input_dim:
        raise ValueError(f"`x` must have last dimension {enc.input_dim}, got shape {x.shape}.")
    lead = x.shape[:-1]
    xs = x.reshape(-1, enc.input_dim)
    pub = bk.public_key.as_numpy()
    hmat = np.asarray(bk.public_key.hash_matrix, np.int64)
    ok = np.zeros(xs.shape[0], bool)
    tgt = np.zeros(xs.shape[0], np.int64)
    canon = enc.is_canonical(xs)
    for i in np.flatnonzero(canon):
        bits = enc.to_bits(enc.grid(xs[i]))
        t = int(bits[enc.target_index] @ (1 << np.arange(enc.target_bits)))
        tgt[i] = t
        message = hash_message(p, hmat, bits)
        entries = bits_to_entries(bits[enc.signature_index], p.entry_bits)
        ok[i] = t < enc.num_labels and check_signature(p, pub, message, entries)
    return ok.reshape(lead), tgt.reshape(lead)
