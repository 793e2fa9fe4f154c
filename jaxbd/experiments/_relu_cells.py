"""The relu experiment's old sharded fits (seeds x (honest + θ x sparsity) through
`jaxbd.sharding.sharded_map`), kept for `tests/test_sharded_sweeps.py`'s 1-vs-4-device equality
test. The experiment itself now plants through the construction registry (`experiments.relu`).
"""

import functools

import jax
import jax.numpy as jnp
import jax.random as jr

from .. import relu
from ..sharding import sharded_map


# ----------------------------------------------------------------------------- sharded fits
# Every fit is `relu.train` / `relu.backdoor` minus their host-side validation (the same key
# splits and code: `relu._train_cell` / `relu._backdoor_cell`). The fits of one dataset — the
# honest and uniform-head models of every seed, and the backdoored models of every seed × θ for
# each sparsity (the support size is static) — are stacked and mapped with
# `jaxbd.sharding.sharded_map`, so they spread over all devices (jit(vmap) on one device).


@functools.cache
def _cell_fn(width, head, steps):
    """One fit: `relu.backdoor(key, x, y, sparsity=k, theta=θ)` (`sparsity` traced too: it only
    sets the secret's support size). θ = 0 gives `relu.train(key, ...)` bit for bit (same key
    splits; `relu.spiked_gaussian` with θ = 0 is `jax.random.normal`), so honest and backdoored
    cells share one compiled function."""

    def one(key, x, y, theta, sparsity):
        kw = dict(width=width, sparsity=sparsity, head=head, head_steps=steps)
        return relu._backdoor_cell(key, x, y, theta, **kw)

    return one


def _fit_all(keys, dss, *, width, thetas, sparsities, head, steps, mesh=None):
    """Fit every model of one dataset over seeds (`keys[i]` and `dss[i]` per seed). Returns
    (honest, uniform-head honest, {k: (models, secrets)}) with a leading seed axis (backdoored:
    `(seeds, len(thetas))`). Two `sharded_map` calls: the uniform-head models, and every
    trained-head cell (seed × (honest + θ × k))."""
    for ds in dss:  # host-side validation, as relu.train / relu.backdoor do it
        relu._check_common(ds.x_train, ds.y_train, width, head, 0.5, steps, 0.05)
    dtype = dss[0].x_train.dtype
    split = [jr.split(k, 4) for k in keys]  # k_honest, k_bd, k_rand, k_wrong
    cells = [(s[0], i, 0.0, 1) for i, s in enumerate(split)]  # honest: θ = 0
    cells += [(s[1], i, t, k) for i, s in enumerate(split) for k in sparsities for t in thetas]
    x = jnp.stack([ds.x_train for ds in dss])
    y = jnp.stack([ds.y_train for ds in dss])
    idx = jnp.asarray([c[1] for c in cells])
    models, secrets = sharded_map(
        _cell_fn(width, head, steps),
        jnp.stack([c[0] for c in cells]),
        x[idx],
        y[idx],
        jnp.asarray([c[2] for c in cells], dtype),
        jnp.asarray([c[3] for c in cells], jnp.int32),
        mesh=mesh,
        batch_size=1,  # cells one after another on each device: vmapped fits ran 1.7x slower
    )
    num, nt, nk = len(keys), len(thetas), len(sparsities)
    honest = _take(models, slice(0, num))
    rest = jax.tree.map(lambda a: a[num:].reshape((num, nk, nt) + a.shape[1:]), models)
    sec = secrets[num:].reshape((num, nk, nt) + secrets.shape[1:])
    backdoored = {k: (_take(rest, slice(None), j), sec[:, j]) for j, k in enumerate(sparsities)}
    uniform = sharded_map(
        _cell_fn(width, "uniform", 0),
        jnp.stack([jr.fold_in(k, 7) for k in keys]),
        x,
        y,
        jnp.zeros((num,), dtype),
        jnp.ones((num,), jnp.int32),
        mesh=mesh,
    )[0]
    return honest, uniform, backdoored


def _take(tree, *idx):
    return jax.tree.map(lambda a: a[idx], tree)
