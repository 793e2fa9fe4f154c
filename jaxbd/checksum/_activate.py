"""Activation by sign flips (Lemma 5.2) and the replication attack (§5.1, end)."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, Float

from .._validate import check_example, check_finite, check_floating, check_target
from ._key import ChecksumKey, _check_key, _parities


@eqx.filter_jit  # one program per key shape (run eagerly, each of its ~20 ops compiles alone)
def _plan(backdoor_key: ChecksumKey, x, target):
    """`(flip, ok)`: the coordinates to negate and whether that opens the backdoor (`target`
    already checked to be ±1). Exact: comparisons, sign flips and a min, no rounding."""
    member, parity = _parities(backdoor_key, x)
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


def _checked_plan(backdoor_key, x, target):
    """`(x, flip, ok)` for a checked key, example and binary `target` (host or `eqx.error_if`)."""
    x = check_example(x, _check_key(backdoor_key).input_dim)
    return (x, *_plan(backdoor_key, x, check_target(target, 2)))


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
    x, flip, _ = _checked_plan(backdoor_key, x, target)
    return jnp.where(flip, -x, x)


def can_activate(backdoor_key: ChecksumKey, x: Float[ArrayLike, " d"], target) -> Bool[Array, ""]:
    """Whether [`activate`][] opens the backdoor on `x` for `target` by sign flips alone (False
    only when a block needing a flip is all zeros, or `x_out = 0` and `target = -1`)."""
    return _checked_plan(backdoor_key, x, target)[2]


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
