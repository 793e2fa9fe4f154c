"""Key material must never enter a model file: what is checked, and how.

[`check_model_value`][] is called on every value a model file would hold — each string, bytes
value, array leaf, hyperparameter and the `construction` name — and refuses, naming the field:

- **backdoor-key objects, by type**: instances of `jaxbd.keys.AbstractBackdoorKey` (every
  construction's key) or of a class marked `__jaxbd_backdoor_key__ = True`, and any
  `cryptography` private-key object;
- **PEM** private keys (`-----BEGIN ... PRIVATE KEY-----`, OpenSSH included), in text or bytes;
- **DER** private keys: a bytes value or a `uint8` array that parses as a PKCS8 / traditional
  DER private key;
- **the raw bytes of any signing key this process has seen** — created by jaxbd (e.g.
  `jaxbd.signature.backdoor`), passed to it, saved or loaded as a key file, or declared with
  [`register_secret`][]: found as raw bytes, DER, hex or base64 inside any string, bytes value or
  array (a float array whose bytes spell the key is caught too).
"""

import base64
import binascii
import re
import threading

import numpy as np


__all__ = ["register_secret", "check_model_value", "is_private_key_object"]

_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+ )?PRIVATE KEY-----")
_lock = threading.Lock()
_secrets: dict[bytes, None] = {}  # raw secret bytes -> None (an ordered set)
_encodings: dict[bytes, str] = {}  # every encoding of every secret -> what it is


def is_private_key_object(obj) -> bool:
    """True for a private-key object of the `cryptography` package."""
    mod = type(obj).__module__ or ""
    return mod.startswith("cryptography") and "PrivateKey" in type(obj).__name__


def _raw_forms(key) -> list[bytes]:
    from cryptography.hazmat.primitives import serialization as s

    forms = []
    for enc, fmt in (
        (s.Encoding.Raw, s.PrivateFormat.Raw),
        (s.Encoding.DER, s.PrivateFormat.PKCS8),
    ):
        try:
            forms.append(key.private_bytes(enc, fmt, s.NoEncryption()))
        except (ValueError, TypeError):
            pass
    return forms


def register_secret(secret) -> None:
    """Declare secret material (a `cryptography` private key, or raw `bytes` of at least 16
    bytes) that no model file may ever hold, in any encoding.

    jaxbd registers the signing keys it creates or is given; call this for secrets of your
    own constructions.
    """
    if is_private_key_object(secret):
        forms = _raw_forms(secret)
    elif isinstance(secret, (bytes, bytearray)):
        if len(secret) < 16:
            raise ValueError(f"`secret` must hold at least 16 bytes, got {len(secret)}.")
        forms = [bytes(secret)]
    else:
        raise ValueError(
            f"`secret` must be a cryptography private key or bytes, got {type(secret).__name__}."
        )
    with _lock:
        for raw in forms:
            if raw in _secrets:
                continue
            _secrets[raw] = None
            _encodings[raw] = "raw private-key bytes"
            _encodings[binascii.hexlify(raw)] = "private-key bytes (hex)"
            _encodings[binascii.hexlify(raw).upper()] = "private-key bytes (hex)"
            _encodings[base64.b64encode(raw).rstrip(b"=")] = "private-key bytes (base64)"
            _encodings[base64.urlsafe_b64encode(raw).rstrip(b"=")] = "private-key bytes (base64)"


def _is_der_private_key(data: bytes) -> bool:
    if not 16 <= len(data) <= 16384 or data[:1] != b"\x30":  # a DER SEQUENCE, key-sized
        return False
    from cryptography.hazmat.primitives import serialization as s

    try:
        s.load_der_private_key(data, password=None)
    except Exception:  # noqa: BLE001 - anything but a parse means "not a DER private key"
        return False
    return True


def _scan_bytes(data: bytes) -> str | None:
    if _PEM.search(data):
        return "a PEM private key"
    for enc, what in list(_encodings.items()):
        if enc in data:
            return what
    if _is_der_private_key(data):
        return "a DER private key"
    return None


def check_model_value(value, where: str) -> None:
    """Raise `ValueError` naming `where` if `value` holds private-key material."""
    if is_private_key_object(value):
        register_secret(value)
        raise ValueError(
            f"refusing to save a private key ({type(value).__name__}) in a model file at "
            f"{where}; save keys with jaxbd.io.save_key."
        )
    if isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    elif isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufcV" or value.nbytes < 16:
            return
        data = value.tobytes()
    else:
        return
    found = _scan_bytes(data)
    if found:
        raise ValueError(
            f"refusing to save private-key material in a model file: {where} holds {found}; "
            "save keys with jaxbd.io.save_key."
        )
