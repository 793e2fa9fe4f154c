r"""Measurements behind the `persistence` experiment (GKVZ §5.3, Definition 5.6, Theorem 5.7).

- [`Thresholded`][]: the single-copy control — one thresholded copy of a model, no majority.
  It has zero gradients too, so "unchanged by fine-tuning" holds for it as for any thresholded
  model; what Thm 5.7 adds is **single-weight robustness**, which it lacks.
- [`StraightThrough`][]: a surrogate-gradient (straight-through) attack on a persistent
  network. The forward pass is the persistent network's; backward, every threshold
  $[s \ge 0]$ has the gradient of $\mathrm{sigmoid}(s/\tau)$, so fine-tuning moves the copies
  and the majority layer (Definition 5.6 is about gradient descent, not about such attackers).
- [`single_weight_changes`][]: for every scalar weight and every $\varepsilon$ of a grid, the
  number of labels on `x` that change when that one weight is moved by $\varepsilon$
  (`vmap` over weights): Thm 5.7 says none for $|\varepsilon| < 3/2$; at $\pm 1.51$ the
  majority weights and the threshold break exactly the outputs the proof predicts.
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from ..persistent import PersistentModel


__all__ = ["labels", "Thresholded", "StraightThrough", "single_weight_changes"]


def labels(model, x):
    """±1 labels of a scalar-score model on the rows of `x` (score ≥ 0 is +1)."""
    return jnp.where(jax.vmap(model)(x) >= 0, 1.0, -1.0)


class Thresholded(eqx.Module):
    """`2 [model(x) ≥ 0] − 1`: one thresholded copy, no majority (the control)."""

    model: Callable[..., jax.Array]

    def __call__(self, x):
        return jnp.where(self.model(x) >= 0, 1.0, -1.0).astype(x.dtype)


def _step(s, tau):
    """The hard step `[s ≥ 0]` forward, the gradient of `sigmoid(s / tau)` backward."""
    soft = jax.nn.sigmoid(s / tau)
    return soft + jax.lax.stop_gradient(jnp.where(s >= 0, 1.0, 0.0).astype(soft.dtype) - soft)


class StraightThrough(eqx.Module):
    """A persistent network with straight-through surrogate gradients (module docstring).

    The labels equal `model`'s at every input (the majority's margin is at least 1/2, far
    above the rounding of `soft + (hard − soft)`); metrics read `self.model` itself."""

    model: PersistentModel
    tau: float = eqx.field(static=True, default=1.0)

    def __call__(self, x):
        m = self.model
        bits = jnp.stack([_step(c(x), self.tau) for c in m.copies]).astype(x.dtype)
        return 2.0 * _step(m.majority_weights @ bits - m.majority_threshold, self.tau) - 1.0


def single_weight_changes(model, x, eps) -> dict[str, jax.Array]:
    """For each array leaf of `model` (by its path), the number of labels on `x` that change
    when one of its scalars is moved by each `eps`: `{path: int32 (len(eps), leaf.size)}`
    (counts, so that fractions compare exactly on the host)."""
    y0 = labels(model, x)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(model, is_leaf=eqx.is_inexact_array)
    out = {}
    for li, (path, leaf) in enumerate(leaves):
        if not eqx.is_inexact_array(leaf):
            continue

        def changed(i, e, li=li, leaf=leaf):
            moved = leaf.ravel().at[i].add(e.astype(leaf.dtype)).reshape(leaf.shape)
            new = [moved if j == li else lf for j, (_, lf) in enumerate(leaves)]
            m = jax.tree_util.tree_unflatten(treedef, new)
            return jnp.sum(labels(m, x) != y0)

        idx = jnp.arange(leaf.size)
        per = jax.vmap(lambda e, f=changed, idx=idx: jax.vmap(lambda i: f(i, e))(idx))
        out[jax.tree_util.keystr(path)] = jax.jit(per)(jnp.asarray(eps, leaf.dtype))
    return out
