r"""Measurements behind the `smoothing` experiment, through the public `jaxbd.smoothing` API.

- [`smoothed_rates`][]: PREDICT (Cohen et al.) on the clean and on the activated inputs with
  **independent** noise draws, abstentions counted as failures of both the attack and the
  classifier (a smoothed model that abstains neither classifies nor is fooled).
- [`certified`][]: CERTIFY radii on held-out points, next to each point's activation size.
- [`lipschitz_closed_form`][]: GKVZ Lemma 7.6 on models whose smoothed value is known in
  closed form. For $h = \mathrm{sign}(w\cdot x + b)$ and $t \sim N(0, \sigma^2 I)$,
  $\tilde h(x) = 2\Phi\big((w\cdot x + b)/(\sigma\|w\|)\big) - 1$, whose gradient has norm
  $2\varphi(m)/\sigma \le \sqrt{2/\pi}/\sigma$ with equality on the decision boundary: linear
  thresholds are the extremal models of the tight constant. From a boundary point $x$ to
  $x' = x + \delta\,w/\|w\|$ the exact ratio $|\tilde h(x') - \tilde h(x)| / (L\delta)$,
  $L = \sqrt{2/\pi}/\sigma$, is $r^* = (2\Phi(\delta/\sigma) - 1)/(L\delta) < 1$; the Monte-Carlo
  estimate of it (independent draws at $x$ and $x'$) has a binomial standard error, so the
  test's power against a 2x violation ($r = 2r^*$) is computed, not assumed.
"""

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from scipy import stats

from .. import metrics, smoothing
from ..sharding import sharded_map
from ._claims import Estimate


__all__ = ["smoothed_rates", "unsmoothed_rates", "certified", "lipschitz_closed_form", "votes"]

TIGHT = math.sqrt(2.0 / math.pi)  # Lemma 7.6's tight constant times σ (total variation)


def _rates(g, ga, y, target):
    """Attack success (abstention = failure), clean accuracy, abstention, per-row defended."""
    y = np.asarray(y)
    ok, oka = g != smoothing.ABSTAIN, ga != smoothing.ABSTAIN
    if target is None:  # flip: both smoothed answers exist and differ
        eligible = np.ones(y.shape, bool)
        success = ok & oka & (ga != g)
    else:
        eligible = y != target
        success = eligible & oka & (ga == target)
    correct = g == y
    return {
        "asr": float(success[eligible].mean()) if eligible.any() else math.nan,
        "n_asr": int(eligible.sum()),
        "clean": float(correct.mean()),
        "abstain": float(1.0 - ok.mean()),
        "abstain_activated": float(1.0 - oka.mean()),
        "defended": float((correct & ~success).mean()),
        "n": int(y.size),
    }


def unsmoothed_rates(model, x, xa, y, target):
    """The σ = 0 row: the same rates for the model itself."""
    g, ga = np.asarray(metrics.predict(model, x)), np.asarray(metrics.predict(model, xa))
    return _rates(g, ga, y, target)


def smoothed_rates(key, model, x, xa, y, target, *, sigma, num_samples, alpha):
    """PREDICT on `x` and `xa` with independent draws (`key` split in two), then `_rates`."""
    k_clean, k_act = jr.split(key)
    kw = dict(sigma=sigma, num_samples=num_samples, alpha=alpha)
    g = np.asarray(smoothing.predict_batch(k_clean, model, x, **kw))
    ga = np.asarray(smoothing.predict_batch(k_act, model, xa, **kw))
    return _rates(g, ga, y, target)


def certified(key, model, x, l2, *, sigma, n0, num_samples, alpha):
    """CERTIFY on the rows of `x`: certified fraction, median radius / ℓ2, 'immune' fraction
    (certified with radius ≥ that row's activation size `l2`), and the radii."""
    lab, rad = smoothing.certify_batch(
        key, model, x, sigma=sigma, n0=n0, num_samples=num_samples, alpha=alpha
    )
    lab, rad = np.asarray(lab), np.asarray(rad, np.float64)
    ok = lab != smoothing.ABSTAIN
    return {
        "certified": float(ok.mean()),
        "median_radius_over_l2": float(np.median(rad / np.maximum(l2, 1e-12))),
        "immune": float(np.mean(ok & (rad >= l2))),
        "radii": rad.tolist(),
    }


class _Score(eqx.Module):
    """`w·x + b`: a linear score (a threshold `x_j ≥ c` when `w` is a basis vector)."""

    w: jax.Array
    b: jax.Array

    def __call__(self, x):
        return self.w @ x + self.b


def lipschitz_closed_form(key, *, dim=8, sigmas=(0.5, 2.0), steps=(0.5, 2.0), num_samples):
    """Lemma 7.6 on a random linear score and on a coordinate threshold (module docstring).

    **Returns:** `(estimates, exact)`: per setting label, an `Estimate` of the measured ratio
    (standard error from the binomial variance of the two independent estimates) and the
    closed-form ratio $r^*$."""
    kw, kb = jr.split(key)
    w = jr.normal(kw, (dim,))
    models = {
        "linear": _Score(w, jr.normal(kb, ())),
        "threshold x₁ ≥ 0.3": _Score(jnp.zeros(dim).at[0].set(1.0), jnp.asarray(-0.3)),
    }
    est, exact = {}, {}
    for mi, (mname, m) in enumerate(models.items()):
        u = m.w / jnp.linalg.norm(m.w)
        x0 = -m.b * m.w / (m.w @ m.w)  # on the decision boundary: h~(x0) = 0
        for si, s in enumerate(sigmas):
            for di, r in enumerate(steps):
                k0, k1 = jr.split(jr.fold_in(key, 100 * mi + 10 * si + di))
                e0 = float(smoothing.smooth(k0, m, x0, sigma=s, num_samples=num_samples))
                e1 = float(
                    smoothing.smooth(k1, m, x0 + r * s * u, sigma=s, num_samples=num_samples)
                )
                budget = TIGHT * r  # L·δ with δ = r σ, L = √(2/π)/σ
                var = (max(1 - e0 * e0, 0.0) + max(1 - e1 * e1, 0.0)) / num_samples
                label = f"{mname}, σ = {s:g}, δ = {r:g}σ"
                # A mean of draws, not of seeds (n left out of the text); the power uses `se`.
                est[label] = Estimate(abs(e1 - e0) / budget, "mean", se=math.sqrt(var) / budget)
                exact[label] = (2 * stats.norm.cdf(r) - 1) / budget
    return est, exact


class _RowVotes(eqx.Module):
    """Label counts `(num_sigmas, 2)` of one input row `i` at every σ, draws `fold_in(key, i)`."""

    key: jax.Array
    model: Callable[..., jax.Array]
    sigmas: jax.Array
    num_samples: int = eqx.field(static=True)

    def __call__(self, i, xi):
        def per_sigma(s):
            return smoothing.class_counts(
                jr.fold_in(self.key, i), self.model, xi, sigma=s,
                num_samples=self.num_samples, batch_size=self.num_samples,
            )  # fmt: skip

        return jax.lax.map(per_sigma, self.sigmas)


def votes(key, model, x, sigmas, *, num_samples: int, mesh=None):
    """Label counts `(num_sigmas, n, 2)`, row `i` with draws `fold_in(key, i)` at every σ, rows
    split over the devices (`sharded_map`). The experiment itself votes through PREDICT; this
    raw-count form is kept for `tests/test_sharded_sweeps.py`, which checks it on 4 devices."""
    idx = jnp.arange(x.shape[0])
    counts = sharded_map(_RowVotes(key, model, sigmas, num_samples), idx, x, mesh=mesh)
    return jnp.swapaxes(counts, 0, 1)
