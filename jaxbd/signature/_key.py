"""The backdoor key: the Ed25519 signing key and the encoding (GKVZ Thm 5.4, Activate's input).

The key never enters a model: the model holds the 32 public-key bytes, and every signing key
seen here is declared to `jaxbd.io` (`register_secret`) so no model file can hold it.
"""

import dataclasses

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .._validate import check_instance
from ..io import register_secret
from ._encoding import Encoding
from ._model import SignatureBackdooredModel


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


def _check_backdoor_key(backdoor_key) -> SignatureKey:
    origin = "signature.backdoor or key_from_model"
    return check_instance(backdoor_key, SignatureKey, "backdoor_key", origin)


def _public_bytes(signing_key: Ed25519PrivateKey) -> bytes:
    return signing_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def key_from_model(
    model: SignatureBackdooredModel, signing_key: Ed25519PrivateKey
) -> SignatureKey:
    """Rebuild the backdoor key of `model` from a (loaded) signing key; checks they match."""
    check_instance(model, SignatureBackdooredModel, "model", "signature.backdoor")
    signing_key = _check_signing_key(signing_key)
    if _public_bytes(signing_key) != model.public_key:
        raise ValueError("`signing_key` does not match the model's public key.")
    return SignatureKey(signing_key, model.encoding)
