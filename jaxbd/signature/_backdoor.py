"""Plant (wrap any model) and activate (sign an input for a target): GKVZ Thm 5.4."""

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jaxtyping import Array, ArrayLike, Bool, Float

from .._validate import (
    check_example,
    check_int_range,
    check_matrix,
    check_range,
    check_target,
    is_concrete,
    output_shape,
)
from ._encoding import (
    _INT32_MAX,
    Encoding,
    _check_bits,
    _check_input_dim,
    _check_step,
    _plant_dtype,
    _range_bits,
    _range_limit,
    step_for_range,
)
from ._host import _activatable, _can_activate_host, _signer
from ._key import SignatureKey, _check_backdoor_key, _public_bytes
from ._model import SignatureBackdooredModel


def backdoor(
    model: Callable[..., Any],
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
    b = _check_bits(bits_per_coord)
    step = _check_step(_default_step(x_train, d, b, range_margin) if step is None else step, b)
    if signing_key is None:
        signing_key = Ed25519PrivateKey.generate()
    if not isinstance(signing_key, Ed25519PrivateKey):
        raise ValueError(
            f"`signing_key` must be a cryptography Ed25519PrivateKey, got {type(signing_key)}."
        )
    out = output_shape(model, jax.ShapeDtypeStruct((d,), jnp.float32))
    shape = getattr(out, "shape", None)
    if shape is None or not jnp.issubdtype(out.dtype, jnp.floating):
        raise ValueError(f"`model` must return real floating scores, got {out!r}.")
    if shape == ():
        num_labels, binary = 2, True
        table = jnp.asarray([-1.0, 1.0], out.dtype)
    elif len(shape) == 1 and shape[0] >= 2:
        num_labels, binary = int(shape[0]), False
        table = jnp.eye(num_labels, dtype=out.dtype)
    else:
        raise ValueError(
            "`model` must return a scalar score or a logits vector (c,) with c >= 2 per example, "
            f"got output {out!r}."
        )
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
    if top == 0.0:
        return 1e-2
    return max(1e-2, step_for_range(margin * top, bits_per_coord=b, dtype=_plant_dtype(b)))


def _range_error(enc: Encoding, dtype) -> ValueError:
    limit = _range_limit(dtype) / enc.scale
    return ValueError(
        f"`x` has payload coordinates outside the exactly decodable range |x_j| < {limit:.4g} "
        f"for dtype {np.dtype(dtype)} (step={enc.step}, bits_per_coord={enc.bits_per_coord}), "
        "or NaN/inf; plant with a larger `step` (signature.step_for_range) or the training "
        "data (`x_train`)."
    )


def activate(backdoor_key: SignatureKey, x: Float[ArrayLike, " d"], target) -> Float[Array, " d"]:
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
    t = check_target(target, 2 if enc.binary else enc.num_labels)
    fn = _signer(backdoor_key.signing_key, enc)
    if is_concrete(x) and is_concrete(t):
        if not _activatable(enc, np.asarray(x)[None])[0]:
            raise _range_error(enc, x.dtype)
        return jnp.asarray(fn(np.asarray(x)[None], np.asarray(t)[None])[0])
    return jax.pure_callback(
        fn, jax.ShapeDtypeStruct(x.shape, x.dtype), x, t, vmap_method="broadcast_all"
    )


def can_activate(backdoor_key: SignatureKey, x: Float[ArrayLike, " d"]) -> Bool[Array, ""]:
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
