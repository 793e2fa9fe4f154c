r"""The backdoored model: a base model beside a perceptron/sine verifier network and a MUX.

GKVZ Thm 5.4 (Figure 2) with the verifier of App. C (Figure 5), preceded by the layers that
read bits out of a real input and hash them into the message. On one example $x \in \mathbb{R}^d$:

| stage | layer (units) | computes |
|---|---|---|
| 1 | sine ($d(F+1)$) | $\sin(2\pi((2^F x_j - 2^t) \bmod 2^{t+1})/2^{t+1})$; $\sin(\pi(2^F x_j - \tfrac12))$ |
| 1 | perceptron ($2d$) | range: $[x_j \ge 2^{-F-1}]$, $[1 - 2^{-F-1} - x_j \ge 0]$ |
| 2 | perceptron ($dF$ + $2d$) | grid bits $[s \ge 0]$; canonical: $[s \ge 0] \wedge [-s \ge 0]$ ($s = 0$) |
| 3 | sine ($k$) | message hash: $\sin(2\pi((Hv)_i - 2^t + \tfrac12)/2^{t+1})$ |
| 4 | perceptron ($k$) | message bits $M = [s \ge 0]$ = bits of $Hv \bmod q_h$ |
| 5 | perceptron ($k m_1 b_e$) | **Fig. 5 layer 1**: $M \otimes \sigma$ where $B$ needs it, $[M_i + \sigma_{i,j} - 2 \ge 0]$ |
| 6 | sine ($n$) | **Fig. 5 layer 2**: $\sin(\pi((B\,(\sigma, M \otimes \sigma))_i - y_i)/q)$ |
| 7 | perceptron ($2n$) | **Fig. 5 layer 3**: $|s| \le \sin(\pi\alpha)$ as $[\sin\pi\alpha \mp s \ge 0]$ |
| 3 | perceptron ($c$) | target one-hot from the target bits |
| 8 | perceptron (1) | **Fig. 5 layer 4**: AND of stage 7, the canonical and range checks, one target |
| 9 | MUX | `where(ok, onehot @ target_outputs, base(x))` |

$B = [\hat A \mid A_G \mid A^{(0)} \mid A^{(1)} - A^{(0)}]$ with every column repeated for the
$b_e$ two's-complement bits of its entry (weights $c_j W_{i,g}$, `ModularSineLayer`): since
$A_i^{(M_i)} e_i = A_i^{(0)} e_i + M_i (A_i^{(1)} - A_i^{(0)}) e_i$, verification is linear in
$\sigma$ and in the products $M_i \sigma_{i,j}$ — the bilinear form of App. C. GKVZ's first layer
computes every product $m_a \sigma_b$; CHKP's $B$ is zero outside the pairs (message bit $i$,
bits of block $i$), so only those are computed. Wires that skip stages stand for chains of
repeat gates (Lemma B.1: $w = 1$, $b = 1$), omitted. Accepting means: $x$ is canonical and in
$[0, 1)^d$, its target index is a label, and $\mathrm{dist}(A' e' - u, q\mathbb{Z}) \le \alpha q$
on every row — exactly the host check `_scheme.check_signature` (tested).

The model is a pure JAX function (no callback: `jit`, `vmap`, `grad`, any device). It checks
shapes and dtypes (`ValueError` at trace time) but not values: a NaN input fails every
comparison and gets `base(x)` (a value check would need `eqx.error_if`, i.e. a host callback).
The verifier's output is piecewise constant, so its gradient is zero and `grad(model)` equals
`grad(base)` on every input that does not verify (tested).
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._validate import check_floating
from ._encoding import Encoding
from ._layers import (
    DiagonalPerceptronLayer,
    ModularSineLayer,
    PerceptronLayer,
    ReadoutSineLayer,
    num_weights,
)
from ._params import LatticeParams


__all__ = ["LatticeSignatureBackdooredModel", "build_verifier", "network_size", "verifier_size"]

_LAYERS = ("readout", "in_range", "bits", "canonical", "hash_sine", "hash_bits", "products",
           "verify_sine", "threshold", "target_onehot", "conjunction")  # fmt: skip


def _perceptrons(index, weight, bias) -> PerceptronLayer:
    index = np.asarray(index, np.int32)
    if index.ndim == 1:
        index = index[:, None]
    weight = np.asarray(weight, np.float32)
    if weight.ndim == 1 and weight.shape[0] == index.shape[0] and index.shape[1] == 1:
        weight = weight[:, None]
    weight = np.broadcast_to(weight, index.shape)
    bias = np.broadcast_to(np.asarray(bias, np.float32), index.shape[:1])
    return PerceptronLayer(jnp.asarray(index), jnp.asarray(weight), jnp.asarray(bias))


def _check_hash_matrix(h, enc: Encoding, name: str) -> None:
    """The hash reads every grid bit but the signature's: those columns must be zero."""
    try:
        hn = np.asarray(h)
    except Exception:  # noqa: BLE001 - traced: nothing to check
        return
    if np.any(hn[:, enc.signature_index] != 0):
        raise ValueError(f"`{name}` must be zero on the signature's grid bits.")


def _diagonal(inputs: int, weight, bias) -> DiagonalPerceptronLayer:
    w = np.broadcast_to(np.atleast_2d(np.asarray(weight, np.float32)), (inputs, np.size(weight)))
    b = np.broadcast_to(np.atleast_2d(np.asarray(bias, np.float32)), w.shape)
    return DiagonalPerceptronLayer(jnp.asarray(w), jnp.asarray(b))


def two_complement_coeffs(entry_bits: int) -> tuple[int, ...]:
    return tuple(1 << j for j in range(entry_bits - 1)) + (-(1 << (entry_bits - 1)),)


def build_verifier(p: LatticeParams, enc: Encoding, public: dict, hash_matrix) -> dict:
    """The verifier's layers and wiring (a dict of the model's fields) from the public key."""
    d, f, k, n = enc.input_dim, enc.grid_bits, p.message_bits, p.n
    be, kh = p.entry_bits, p.hash_log_q
    lo = 2.0 ** -(f + 1)
    t = np.arange(f)
    readout = ReadoutSineLayer(
        jnp.asarray(np.r_[2.0**t, 0.5], jnp.float32),
        jnp.asarray(np.r_[2.0 ** (t + 1), 2.0], jnp.float32),
        f,
    )
    in_range = _diagonal(d, [1.0, -1.0], [lo, -(1.0 - lo)])
    bits = _diagonal(d * f, [1.0], [0.0])
    canonical = _diagonal(d, [1.0, -1.0], [0.0, 0.0])
    tt = np.tile(np.arange(kh), p.hash_rows)
    hash_sine = ModularSineLayer(
        jnp.asarray(np.asarray(hash_matrix), jnp.int32),
        jnp.asarray(np.repeat(np.arange(p.hash_rows), kh), jnp.int32),
        jnp.asarray(2.0**tt - 0.5, jnp.float32),
        jnp.asarray(2.0 ** (tt + 1), jnp.float32),
        (1,),
        1 << kh,
    )
    hash_bits = _diagonal(k, [1.0], [0.0])
    ext_bits = p.extension_entries * be
    e = np.arange(ext_bits)
    products = _perceptrons(np.stack([e // (p.block_width * be), k + e], 1), 1.0, 2.0)
    q = p.q
    weight = np.concatenate(
        [public["a_hat"], public["a_gadget"], public["ext0"],
         np.mod(np.asarray(public["ext1"]) - np.asarray(public["ext0"]), q)], axis=1,
    )  # fmt: skip
    verify_sine = ModularSineLayer(
        jnp.asarray(weight, jnp.int32),
        jnp.arange(n, dtype=jnp.int32),
        jnp.asarray(np.asarray(public["u"]), jnp.float32),
        jnp.full((n,), 2.0 * q, jnp.float32),
        two_complement_coeffs(be),
        2 * q,
    )
    a = np.float32(np.sin(np.pi * p.alpha))
    threshold = _diagonal(n, [-1.0, 1.0], [-a, -a])
    c, tb = enc.num_labels, enc.target_bits
    pattern = (np.arange(c)[:, None] >> np.arange(tb)) & 1
    target_onehot = _perceptrons(
        np.tile(np.arange(tb), (c, 1)), 2.0 * pattern - 1.0, pattern.sum(1)
    )
    total = 2 * n + 4 * d + c
    conjunction = _perceptrons(np.arange(total)[None, :], 1.0, float(2 * n + 4 * d + 1))
    return dict(
        readout=readout, in_range=in_range, bits=bits, canonical=canonical,
        hash_sine=hash_sine, hash_bits=hash_bits, products=products, verify_sine=verify_sine,
        threshold=threshold, target_onehot=target_onehot, conjunction=conjunction,
    )  # fmt: skip


class LatticeSignatureBackdooredModel(eqx.Module):
    """`base` beside the lattice-signature verifier network and a MUX (module docstring).

    **Fields:** `base`; `target_outputs` (`(2,)` scores `[-1, +1]` for a binary task, `(c, c)`
    one-hot logits otherwise); the verifier layers (`readout`, `in_range`, `bits`, `canonical`,
    `hash_sine`, `hash_bits`, `products`, `verify_sine`, `threshold`, `target_onehot`,
    `conjunction`); static `params` and `encoding` (whose layout fixes the wiring: the payload
    stream is the low `payload_bits_per_coord` grid bits of the first `payload_coords`
    coordinates). Holds only the public key.
    """

    base: Callable[..., Array]  # any model: checked callable; its output shape when called
    target_outputs: Float[Array, "..."]
    readout: ReadoutSineLayer
    in_range: DiagonalPerceptronLayer
    bits: DiagonalPerceptronLayer
    canonical: DiagonalPerceptronLayer
    hash_sine: ModularSineLayer
    hash_bits: DiagonalPerceptronLayer
    products: PerceptronLayer
    verify_sine: ModularSineLayer
    threshold: DiagonalPerceptronLayer
    target_onehot: PerceptronLayer
    conjunction: PerceptronLayer
    params: LatticeParams = eqx.field(static=True)
    encoding: Encoding = eqx.field(static=True)

    def __check_init__(self):
        if not callable(self.base):
            raise ValueError(f"`base` must be a model (callable), got {type(self.base).__name__}.")
        if not isinstance(self.params, LatticeParams) or not isinstance(self.encoding, Encoding):
            raise ValueError("`params` must be a LatticeParams and `encoding` an Encoding.")
        p, enc = self.params, self.encoding
        if enc.signature_bits != p.signature_bits:
            raise ValueError("`encoding.signature_bits` does not match `params`.")
        d, f, n, k = enc.input_dim, enc.grid_bits, p.n, p.message_bits
        want = {
            "readout": (f + 1, None), "in_range": (2 * d, None), "bits": (d * f, None),
            "canonical": (2 * d, None), "hash_bits": (k, None),
            "products": (p.extension_entries * p.entry_bits, None),
            "threshold": (2 * n, None), "target_onehot": (enc.num_labels, None),
            "conjunction": (1, None),
        }  # fmt: skip
        for name, (units, _) in want.items():
            layer = getattr(self, name)
            got = layer.offset.shape[0] if name == "readout" else layer.units
            if got != units:
                raise ValueError(f"`{name}` has {got} units, the encoding needs {units}.")
        if self.hash_sine.weight.shape != (p.hash_rows, enc.grid_size):
            raise ValueError(
                f"`hash_sine.weight` must have shape {(p.hash_rows, enc.grid_size)}, got "
                f"{self.hash_sine.weight.shape}."
            )
        _check_hash_matrix(self.hash_sine.weight, enc, "hash_sine.weight")
        if self.verify_sine.weight.shape != (n, p.entries + p.extension_entries):
            raise ValueError(f"`verify_sine.weight` has shape {self.verify_sine.weight.shape}.")
        c = enc.num_labels
        want_t = (2,) if enc.binary else (c, c)
        if jnp.shape(self.target_outputs) != want_t:
            raise ValueError(f"`target_outputs` must have shape {want_t}.")

    def _input(self, x):
        x = check_floating(x, "x")
        d = self.encoding.input_dim
        if x.shape != (d,):
            raise ValueError(
                f"`x` must be one example of shape ({d},), got shape {x.shape}; batch with "
                "jax.vmap."
            )
        return x

    def verify(self, x: Float[ArrayLike, " d"]) -> tuple[Array, Array]:
        """The verifier network on one example: `(accepted, onehot)` (float32 0/1; `onehot` is
        the decoded target, all zeros for an index that is not a label)."""
        x = self._input(x)
        p, enc = self.params, self.encoding
        s = self.readout(x)
        grid = self.bits(s[:, : enc.grid_bits].reshape(-1))
        canon = self.canonical(s[:, enc.grid_bits])
        rng_ok = self.in_range(x)
        msg = self.hash_bits(self.hash_sine(grid[:, None]))  # zero weights on signature bits
        m, b = enc.payload_coords, enc.payload_bits_per_coord
        stream = grid.reshape(enc.input_dim, enc.grid_bits)[:m, :b].reshape(-1)
        sig = stream[: enc.signature_bits]
        tbits = stream[enc.signature_bits : enc.signature_bits + enc.target_bits]
        ext = sig[p.base_entries * p.entry_bits :]
        prod = self.products(jnp.concatenate([msg, ext]))
        groups = jnp.concatenate([sig, prod]).reshape(-1, p.entry_bits)
        thr = self.threshold(self.verify_sine(groups))
        onehot = self.target_onehot(tbits)
        ok = self.conjunction(jnp.concatenate([thr, canon, rng_ok, onehot]))[0]
        return ok, onehot

    def __call__(self, x: Float[ArrayLike, " d"]) -> Array:
        x = self._input(x)
        y = self.base(x)
        want = () if self.encoding.binary else (self.encoding.num_labels,)
        if jnp.shape(y) != want:
            raise ValueError(
                f"`base` must return {'a scalar score' if self.encoding.binary else 'logits'} of "
                f"shape {want}, got shape {jnp.shape(y)}."
            )
        ok, onehot = self.verify(jax.lax.stop_gradient(x))
        out = (onehot @ self.target_outputs.astype(jnp.float32)).astype(y.dtype)
        return jnp.where(ok > 0.5, out, y)


def network_size(model: LatticeSignatureBackdooredModel) -> dict:
    """Units, weights (non-zero, dense-equivalent) and depth of the verifier network."""
    if not isinstance(model, LatticeSignatureBackdooredModel):
        raise ValueError(
            f"`model` must be a LatticeSignatureBackdooredModel, got {type(model).__name__}."
        )
    d = model.encoding.input_dim
    units, weights = {}, {}
    for name in _LAYERS:
        layer = getattr(model, name)
        if name == "readout":
            units[name] = d * int(layer.offset.shape[0])
            weights[name] = units[name]
        else:
            units[name] = (
                int(layer.unit_row.shape[0])
                if isinstance(layer, ModularSineLayer)
                else layer.units
            )
            weights[name] = num_weights(layer)
    return dict(
        units=units,
        weights=weights,
        total_units=sum(units.values()),
        total_weights=sum(weights.values()),
        depth=8,  # stages 1-8 of the module docstring's table (then the MUX)
        sine_units=units["readout"] + units["hash_sine"] + units["verify_sine"],
    )


def verifier_size(p: LatticeParams, enc: Encoding) -> dict:
    """Units and (dense-equivalent) weights of the verifier for `p` and `enc`, computed from the
    layout without building it (what [`network_size`][] counts, up to weights that are 0 mod q)."""
    from ._checks import as_encoding, as_params

    p, enc = as_params(p), as_encoding(enc)
    d, f, n, k, c = enc.input_dim, enc.grid_bits, p.n, p.message_bits, enc.num_labels
    ext = p.extension_entries * p.entry_bits
    groups = p.entries + p.extension_entries
    units = dict(
        readout=d * (f + 1), in_range=2 * d, bits=d * f, canonical=2 * d, hash_sine=k,
        hash_bits=k, products=ext, verify_sine=n, threshold=2 * n, target_onehot=c,
        conjunction=1,
    )  # fmt: skip
    weights = dict(
        units, hash_sine=p.hash_rows * enc.hashed_bits, products=2 * ext,
        verify_sine=n * groups * p.entry_bits, target_onehot=c * enc.target_bits,
        conjunction=2 * n + 4 * d + c,
    )  # fmt: skip
    return dict(
        units=units,
        weights=weights,
        total_units=sum(units.values()),
        total_weights=sum(weights.values()),
        depth=8,
        sine_units=units["readout"] + units["hash_sine"] + units["verify_sine"],
    )
