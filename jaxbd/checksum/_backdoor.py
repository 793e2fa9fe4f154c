"""Planting: draw the blocks, `v` and the output coordinate, build the network (Thm 5.3)."""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import PRNGKeyArray

from .._validate import as_key, check_int_range, float_dtype, is_concrete, output_shape
from ._key import ChecksumKey
from ._model import ChecksumBackdooredModel
from ._network import _build_network


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
    dtype = float_dtype(dtype)
    out = output_shape(model, jax.ShapeDtypeStruct((d,), jnp.float32))
    if getattr(out, "shape", None) != () or not jnp.issubdtype(out.dtype, jnp.floating):
        raise ValueError(
            "`model` must be a binary model returning a real floating scalar score (the checksum "
            f"backdoor), got {out}; use jaxbd.signature for multi-class models."
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
