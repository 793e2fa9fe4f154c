"""The host side: decode and verify, or sign and encode, a batch of inputs (numpy + Ed25519).

These run under `jax.pure_callback(..., vmap_method="broadcast_all")`: a batch arrives as one
array of rows. The cheap checks (canonical form, padding, target range) are vectorised and only
the surviving rows reach Ed25519 (package docstring, "Verification inside the model").
"""

import functools
import struct

import numpy as np
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ._encoding import SIGNATURE_BITS, Encoding, _range_limit


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


def _activatable(enc: Encoding, xs: np.ndarray) -> np.ndarray:
    """Host: which rows of `xs` (`(n, d)`) `activate` can sign — finite payload coordinates
    whose every signed value stays inside the exactly decodable range (any fine digit)."""
    m, b = enc.payload_coords, enc.bits_per_coord
    u, in_range = _split_digits(enc, xs[:, :m])
    low = (u >> b) << b  # the signed value lies in [low, low + 2^b - 1]
    limit = _range_limit(xs.dtype)
    return np.all(in_range & (low > -limit) & (low + (1 << b) - 1 < limit), axis=1)


def _host_activate(signing_key, enc: Encoding, x, target) -> np.ndarray:
    """Sign every row that can be activated; the others come back unchanged (a batch never
    fails for one row: `can_activate` reports them)."""
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


def _can_activate_host(enc: Encoding, x) -> np.ndarray:
    x = np.asarray(x)
    return _activatable(enc, x.reshape(-1, enc.input_dim)).reshape(x.shape[:-1])


@functools.lru_cache(maxsize=64)
def _verifier(public_key: bytes, enc: Encoding):
    # One stable callable per (key, encoding): JAX caches compiled callbacks by identity.
    return functools.partial(_host_verify, public_key, enc)


@functools.lru_cache(maxsize=64)
def _signer(signing_key: Ed25519PrivateKey, enc: Encoding):
    # Held only in this process's memory (never in a model); same caching reason as _verifier.
    return functools.partial(_host_activate, signing_key, enc)
