"""The signing key on disk: PKCS#8 PEM, mode `0o600`, written atomically, optionally encrypted."""

import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..io import write_atomic
from ._key import SignatureKey, _check_signing_key


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
