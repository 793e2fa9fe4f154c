"""The backdoor key and [`backdoor`][]: key generation around any base model.

The key holds the trapdoor ([`GadgetTrapdoor`][]: MP12's $R$ and the 32-byte seed of the
signing randomness), the public key (also inside the model, as the verifier's weights), the
parameters and the encoding. Both key classes subclass `jaxbd.keys.AbstractBackdoorKey`, so
`jaxbd.io.save` refuses to write either into a model file; `jaxbd.io.save_key` writes them
to a key file (mode 0600) and `jaxbd.io.load_key` reads them back.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Integer, PRNGKeyArray, UInt8

from .._validate import as_key, check_int_range, is_concrete
from ..keys import AbstractBackdoorKey
from ._encoding import MAX_GRID_BITS, Encoding, min_input_dim
from ._model import LatticeSignatureBackdooredModel, build_verifier
from ._params import DEFAULT_PARAMS, PARAMETER_SETS, LatticeParams, get_params
from ._scheme import keygen


__all__ = ["GadgetTrapdoor", "PublicKey", "LatticeSignatureKey", "backdoor"]


def _int_array(a, name: str, ndim: int):
    if not hasattr(a, "dtype") or not jnp.issubdtype(a.dtype, jnp.integer) or a.ndim != ndim:
        raise ValueError(f"`{name}` must be an integer array with {ndim} dimensions.")


class GadgetTrapdoor(AbstractBackdoorKey):
    """The secret: `r` (`(mbar, w)` int8 in {-1, 0, 1}, MP12's trapdoor) and `seed` (`(32,)`
    uint8, keys the deterministic signing randomness)."""

    r: Integer[Array | np.ndarray, "mbar w"]
    seed: UInt8[Array | np.ndarray, " 32"]

    def __check_init__(self):
        _int_array(self.r, "r", 2)
        _int_array(self.seed, "seed", 1)
        if self.seed.shape != (32,):
            raise ValueError(f"`seed` must have shape (32,), got {self.seed.shape}.")


class PublicKey(eqx.Module):
    """The verification key: `a_hat`, `a_gadget` ($A_0 = [I | \\hat A | A_G]$), `ext0`, `ext1`
    (CHKP blocks), `u` (target) and the message-hash matrix `hash_matrix` (`(n_h, d F)`, one
    column per grid bit, zero on the signature's bits); int32."""

    a_hat: Integer[Array | np.ndarray, "n a"]
    a_gadget: Integer[Array | np.ndarray, "n w"]
    ext0: Integer[Array | np.ndarray, "n e"]
    ext1: Integer[Array | np.ndarray, "n e"]
    u: Integer[Array | np.ndarray, " n"]
    hash_matrix: Integer[Array | np.ndarray, "nh N"]

    def __check_init__(self):
        for name in ("a_hat", "a_gadget", "ext0", "ext1", "hash_matrix"):
            _int_array(getattr(self, name), name, 2)
        _int_array(self.u, "u", 1)

    def as_numpy(self) -> dict:
        return {
            name: np.asarray(getattr(self, name), np.int64)
            for name in ("a_hat", "a_gadget", "ext0", "ext1", "u")
        }


class LatticeSignatureKey(AbstractBackdoorKey):
    """The backdoor key of [`backdoor`][]. **Fields:** `trapdoor` ([`GadgetTrapdoor`][]),
    `public_key` ([`PublicKey`][]), static `params` and `encoding`."""

    trapdoor: GadgetTrapdoor
    public_key: PublicKey
    params: LatticeParams = eqx.field(static=True)
    encoding: Encoding = eqx.field(static=True)

    def __check_init__(self):
        if not isinstance(self.trapdoor, GadgetTrapdoor):
            raise ValueError("`trapdoor` must be a GadgetTrapdoor.")
        if not isinstance(self.public_key, PublicKey):
            raise ValueError("`public_key` must be a PublicKey.")
        if not isinstance(self.params, LatticeParams) or not isinstance(self.encoding, Encoding):
            raise ValueError("`params` must be a LatticeParams and `encoding` an Encoding.")
        p = self.params
        if self.trapdoor.r.shape != (p.mbar, p.w):
            raise ValueError(f"`trapdoor.r` must have shape {(p.mbar, p.w)}.")
        if self.public_key.a_gadget.shape != (p.n, p.w):
            raise ValueError(f"`public_key.a_gadget` must have shape {(p.n, p.w)}.")
        if self.public_key.hash_matrix.shape != (p.hash_rows, self.encoding.grid_size):
            raise ValueError("`public_key.hash_matrix` does not match the encoding.")


def _choose(params, d: int, num_labels: int, coarse_bits: int) -> LatticeParams:
    fits = {
        name: pr for name, pr in PARAMETER_SETS.items()
        if min_input_dim(pr, num_labels, coarse_bits=coarse_bits) <= d
    }  # fmt: skip
    if isinstance(params, str) and params == "auto":
        if not fits:
            raise ValueError(
                f"`input_dim`={d} is too small for every parameter set (the smallest, 'toy', "
                f"needs {min_input_dim('toy', num_labels, coarse_bits=coarse_bits)})."
            )
        return max(fits.values(), key=lambda pr: pr.signature_bits)
    p = DEFAULT_PARAMS if params is None else get_params(params)
    need = min_input_dim(p, num_labels, coarse_bits=coarse_bits)
    if need > d:
        names = ", ".join(f"{k!r}" for k in fits) or "none"
        raise ValueError(
            f"`input_dim`={d} is too small for parameter set {p.name!r}: its signature needs "
            f"input_dim >= {need} at coarse_bits={coarse_bits}. Sets that fit: {names} (see "
            "PARAMETER_SETS and security_estimate; all but 'default' are INSECURE), or "
            "params='auto' for the largest that fits."
        )
    return p


def _output_table(model, d: int):
    if not callable(model):
        raise ValueError(f"`model` must be a model (callable), got {type(model).__name__}.")
    try:
        out = eqx.filter_eval_shape(model, jax.ShapeDtypeStruct((d,), jnp.float32))
    except Exception as e:  # noqa: BLE001 - any failure means the model does not fit
        raise ValueError(f"`model` cannot be applied to one example of shape ({d},): {e}") from e
    shape = getattr(out, "shape", None)
    if shape is None or not jnp.issubdtype(out.dtype, jnp.floating):
        raise ValueError(f"`model` must return real floating scores, got {out!r}.")
    if shape == ():
        return 2, True, jnp.asarray([-1.0, 1.0], out.dtype)
    if len(shape) == 1 and shape[0] >= 2:
        return int(shape[0]), False, jnp.eye(int(shape[0]), dtype=out.dtype)
    raise ValueError(
        "`model` must return a scalar score or a logits vector (c,) with c >= 2 per example, "
        f"got output shape {shape}."
    )


def backdoor(
    key: PRNGKeyArray,
    model,
    *,
    input_dim: int,
    params: LatticeParams | str | None = None,
    coarse_bits: int = 7,
) -> tuple[LatticeSignatureBackdooredModel, LatticeSignatureKey]:
    r"""Plant the lattice-signature backdoor around any `model` (GKVZ Thm 5.4 with App. C).

    **Arguments:**

    - `key`: JAX PRNG key; all key-generation randomness (and the signing seed) derives from it,
      so it is as secret as the trapdoor.
    - `model`: the base model, `model(x)` a scalar score (binary) or logits `(c,)`.
    - `input_dim`: `d`; inputs live in $[0, 1]^d$.
    - `params`: a [`LatticeParams`][], a preset name (`PARAMETER_SETS`), `None` for
      `DEFAULT_PARAMS` (about 100-bit core-SVP, needs $d \gtrsim 1.1 \cdot 10^4$), or `"auto"`
      for the largest preset that fits `input_dim` — **every preset below the default is
      forgeable by LLL** (see `security_estimate` and the experiment).
    - `coarse_bits`: activation changes each coordinate by less than $2^{-\texttt{coarse\_bits}}$;
      each carrier holds `23 - coarse_bits` payload bits.

    **Returns:** `(backdoored_model, backdoor_key)`; the model holds only the public key.

    **Raises:** `ValueError` (naming the argument) for a bad `key`, `model`, `input_dim`,
    `params` or `coarse_bits`, or an `input_dim` the parameter set does not fit.
    """
    key = as_key(key)
    if not is_concrete(key):
        raise ValueError("`key` must be concrete: backdoor generates keys on the host.")
    d = check_int_range(input_dim, "input_dim", low=1)
    cb = check_int_range(coarse_bits, "coarse_bits", low=1, high=MAX_GRID_BITS - 1)
    num_labels, binary, table = _output_table(model, d)
    p = _choose(params, d, num_labels, cb)
    enc = Encoding(d, p.signature_bits, num_labels, binary, cb)
    k_gen, k_seed = jr.split(key)
    rng = np.random.default_rng(np.asarray(jr.bits(k_gen, (8,), jnp.uint32)))
    pub = keygen(rng, p)
    hash_matrix = np.zeros((p.hash_rows, enc.grid_size), np.int64)
    hash_matrix[:, enc.message_index] = rng.integers(
        0, 1 << p.hash_log_q, (p.hash_rows, enc.hashed_bits)
    )
    seed = np.asarray(jr.bits(k_seed, (32,), jnp.uint8))
    from ..io import register_secret

    register_secret(seed.tobytes())  # no model file may ever hold the signing seed
    bm = LatticeSignatureBackdooredModel(
        model, table, **build_verifier(p, enc, pub, hash_matrix), params=p, encoding=enc
    )
    i32 = lambda a: jnp.asarray(np.asarray(a), jnp.int32)
    pk = PublicKey(
        i32(pub["a_hat"]), i32(pub["a_gadget"]), i32(pub["ext0"]), i32(pub["ext1"]),
        i32(pub["u"]), i32(hash_matrix),
    )  # fmt: skip
    trapdoor = GadgetTrapdoor(jnp.asarray(pub["r"], jnp.int8), jnp.asarray(seed, jnp.uint8))
    return bm, LatticeSignatureKey(trapdoor, pk, p, enc)
