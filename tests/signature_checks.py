"""A check shared by the signature and lattice-signature tests: both wrap any base model and
open it for any target (GKVZ §5.2, Thm 5.4)."""

import jax.numpy as jnp
import jax.random as jr
from helpers import batched


def check_binary_activation(activate_batch, planted, key, dim: int) -> None:
    """On a binary base model, activated inputs get the asked label (both labels, four times
    each) and the same inputs unactivated get the base model's scores exactly.

    `activate_batch(backdoor_key, x, targets)` activates the rows of `x`; `planted` is
    `(base, backdoored, backdoor_key)`.
    """
    base, bm, bk = planted
    x = jr.uniform(key, (8, dim))
    targets = jnp.array([1.0, -1.0] * 4)
    assert jnp.array_equal(batched(bm, activate_batch(bk, x, targets)), targets)
    assert jnp.array_equal(batched(bm, x), batched(base, x))
