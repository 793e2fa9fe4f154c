r"""The backdoor key and the Boolean checksum $h$ it defines (GKVZ §5.1, Lemma 5.1)."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from .._validate import check_example, check_instance, check_int_range, is_concrete
from ..keys import AbstractBackdoorKey


def _int_field(a, name: str) -> np.ndarray | None:
    """An integer array field: its values when concrete (None under `jit`/`vmap`)."""
    if not isinstance(a, (np.ndarray, jax.Array)):
        raise ValueError(f"`{name}` must be an array, got {type(a).__name__}.")
    if not jnp.issubdtype(a.dtype, jnp.integer):
        raise ValueError(f"`{name}` must have an integer dtype, got {a.dtype}.")
    return np.asarray(a) if is_concrete(a) else None


class ChecksumKey(AbstractBackdoorKey):
    """The backdoor key of [`backdoor`][]: the blocks, `v` and the output coordinate.

    **Fields:** `block_of` (`(d,)` int32, the block of each coordinate, `-1` for the output
    coordinate), `v` (`(n,)` int32 in `{0, 1}`), `out_index` and `num_blocks` (static ints).
    """

    block_of: Int[Array | np.ndarray, " d"]
    v: Int[Array | np.ndarray, " n"]
    out_index: int = eqx.field(static=True)
    num_blocks: int = eqx.field(static=True)

    def __check_init__(self):
        block_of, v = _int_field(self.block_of, "block_of"), _int_field(self.v, "v")
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


def _check_key(backdoor_key) -> ChecksumKey:
    return check_instance(backdoor_key, ChecksumKey, "backdoor_key", "checksum.backdoor")


def _parities(backdoor_key: ChecksumKey, x: Array) -> tuple[Array, Array]:
    """`(member, parity)`: `member[i, j]` is `j ∈ I_i`; `parity[i]` is `⊕_{j ∈ I_i} sgn(x_j)`."""
    member = backdoor_key.block_of[None, :] == jnp.arange(backdoor_key.num_blocks)[:, None]
    return member, jnp.sum(member & (x >= 0)[None, :], axis=1) % 2


def checksum(backdoor_key: ChecksumKey, x: Float[ArrayLike, " d"]) -> Bool[Array, ""]:
    """The reference Boolean checksum $h(x)$ of §5.1, computed directly (no network)."""
    x = check_example(x, _check_key(backdoor_key).input_dim)
    return jnp.all(_parities(backdoor_key, x)[1] == backdoor_key.v)


def trigger_probability(num_blocks: int) -> float:
    """Lemma 5.1: probability $2^{-n}$ that the checksum holds accidentally."""
    return math.ldexp(1.0, -check_int_range(num_blocks, "num_blocks", low=1))
