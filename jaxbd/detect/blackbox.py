r"""Black-box probing: does a suspect model disagree with an honestly retrained one?

A black-box auditor can only query. Against the checksum and signature backdoors (GKVZ §4,
Thm 4.x: the trigger is a valid checksum / signature, found by random queries with negligible
probability) and against Activate-RFF (GKVZ §6: the key has norm $2\sqrt{k}\cdot$bandwidth in a
secret direction), the natural probe is to compare the suspect with a *reference* model trained
honestly on the same data, on query families: held-out points, points perturbed by random
noise of several ℓ2 sizes (relative to the median nearest-neighbour distance of `x`), and
Gaussian queries matching the data's mean and scale.

The test: per family, an exact one-sided binomial test (`scipy.stats.binomtest`) of
H0: "disagreement rate <= `baseline_rate`", where `baseline_rate` is what two honest retrains
disagree on (measure it with two honest models, or pass a tolerance); **Bonferroni** over the
families. The statistic is the largest disagreement rate minus the baseline. Generic over any
two models with the same task (scalar scores or logits).
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from jaxbd._validate import (
    as_key,
    check_int_range,
    check_matrix,
    check_range,
    is_concrete,
    positive_numbers,
)
from jaxbd.metrics import median_nn_distance, predict

from ._result import Detection
from ._weights import check_alpha


__all__ = ["probe", "probe_queries"]


def _check_scales(scales) -> tuple[float, ...]:
    """Noise sizes: finite numbers `>= 0`, no repeats (each names one query family)."""
    out = positive_numbers(scales, "scales", allow_zero=True)
    names = ["data" if s == 0 else f"noise@{s:g}" for s in out]
    if len(set(names)) != len(names):
        raise ValueError(f"`scales` has repeated entries: {out}.")
    return tuple(out)


def _data_scale(x) -> float:
    r = median_nn_distance(x)
    if r == 0.0:
        raise ValueError(
            "the median nearest-neighbour distance of `x` is 0 (more than half of its points "
            "are duplicates): the noise families would all equal the data."
        )
    return r


def probe_queries(
    key, x: Float[ArrayLike, "n d"], *, scales=(0.0, 0.5, 2.0), num_queries: int = 256
) -> dict[str, Float[Array, "q d"]]:
    """The query families: `"data"`, `"noise@<s>"` (random ℓ2 = s·median-NN), `"gaussian"`."""
    key = as_key(key)
    x = check_matrix(x, "x")
    if not is_concrete(x):
        raise ValueError("`x` must be a concrete array (call probe_queries outside jit).")
    if x.shape[0] < 2:
        raise ValueError("`x` needs at least 2 points (for the nearest-neighbour scale).")
    scales = _check_scales(scales)
    num_queries = check_int_range(num_queries, "num_queries", low=1)
    r = _data_scale(x) if any(s != 0 for s in scales) else 0.0
    keys = jr.split(key, len(scales) + 2)
    idx = jr.randint(keys[0], (num_queries,), 0, x.shape[0])
    base = x[idx]
    out = {}
    for s, k in zip(scales, keys[1:-1]):
        z = jr.normal(k, base.shape, x.dtype)
        z = z / jnp.linalg.norm(z, axis=1, keepdims=True)
        name = "data" if s == 0 else f"noise@{s:g}"
        out[name] = base + jnp.asarray(float(s) * r, x.dtype) * z
    mu, sd = jnp.mean(x, axis=0), jnp.std(x, axis=0)
    out["gaussian"] = mu[None, :] + sd[None, :] * jr.normal(keys[-1], base.shape, x.dtype)
    return out


def probe(
    key,
    suspect,
    reference,
    x: Float[ArrayLike, "n d"],
    *,
    scales=(0.0, 0.5, 2.0),
    num_queries: int = 256,
    baseline_rate: float = 0.0,
    alpha: float = 0.05,
) -> Detection:
    """Compare `suspect` and `reference` on query families built from `x`.

    **Arguments:**

    - `key`: PRNG key for the queries.
    - `suspect`, `reference`: models (`model(x)` on one example; batched with `jax.vmap`).
    - `x`: data `(n, d)` the queries are built from.
    - `scales`: noise sizes in units of the median nearest-neighbour distance (0 = the data).
    - `num_queries`: queries per family.
    - `baseline_rate`: disagreement rate tolerated under H0 (honest vs honest), in [0, 1).

    **Returns:** a [`Detection`][]; `found["disagreement"]` maps family -> rate.
    """
    alpha = check_alpha(alpha)
    for m, name in ((suspect, "suspect"), (reference, "reference")):
        if not callable(m):
            raise ValueError(f"`{name}` must be a callable model(x), got {type(m).__name__}.")
    if isinstance(baseline_rate, (str, bytes)) or np.ndim(baseline_rate) != 0:
        raise ValueError(f"`baseline_rate` must be a number in [0, 1), got {baseline_rate!r}.")
    baseline_rate = float(
        check_range(baseline_rate, "baseline_rate", low=0.0, high=1.0, high_open=True)
    )
    from scipy.stats import binomtest  # lazy: ~0.7 s of start-up

    queries = probe_queries(key, x, scales=scales, num_queries=num_queries)
    rates, pvals = {}, []
    for name, q in queries.items():
        a = np.asarray(predict(suspect, q))
        b = np.asarray(predict(reference, q))
        if a.shape != b.shape:
            raise ValueError("`suspect` and `reference` give labels of different shapes.")
        k = int(np.sum(a != b))
        rates[name] = k / q.shape[0]
        if baseline_rate == 0.0:
            pvals.append(1.0 if k == 0 else 0.0)
        else:
            pvals.append(binomtest(k, q.shape[0], baseline_rate, alternative="greater").pvalue)
    stat = max(rates.values()) - baseline_rate
    return Detection.from_p(
        "blackbox",
        stat,
        min(1.0, len(pvals) * min(pvals)),
        alpha,
        f"exact one-sided binomial tests vs baseline {baseline_rate:g}, Bonferroni over "
        f"{len(pvals)} query families",
        {"disagreement": rates},
    )


_ = jax
