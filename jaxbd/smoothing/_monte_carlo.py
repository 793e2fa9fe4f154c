r"""The one Monte-Carlo transform of jaxbd.smoothing: a model -> its noisy-sum estimator.

Shaped like optax's `perturbations.make_perturbed_fun` (`optax/perturbations/_make_pert.py`): a
function of the model returns a new function of `(key, x)` that draws Gaussian noise and
aggregates the model's outputs on `x + sigma t`. Smoothing (GKVZ §7: the mean of $h$), and the
class counts of PREDICT / CERTIFY (Cohen et al.: the sum of one-hot labels) are both this
transform with a different $h$.

Unlike optax (one `vmap` over `jr.split(key, num_samples)`, memory linear in the draws), draws
are evaluated in chunks of `batch_size` inside `lax.scan` so memory is flat in `num_samples`,
and draw $i$ is `jr.normal(jr.fold_in(key, i), x.shape)`: a pure function of the key and the
draw index, so the result does not depend on `batch_size` (up to float summation order for
`smooth`) nor on how draws are split across steps or devices. The transform only sums
(no gradients: the outputs $h$ are discontinuous labels).
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax.random as jr


def noisy_sum(
    model: Callable,
    h: Callable,
    *,
    num_samples: int,
    batch_size: int,
    start: int = 0,
    bins: int | None = None,
) -> Callable:
    r"""`model` -> `total(key, x, sigma)` $= \sum_{i} h(\text{model}(x + \sigma t_i))$ over draws
    $i$ = `start, ..., start + num_samples - 1`, $t_i$ = `jr.normal(jr.fold_in(key, i))`.

    **Arguments:** `model` (one example -> score or logits), `h` (model output -> the summed
    value; its dtype is the sum's dtype), `num_samples` (draws, `>= 1`), `batch_size` (draws
    per step of the scan), `start` (index of the first draw: CERTIFY's estimation draws follow
    its `n0` selection draws, so the two sets are independent), `bins` (when given, `h` returns
    an int32 class index in `[0, bins)` and the sum is the int32 histogram of those indices: the
    sum of their one-hot vectors, counted by a scatter-add, which XLA:CPU runs several times
    faster than summing a `(batch_size, bins)` one-hot block down its long axis).

    **Returns:** a pure, jittable `total(key, x, sigma)` -> `(sum, bad)`: `bad` is True when the
    model's output was NaN or inf for any of the draws, which the caller turns into an error
    (`_checks.finite_outputs`): a non-finite score has no sign and no argmax.
    """
    chunk = min(batch_size, num_samples)
    full, rest = divmod(num_samples, chunk)

    def total(key, x, sigma):
        sigma = jnp.asarray(sigma, x.dtype)

        def block(first, size):
            idx = first + jnp.arange(size, dtype=jnp.uint32)
            noise = jax.vmap(lambda i: jr.normal(jr.fold_in(key, i), x.shape, x.dtype))(idx)
            raw = jax.vmap(lambda t: model(x + sigma * t))(noise)
            values = jax.vmap(h)(raw)
            if bins is None:
                total = jnp.sum(values, axis=0)
            else:
                total = jnp.zeros(bins, jnp.int32).at[values].add(1, mode="promise_in_bounds")
            return total, jnp.any(~jnp.isfinite(raw))

        def body(carry, c):
            acc, bad = carry
            value, nonfinite = block(jnp.uint32(start) + c * jnp.uint32(chunk), chunk)
            return (acc + value, bad | nonfinite), None

        out = jax.eval_shape(lambda: h(model(x)))
        if bins is not None:
            out = jax.ShapeDtypeStruct((bins,), jnp.int32)
        carry = (jnp.zeros(out.shape, out.dtype), jnp.zeros((), jnp.bool_))
        (acc, bad), _ = jax.lax.scan(body, carry, jnp.arange(full, dtype=jnp.uint32))
        if rest:  # the last, shorter chunk: its own block, so no draw is padding
            value, nonfinite = block(jnp.uint32(start + full * chunk), rest)
            acc, bad = acc + value, bad | nonfinite
        return acc, bad

    return total


def smooth_h(kind: str, num_classes: int, output: str, bound: float, dtype) -> Callable:
    """The bounded output $h$ that [`jaxbd.smoothing.smooth`][] averages (GKVZ §7)."""
    if output == "sign":
        return lambda s: jnp.where(s >= 0, 1.0, -1.0).astype(dtype)
    if output == "onehot":
        return lambda s: jax.nn.one_hot(jnp.argmax(s), num_classes, dtype=dtype)
    b = jnp.asarray(bound, dtype)
    return lambda s: jnp.clip(s.astype(dtype), -b, b)


def label_h(kind: str, num_classes: int) -> tuple[Callable, int]:
    """`(h, bins)`: model output -> its int32 class index, and the number of classes, for
    [`noisy_sum`][]'s histogram (binary: index 0 = -1, 1 = +1; a score of 0 counts as +1)."""
    if kind == "scalar":
        return (lambda s: (s >= 0).astype(jnp.int32)), 2
    return (lambda s: jnp.argmax(s).astype(jnp.int32)), num_classes


def task_label(kind: str, index, dtype):
    """Class index -> the task's label: ±1 in `dtype` (scalar score) or int32 `0..c-1`."""
    if kind == "scalar":
        return jnp.where(index == 1, 1.0, -1.0).astype(dtype)
    return index.astype(jnp.int32)
