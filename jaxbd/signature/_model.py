"""The backdoored model: the base model, an Ed25519 verifier and the target outputs (Figure 2)."""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validate import check_example, check_host_floating, check_instance, is_concrete
from ._encoding import Encoding
from ._host import _host_verify, _verifier


class SignatureBackdooredModel(eqx.Module):
    """A base model plus an Ed25519 verifier (GKVZ Thm 5.4, Figure 2).

    **Fields:** `base` (the model), `target_outputs` (`(2,)` scores `[-1, +1]` for a binary task,
    `(c, c)` one-hot logits for `c` classes: row `t` is returned when a valid signature for target
    `t` is present), `public_key` (static, the 32 public-key bytes), `encoding` (static
    [`Encoding`][]).
    """

    base: Callable[..., Any]  # any model x (d,) -> score () or logits (c,); checked below
    target_outputs: Float[Array | np.ndarray, "..."]
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

    def verify(self, x: Float[ArrayLike, " d"]) -> tuple[Array, Array]:
        """`(valid, target_index)` for one example (host callback; jit/vmap-able)."""
        x = check_example(x, self.encoding.input_dim)
        shapes = (
            jax.ShapeDtypeStruct((), jnp.bool_),
            jax.ShapeDtypeStruct((), jnp.int32),
        )
        fn = _verifier(self.public_key, self.encoding)
        return jax.pure_callback(fn, shapes, jax.lax.stop_gradient(x), vmap_method="broadcast_all")

    def __call__(self, x: Float[ArrayLike, " d"]) -> Array:
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


def verify(
    model: SignatureBackdooredModel, x: Float[ArrayLike, "*batch d"]
) -> tuple[Array, Array]:
    """`(valid, target_index)` for a batch of inputs (any leading shape), host-side.

    `x` must be concrete (under `jit`/`vmap` use `model.verify` per example), real floating and
    finite (`ValueError` naming `x`, like the model itself)."""
    check_instance(model, SignatureBackdooredModel, "model", "signature.backdoor")
    if not is_concrete(x):
        raise ValueError(
            "`x` must be concrete: verify runs on the host (under jit/vmap call model.verify)."
        )
    xs = check_host_floating(x, "x")
    if xs.ndim < 1 or xs.shape[-1] != model.encoding.input_dim:
        raise ValueError(
            f"`x` must have last dimension {model.encoding.input_dim}, got {xs.shape}."
        )
    if not np.all(np.isfinite(xs)):
        raise ValueError("`x` contains NaN or inf values.")
    ok, t = _host_verify(model.public_key, model.encoding, xs)
    return jnp.asarray(ok), jnp.asarray(t)
