r"""One example: [`smooth`][] (GKVZ §7), [`class_counts`][], [`predict`][] and [`certify`][]
(Cohen et al. PREDICT / CERTIFY), each a device part built on `_monte_carlo.noisy_sum`
(jittable, no host step: `*_core`) plus, for PREDICT / CERTIFY,
the host statistic of `_stats`. The `*_batch` functions map the same `*_core` over rows."""

from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from ._checks import (
    check_alpha,
    check_bound,
    check_sizes,
    finite_outputs,
    output_kind,
    prepare,
    resolve_output,
)
from ._monte_carlo import label_h, noisy_sum, smooth_h, task_label
from ._stats import certificate, prediction


# ----------------------------------------------------------------------------- device parts


def smooth_core(key, model, x, sigma, *, num_samples, batch_size, output, bound):
    """`(mean, bad)`: the mean of the bounded output $h$ over `num_samples` draws and the
    non-finite-output flag (pure, jittable; every `*_core` returns the flag last)."""
    kind, c = output_kind(model, x)
    h = smooth_h(kind, c, resolve_output(kind, output), bound, x.dtype)
    s = noisy_sum(model, h, num_samples=num_samples, batch_size=batch_size)
    total, bad = s(key, x, sigma)
    return total / jnp.asarray(num_samples, x.dtype), bad


def counts_core(key, model, x, sigma, *, num_samples, batch_size):
    """`(int32 label counts over `num_samples` draws, bad)` (pure, jittable)."""
    h, bins = label_h(*output_kind(model, x))
    s = noisy_sum(model, h, num_samples=num_samples, batch_size=batch_size, bins=bins)
    return s(key, x, sigma)


def predict_core(key, model, x, sigma, *, num_samples, batch_size):
    """`(top label, n_A, n_B, bad)`: the most frequent label and the top-two counts."""
    kind, _ = output_kind(model, x)
    counts, bad = counts_core(key, model, x, sigma, num_samples=num_samples, batch_size=batch_size)
    order = jnp.argsort(-counts, stable=True)
    return task_label(kind, order[0], x.dtype), counts[order[0]], counts[order[1]], bad


def certify_core(key, model, x, sigma, *, n0, num_samples, batch_size):
    """`(c_A, k, bad)`: the label chosen by draws `0..n0-1` and its hits among the independent
    draws `n0..n0+num_samples-1` (Cohen et al., CERTIFY's SAMPLEUNDERNOISE twice)."""
    kind, c = output_kind(model, x)
    h, bins = label_h(kind, c)
    select = noisy_sum(model, h, num_samples=n0, batch_size=batch_size, bins=bins)
    estimate = noisy_sum(
        model, h, num_samples=num_samples, batch_size=batch_size, start=n0, bins=bins
    )
    chosen, bad0 = select(key, x, sigma)
    cls = jnp.argmax(chosen)
    hits, bad1 = estimate(key, x, sigma)
    return task_label(kind, cls, x.dtype), hits[cls], bad0 | bad1


_smooth_jit = eqx.filter_jit(smooth_core)
counts_jit = eqx.filter_jit(counts_core)
_predict_jit = eqx.filter_jit(predict_core)
_certify_jit = eqx.filter_jit(certify_core)


# ----------------------------------------------------------------------------- public


def smooth(
    key: PRNGKeyArray,
    model: Callable,
    x: Float[ArrayLike, " d"],
    *,
    sigma,
    num_samples: int,
    output: str | None = None,
    bound: float = 1.0,
    batch_size: int = 4096,
) -> Array:
    r"""Monte-Carlo estimate of the smoothed model $\tilde h(x) = \mathbb E\,h(x + t)$,
    $t \sim N(0, \sigma^2 I)$ (GKVZ §7, Lemma 7.4).

    **Arguments:**

    - `key`: PRNG key; the same key gives the same estimate (for any `batch_size`).
    - `model`: one example `(d,)` -> scalar score or logits `(c,)`. Untrusted.
    - `x`: one example `(d,)`, finite.
    - `sigma`: noise standard deviation, `> 0` (may be traced).
    - `num_samples`: number of noise draws $k$ (error $\le B\sqrt{2\ln(2/\delta)/k}$ with
      probability $1 - \delta$, see [`hoeffding_error`][]).
    - `output`: `"sign"` (scalar score -> ±1, the default for scalar models), `"clip"`
      (bounded regression: clip the raw output to `[-bound, bound]`), `"onehot"` (logits ->
      one-hot of the argmax, the default for logits models). See the module docstring.
    - `bound`: the bound $B$ for `output="clip"`.
    - `batch_size`: draws evaluated per step (memory is `O(batch_size)`, not `O(num_samples)`).

    **Returns:** a scalar (scalar models) or a `(c,)` vector, in the dtype of `x`.
    """
    x, sigma = prepare(key, model, x, sigma, 1)
    num_samples, batch_size = check_sizes(num_samples, batch_size)
    kw = dict(num_samples=num_samples, batch_size=batch_size)
    *out, bad = _smooth_jit(key, model, x, sigma, output=output, bound=check_bound(bound), **kw)
    return finite_outputs(bad, *out)[0]


def class_counts(
    key: PRNGKeyArray,
    model: Callable,
    x: Float[ArrayLike, " d"],
    *,
    sigma,
    num_samples: int,
    batch_size: int = 4096,
) -> Array:
    """How many of `num_samples` noisy copies `x + t`, `t ~ N(0, sigma² I)`, get each label.

    Pure and jittable (the counting step of PREDICT/CERTIFY). **Returns:** int32 counts of
    shape `(2,)` for a scalar-score model (index 0 = label -1, index 1 = label +1; a score of 0
    counts as +1) or `(c,)` for a logits model (argmax), summing to `num_samples`.
    """
    x, sigma = prepare(key, model, x, sigma, 1)
    num_samples, batch_size = check_sizes(num_samples, batch_size)
    *out, bad = counts_jit(key, model, x, sigma, num_samples=num_samples, batch_size=batch_size)
    return finite_outputs(bad, *out)[0]


def predict(
    key: PRNGKeyArray,
    model: Callable,
    x: Float[ArrayLike, " d"],
    *,
    sigma,
    num_samples: int,
    alpha: float,
    batch_size: int = 4096,
) -> Array:
    """Cohen et al.'s PREDICT: the smoothed classifier's label at `x`, or [`ABSTAIN`][].

    Counts the labels of `num_samples` noisy copies; with `n_A >= n_B` the top-two counts,
    abstains unless the two-sided binomial test of `n_A` out of `n_A + n_B` at 1/2 has p-value
    `<= alpha`. A returned label differs from the smoothed classifier's label with probability
    at most `alpha` (Cohen et al., Prop. 1).

    **Returns:** a 0-d array: ±1.0 in the dtype of `x` (scalar score; `-2.0` on abstention) or
    int32 `0..c-1` (logits; `-2` on abstention). Compare with `ABSTAIN`.
    """
    x, sigma = prepare(key, model, x, sigma, 1)
    alpha = check_alpha(alpha)
    num_samples, batch_size = check_sizes(num_samples, batch_size)
    *top, bad = _predict_jit(key, model, x, sigma, num_samples=num_samples, batch_size=batch_size)
    return prediction(*finite_outputs(bad, *top), alpha=alpha)


def certify(
    key: PRNGKeyArray,
    model: Callable,
    x: Float[ArrayLike, " d"],
    *,
    sigma,
    n0: int,
    num_samples: int,
    alpha: float,
    batch_size: int = 4096,
) -> tuple[Array, Array]:
    r"""Cohen et al.'s CERTIFY: a label and an ℓ2 radius within which the smoothed classifier
    keeps that label, valid with probability at least `1 - alpha` over the noise.

    `n0` draws choose the class $c_A$; `num_samples` fresh draws (indices after the first `n0`)
    give $k$ hits of $c_A$ and the one-sided Clopper–Pearson lower bound $\underline{p_A}$ =
    `beta.ppf(alpha, k, n - k + 1)`. Returns `(c_A, sigma * Phi^{-1}(p_A))` if
    $\underline{p_A} > 1/2$, else `(ABSTAIN, 0.0)`. Requires `num_samples >= n0 >= 1` (see the
    module docstring).

    **Returns:** `(label, radius)`, 0-d arrays; label as in [`predict`][], radius in the dtype
    of `x`.
    """
    x, sigma = prepare(key, model, x, sigma, 1)
    alpha = check_alpha(alpha)
    n0, num_samples, batch_size = check_sizes(num_samples, batch_size, n0)
    kw = dict(n0=n0, num_samples=num_samples, batch_size=batch_size)
    label, hits, bad = _certify_jit(key, model, x, sigma, **kw)
    label, hits = finite_outputs(bad, label, hits)
    return certificate(label, hits, sigma, alpha=alpha, num_samples=num_samples)
