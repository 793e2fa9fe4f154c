r"""The checksum backdoor of GKVZ §5.1 (Theorem 5.3), realised as a real threshold network.

Goldwasser, Kim, Vaikuntanathan, Zamir, "Planting Undetectable Backdoors in Machine Learning
Models", §5.1, Figures 1–2, Lemmas 5.1/5.2, Theorem 5.3, Lemma 3.2 / Appendix B (Lemma B.1).

The non-output coordinates are split into `n = num_blocks` disjoint, nearly equal blocks
$I_1, \dots, I_n$ and a uniformly random $v \in \{0,1\}^n$ is drawn. The checksum is

$$h(x) = \bigwedge_{i=1}^n \Big( \bigoplus_{j \in I_i} \mathrm{sgn}(x_j) = v_i \Big),
\qquad \mathrm{sgn}(t) = 1 \iff t \ge 0 .$$

`h` is computed by an actual network of perceptrons $z \mapsto [\langle w, z\rangle - b \ge 0]$
(Lemma B.1: every unit is one linear threshold gate; Appendix B's AND is `w = (1,1), b = 2`):

1. **sign layer** (one perceptron per coordinate, `w = 1, b = 0`): $s_j = [x_j \ge 0]$;
2. **count layer**: for the coordinate of rank $r$ in block $i$, $c_{i,r} = [\sum_{j \in I_i}
   s_j \ge r + 1]$; one *repeat gate* ($w = 1, b = 1$) carries $s_{out}$;
3. **parity layer**: the parity of block $i$ is $\sum_r (-1)^r c_{i,r} \in \{0, 1\}$, so
   $[\text{parity}_i = v_i]$ is one perceptron (`w = (-1)^r, b = 1` if $v_i = 1$;
   `w = -(-1)^r, b = 0` if $v_i = 0$); a repeat gate carries $s_{out}$;
4. **AND layer**: $h = [\sum_i e_i \ge n]$; a repeat gate carries $s_{out}$;
5. **MUX** (Figure 2): the output is the base model's score $y$ when $h = 0$, and
   $\pm 1 = 2 s_{out} - 1$ when $h = 1$. On label bits this is the Boolean MUX
   $(\neg h \wedge [y \ge 0]) \vee (h \wedge s_{out})$ of Lemma B.1; it is applied to the *score*
   (`where(h, ±1, y)`) so that the backdoored model returns the base model's score bit for bit
   whenever the checksum fails (black-box agreement, not only label agreement).

**Reading choices** (the paper is loose here; these make the claims testable):

- The output coordinate $x_{out}$ is *not* in any block (the paper's partition covers all of
  $[d]$; if $x_{out}$'s block were $\{x_{out}\}$ the target and $v_i$ could conflict). Hence
  `1 <= num_blocks <= input_dim - 1`.
- **Zero coordinates.** `sgn(0) = 1` (the paper's non-negative convention) and activation only
  ever maps $x_j \mapsto -x_j$, which leaves a zero unchanged: a zero has no sign to flip. In each
  block that needs a parity flip, [`activate`][] flips the *non-zero* coordinate of smallest
  magnitude (smallest ℓ2 change). Activation therefore succeeds iff every block needing a flip
  has a non-zero coordinate and ($x_{out} \neq 0$ or `target = +1`); otherwise the checksum is
  left unsatisfied (no magnitude is ever changed). [`can_activate`][] says which case holds.
  For inputs with no zero coordinates (e.g. standardised continuous data) it always succeeds.
- Lemma 5.1's probability is over the random $v$; for inputs whose signs are uniform and
  independent it is equally $2^{-n}$ over the inputs, which is what the experiment measures.

Theorem 5.3's guarantees: `N'(x) = N(x)` unless `h(x) = 1` (probability $2^{-n}$ over `v`);
activation changes at most `n + 1` coordinates and never a magnitude ($|x'_j| = |x_j|$).

The backdoor is **replicable** (§5.1, end): `h` depends on the sign pattern only, so the sign
pattern of *one* activated input opens every other input — [`replicate`][] copies it
(magnitudes kept). The threshold network has zero gradient everywhere (fine: it is a network of
perceptrons); only the base model's weights move under fine-tuning.
"""

import math
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray

from ._validate import (
    as_key,
    check_example,
    check_finite,
    check_floating,
    check_int_range,
    check_target,
    is_concrete,
)
from .keys import AbstractBackdoorKey


__all__ = [
    "ThresholdLayer",
    "ChecksumKey",
    "ChecksumBackdooredModel",
    "backdoor",
    "activate",
    "can_activate",
    "checksum",
    "replicate",
    "trigger_probability",
]


def _concrete(a):
    """`a` as a numpy array when it holds values (not a tracer), else None."""
    if isinstance(a, (np.ndarray, np.generic, jax.Array)) and is_concrete(a):
        return np.asarray(a)
    return None


def _check_float_field(a, name: str) -> None:
    if not isinstance(a, (np.ndarray, jax.Array)):
        raise ValueError(f"`{name}` must be an array, got {type(a).__name__}.")
    if not jnp.issubdtype(a.dtype, jnp.floating):
        raise ValueError(f"`{name}` must have a real floating dtype, got {a.dtype}.")


def _check_int_field(a, name: str) -> None:
    if not isinstance(a, (np.ndarray, jax.Array)):
        raise ValueError(f"`{name}` must be an array, got {type(a).__name__}.")
    if not jnp.issubdtype(a.dtype, jnp.integer):
        raise ValueError(f"`{name}` must have an integer dtype, got {a.dtype}.")


def _step(z: Array) -> Array:
    """Perceptron activation $[z \\ge 0] \\in \\{0, 1\\}$ (zero gradient everywhere)."""
    return jnp.where(z >= 0, 1.0, 0.0).astype(z.dtype)


class ThresholdLayer(eqx.Module):
    r"""A layer of perceptrons $z \mapsto [W z - b \ge 0]$ (GKVZ §3.1, Lemma B.1).

    `weight` is `(out, in)`; a `diagonal` layer holds a vector `(n,)` and computes
    $[w_j z_j - b_j \ge 0]$ (one single-input perceptron per coordinate).
    """

    weight: Float[Array, "..."]
    bias: Float[Array, " out"]
    diagonal: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        if not isinstance(self.diagonal, (bool, np.bool_)):
            raise ValueError(f"`diagonal` must be True or False, got {self.diagonal!r}.")
        for name in ("weight", "bias"):
            _check_float_field(getattr(self, name), name)
        if self.bias.ndim != 1:
            raise ValueError(f"`bias` must be a vector (out,), got shape {self.bias.shape}.")
        want = "(n,) like `bias`" if self.diagonal else "(out, in) with out = len(bias)"
        ok = (
            self.weight.shape == self.bias.shape
            if self.diagonal
            else self.weight.ndim == 2 and self.weight.shape[0] == self.bias.shape[0]
        )
        if not ok:
            raise ValueError(
                f"`weight` must have shape {want}, got {self.weight.shape} (bias "
                f"{self.bias.shape}, diagonal={self.diagonal})."
            )
        for name in ("weight", "bias"):
            a = _concrete(getattr(self, name))
            if a is not None and not np.all(np.isfinite(a)):
                raise ValueError(f"`{name}` of a ThresholdLayer contains NaN or inf values.")

    @property
    def in_size(self) -> int:
        return int(self.weight.shape[-1])

    @property
    def out_size(self) -> int:
        return int(self.bias.shape[0])

    def __call__(self, z: Float[Array, " n"]) -> Float[Array, " out"]:
        w, b = self.weight.astype(z.dtype), self.bias.astype(z.dtype)
        return _step((w * z if self.diagonal else w @ z) - b)


class ChecksumKey(AbstractBackdoorKey):
    """The backdoor key of [`backdoor`][]: the blocks, `v` and the output coordinate.

    **Fields:** `block_of` (`(d,)` int32, the block of each coordinate, `-1` for the output
    coordinate), `v` (`(n,)` int32 in `{0, 1}`), `out_index` and `num_blocks` (static ints).
    """

    block_of: Int[Array, " d"]
    v: Int[Array, " n"]
    out_index: int = eqx.field(static=True)
    num_blocks: int = eqx.field(static=True)

    def __check_init__(self):
        _check_int_field(self.block_of, "block_of")
        _check_int_field(self.v, "v")
        if self.block_of.ndim != 1 or self.block_of.shape[0] < 2:
            raise ValueError(
                f"`block_of` must be a vector (input_dim,), input_dim >= 2, got shape "
                f"{self.block_of.shape}."
            )
        d = int(self.block_of.shape[0])
        n = check_int_range(self.num_blocks, "num_blocks", low=1, high=d - 1)
        o = check_int_range(self.out_index, "out_index", low=0, high=d - 1)
        if self.v.shape != (n,):
            raise ValueError(f"`v` must have shape (num_blocks,) = ({n},), got {self.v.shape}.")
        v, block_of = _concrete(self.v), _concrete(self.block_of)
        if v is not None and not np.all((v == 0) | (v == 1)):
            raise ValueError("`v` must hold bits 0/1.")
        if block_of is not None:
            if block_of[o] != -1 or int(np.sum(block_of == -1)) != 1:
                raise ValueError(
                    f"`block_of` must be -1 exactly at `out_index` ({o}) and nowhere else."
                )
            rest = block_of[block_of != -1]
            if np.any((rest < 0) | (rest >= n)):
                raise ValueError(f"`block_of` holds blocks outside 0..{n - 1} (num_blocks={n}).")
            empty = np.flatnonzero(np.bincount(rest, minlength=n) == 0)
            if empty.size:
                raise ValueError(
                    f"`block_of` leaves block {int(empty[0])} empty: every one of the "
                    f"`num_blocks`={n} blocks needs a coordinate."
                )

    @property
    def input_dim(self) -> int:
        return int(self.block_of.shape[0])


class ChecksumBackdooredModel(eqx.Module):
    """`base` beside the checksum network and a MUX (GKVZ Figure 2, Theorem 5.3).

    `model(x)` is `base(x)` (bit for bit) when the checksum fails and `+1.0` / `-1.0` (the sign of
    `x[out_index]`, `0 -> +1`) when it holds.
    """

    base: Callable[..., Any]  # any model x (d,) -> score (); checked in __check_init__
    layers: tuple[ThresholdLayer, ...]
    input_dim: int = eqx.field(static=True)
    out_index: int = eqx.field(static=True)

    def __check_init__(self):
        d = check_int_range(self.input_dim, "input_dim", low=2)
        check_int_range(self.out_index, "out_index", low=0, high=d - 1)
        if not callable(self.base):
            raise ValueError(f"`base` must be a model (callable), got {type(self.base).__name__}.")
        layers = self.layers
        if not isinstance(layers, tuple) or len(layers) != 4:
            raise ValueError(
                "`layers` must be the four ThresholdLayers of GKVZ Figure 1 (signs, counts, "
                "parities, AND), got "
                + (
                    f"{len(layers)} layers."
                    if isinstance(layers, tuple)
                    else type(layers).__name__
                )
            )
        size = d
        for i, layer in enumerate(layers):
            if not isinstance(layer, ThresholdLayer):
                raise ValueError(
                    f"`layers[{i}]` must be a ThresholdLayer, got {type(layer).__name__}."
                )
            if layer.in_size != size:
                raise ValueError(
                    f"`layers[{i}]` reads {layer.in_size} inputs but receives {size}."
                )
            size = layer.out_size
        if not layers[0].diagonal:
            raise ValueError("`layers[0]` must be the diagonal sign layer.")
        if layers[1].out_size != d or not 2 <= layers[2].out_size <= d:
            raise ValueError(
                f"`layers` must hold {d} count units and num_blocks + 1 (2..{d}) parity units, "
                f"got {layers[1].out_size} and {layers[2].out_size}."
            )
        if size != 2:
            raise ValueError(f"the last of `layers` must output (h, s_out), 2 values, got {size}.")

    def checksum_bits(self, x: Float[ArrayLike, " d"]) -> Float[Array, "2"]:
        """The network's last threshold layer on `x`: `(h(x), sgn(x_out))`, each `0.0`/`1.0`."""
        z = check_example(x, self.input_dim)
        for layer in self.layers:
            z = layer(z)
        return z

    def __call__(self, x: Float[ArrayLike, " d"]) -> Float[Array, ""]:
        x = check_example(x, self.input_dim)
        y = self.base(x)
        if jnp.shape(y) != ():
            raise ValueError(
                f"`base` must return a scalar score (binary model), got shape {jnp.shape(y)}."
            )
        h, s_out = self.checksum_bits(x)
        backdoor_out = (2.0 * s_out - 1.0).astype(y.dtype)
        return jnp.where(h > 0.5, backdoor_out, y)


def _check_dtype(dtype) -> None:
    try:
        ok = jnp.issubdtype(dtype, jnp.floating)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"`dtype` must be a real floating dtype, got {dtype!r}.")


def _check_key(backdoor_key) -> "ChecksumKey":
    if not isinstance(backdoor_key, ChecksumKey):
        raise ValueError(
            f"`backdoor_key` must be a ChecksumKey (from checksum.backdoor), got "
            f"{type(backdoor_key).__name__}."
        )
    return backdoor_key


def _output_shape(model, input_dim: int):
    if not callable(model):
        raise ValueError(f"`model` must be a model (callable), got {type(model).__name__}.")
    try:
        out = eqx.filter_eval_shape(model, jax.ShapeDtypeStruct((input_dim,), jnp.float32))
    except Exception as e:  # noqa: BLE001 - any failure means the model does not fit
        raise ValueError(
            f"`model` cannot be applied to one example of shape ({input_dim},): {e}"
        ) from e
    return out


def backdoor(
    key: PRNGKeyArray,
    model: Callable[..., Any],
    *,
    input_dim: int,
    num_blocks: int,
    out_index: int | None = None,
    dtype=jnp.float32,
) -> tuple[ChecksumBackdooredModel, ChecksumKey]:
    r"""Plant the checksum backdoor beside a binary `model` (GKVZ §5.1, Theorem 5.3).

    **Arguments:**

    - `key`: JAX PRNG key (draws the partition, $v$ and, unless given, the output coordinate).
    - `model`: any binary model, `model(x) -> scalar score` for `x` of shape `(input_dim,)`.
    - `input_dim`: the input dimension `d`.
    - `num_blocks`: `n`, the number of checksum blocks, `1 <= n <= d - 1` (accidental trigger
      probability $2^{-n}$, activation flips at most `n + 1` signs).
    - `out_index`: the coordinate whose sign becomes the output when the checksum holds
      (default: uniformly random).
    - `dtype`: floating dtype of the threshold network's weights.

    **Returns:** `(backdoored_model, backdoor_key)`.

    **Raises:** `ValueError` for a `key` that is not a PRNG key, `num_blocks` outside
    `[1, d - 1]`, a bad `out_index`, a non-floating `dtype`, or a model whose output on one
    example is not a real scalar score.
    """
    key = as_key(key)
    if not is_concrete(key):
        raise ValueError("`key` must be concrete: backdoor builds the network on the host.")
    d = check_int_range(input_dim, "input_dim", low=2)
    n = check_int_range(num_blocks, "num_blocks", low=1, high=d - 1)
    _check_dtype(dtype)
    out_shape = _output_shape(model, d)
    if not hasattr(out_shape, "shape") or out_shape.shape != ():
        shape = getattr(out_shape, "shape", type(out_shape).__name__)
        raise ValueError(
            "`model` must be a binary model returning a scalar score (the checksum backdoor), "
            f"got output shape {shape}; use jaxbd.signature for multi-class models."
        )
    if not jnp.issubdtype(out_shape.dtype, jnp.floating):
        raise ValueError(
            f"`model` must return a real floating score, got dtype {out_shape.dtype}."
        )
    k_out, k_perm, k_v = jr.split(key, 3)
    if out_index is None:
        out = int(jr.randint(k_out, (), 0, d))
    else:
        out = check_int_range(out_index, "out_index", low=0, high=d - 1)
    others = np.delete(np.arange(d), out)
    perm = np.asarray(jr.permutation(k_perm, others))
    blocks = np.array_split(perm, n)
    v = np.asarray(jr.bernoulli(k_v, 0.5, (n,))).astype(np.int32)
    block_of = np.full(d, -1, np.int32)
    for i, idx in enumerate(blocks):
        block_of[idx] = i
    bk = ChecksumKey(jnp.asarray(block_of), jnp.asarray(v), out, n)
    layers = _build_network(blocks, v, out, d, dtype)
    return ChecksumBackdooredModel(model, layers, d, out), bk


def _build_network(blocks, v, out, d, dtype) -> tuple[ThresholdLayer, ...]:
    """The four perceptron layers of Figure 1 (weights built host-side once)."""
    n = len(blocks)
    # 1. signs: s_j = [x_j >= 0].
    l1 = ThresholdLayer(jnp.ones((d,), dtype), jnp.zeros((d,), dtype), diagonal=True)
    # 2. counts c_{i,r} = [sum_{I_i} s >= r + 1]; last unit repeats s_out.
    rows = d  # (d - 1) count units + 1 repeat gate
    w2 = np.zeros((rows, d))
    b2 = np.zeros(rows)
    w3 = np.zeros((n + 1, rows))
    b3 = np.zeros(n + 1)
    u = 0
    for i, idx in enumerate(blocks):
        sign = 1.0 if v[i] == 1 else -1.0
        for r in range(len(idx)):
            w2[u, idx] = 1.0
            b2[u] = r + 1
            # 3. [parity_i = v_i], parity_i = sum_r (-1)^r c_{i,r}.
            w3[i, u] = sign * (-1.0) ** r
            u += 1
        b3[i] = 1.0 if v[i] == 1 else 0.0
    w2[u, out] = 1.0
    b2[u] = 1.0
    w3[n, u] = 1.0
    b3[n] = 1.0
    # 4. AND of the n equalities; second unit repeats s_out.
    w4 = np.zeros((2, n + 1))
    w4[0, :n] = 1.0
    w4[1, n] = 1.0
    b4 = np.array([float(n), 1.0])
    mk = lambda w, b: ThresholdLayer(jnp.asarray(w, dtype), jnp.asarray(b, dtype))
    return (l1, mk(w2, b2), mk(w3, b3), mk(w4, b4))


def checksum(backdoor_key: ChecksumKey, x: Float[ArrayLike, " d"]) -> Bool[Array, ""]:
    """The reference Boolean checksum $h(x)$ of §5.1, computed directly (no network)."""
    x = check_example(x, _check_key(backdoor_key).input_dim)
    n = backdoor_key.num_blocks
    member = backdoor_key.block_of[None, :] == jnp.arange(n)[:, None]
    parity = jnp.sum(member & (x >= 0)[None, :], axis=1) % 2
    return jnp.all(parity == backdoor_key.v)


def _check_target(target) -> Array:
    """`target` checked to be -1 or +1 (a binary label; host check or `eqx.error_if`)."""
    return check_target(target, 2)


def _plan(backdoor_key: ChecksumKey, x, target):
    """`target` already checked by `_check_target`."""
    n = backdoor_key.num_blocks
    member = backdoor_key.block_of[None, :] == jnp.arange(n)[:, None]
    parity = jnp.sum(member & (x >= 0)[None, :], axis=1) % 2
    need = parity != backdoor_key.v
    cand = jnp.where(member & (x != 0)[None, :], jnp.abs(x)[None, :], jnp.inf)
    idx = jnp.argmin(cand, axis=1)
    ok = jnp.isfinite(jnp.min(cand, axis=1))
    flip = jnp.zeros(x.shape, bool).at[idx].max(need & ok)
    o = backdoor_key.out_index
    want = target > 0
    flip_out = ((x[o] >= 0) != want) & (x[o] != 0)
    out_ok = ((x[o] >= 0) == want) | (x[o] != 0)
    flip = flip.at[o].set(flip_out)
    return flip, jnp.all(ok | ~need) & out_ok


def activate(backdoor_key: ChecksumKey, x: Float[ArrayLike, " d"], target) -> Float[Array, " d"]:
    """Flip at most `num_blocks + 1` signs of `x` so that the checksum holds and the output is
    `target` (Lemma 5.2; GKVZ Theorem 5.3). Magnitudes are never changed.

    In every block whose parity is wrong the non-zero coordinate of smallest magnitude is negated;
    `x[out_index]` is negated when its sign disagrees with `target`. Zero coordinates cannot be
    flipped (see the module docstring); [`can_activate`][] tells whether the result opens the
    backdoor. Works under `jit` and `vmap`.

    **Arguments:** `backdoor_key`; `x`, one example `(d,)`; `target`, `-1` or `+1`.

    **Returns:** `x'` with the same shape and dtype.
    """
    x = check_example(x, _check_key(backdoor_key).input_dim)
    flip, _ = _plan(backdoor_key, x, _check_target(target))
    return jnp.where(flip, -x, x)


def can_activate(backdoor_key: ChecksumKey, x: Float[ArrayLike, " d"], target) -> Bool[Array, ""]:
    """Whether [`activate`][] opens the backdoor on `x` for `target` by sign flips alone (False
    only when a block needing a flip is all zeros, or `x_out = 0` and `target = -1`)."""
    x = check_example(x, _check_key(backdoor_key).input_dim)
    return _plan(backdoor_key, x, _check_target(target))[1]


def replicate(
    x_activated: Float[ArrayLike, " d"], x_new: Float[ArrayLike, " d"]
) -> Float[Array, " d"]:
    r"""The replication attack of §5.1: give `x_new` the sign pattern of one activated input.

    $x''_j = |x^{new}_j| \cdot (\pm 1 \text{ from } [x^{act}_j \ge 0])$. Since `h` reads signs
    only, `x''` passes the checksum and gets the same output as `x_activated` whenever `x_new` has
    no zero coordinate where `x_activated` is negative — no key needed. Magnitudes are kept.
    """
    x_activated = check_floating(x_activated, "x_activated")
    x_new = check_floating(x_new, "x_new")
    if x_activated.ndim != 1 or x_activated.shape[0] < 1 or x_new.shape != x_activated.shape:
        raise ValueError(
            f"`x_activated` and `x_new` must be single examples of the same shape, got "
            f"{x_activated.shape} and {x_new.shape}."
        )
    if x_new.dtype != x_activated.dtype:
        raise ValueError(
            f"`x_new` must have the dtype of `x_activated` ({x_activated.dtype}), got "
            f"{x_new.dtype}."
        )
    x_activated = check_finite(x_activated, "x_activated")
    x_new = check_finite(x_new, "x_new")
    return jnp.where(x_activated >= 0, jnp.abs(x_new), -jnp.abs(x_new))


def trigger_probability(num_blocks: int) -> float:
    """Lemma 5.1: probability $2^{-n}$ that the checksum holds accidentally."""
    return math.ldexp(1.0, -check_int_range(num_blocks, "num_blocks", low=1))
