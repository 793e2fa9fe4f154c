"""Sharded RFF fits: stacked (seed, data, β, secret) cells through `jaxbd.sharding.sharded_map`.

`fit_cells` is `rff.train` / `rff.backdoor` for many cells at once (same keys and code, up to
float rounding), used by the `universality` experiment and tested on 1 vs 4 devices in
`tests/test_sharded_sweeps.py`. The `rff` experiment itself plants through the construction
registry (`constructions.get("rff")`).
"""

import functools
import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from scipy.spatial.distance import pdist

from jaxbd import clwe, rff
from jaxbd.detect.regime import warn_if_detectable
from jaxbd.sharding import sharded_map


def bandwidth_for(x) -> float:
    """2π × median pairwise distance of `x` (kernel length scale = median distance)."""
    return float(2 * math.pi * np.median(pdist(np.asarray(x, np.float64))))


# ----------------------------------------------------------------------------- seed sweeps
# Every fit of this experiment is a pure function of its cell (seed, training data, bandwidth,
# β, secret): the code of `rff.train` / `rff.backdoor` minus their host-side validation, with the
# same key splits. The cells of a sweep (seeds, seeds × β, seeds × secret_dim, honest and
# backdoored) are stacked and mapped with `jaxbd.sharding.sharded_map`, so they spread over all
# devices (jit(vmap) on one device). Two sharded steps, each compiled once per shape and shared by
# honest and backdoored cells of every secret_dim (compilation dominates a quick run):
# 1. frequencies: N(0, I) (Alg. 2) or pancakes around the cell's secret (Alg. 4), β traced;
#    the batch is padded to a multiple of `_PAD` cells so every call has the same shape;
# 2. `rff._fit` (phases, features, head training) with a traced bandwidth.
# The secrets themselves (`clwe.sample_secret`, support static) are drawn per cell on the host.

_KW = dict(loss="logistic", lr=0.01)  # rff.train/backdoor defaults (weight decay: an argument)
_PAD = 4


@functools.cache
def _frequency_cell(width, dim, max_gamma, dtype):
    def one(key, omega, beta, planted):
        _, k_freq, _ = jr.split(key, 3)  # as in rff.train and rff.backdoor
        pancake = clwe.pancakes(k_freq, omega, width, beta=beta, shift=0.5, max_gamma=max_gamma)
        gauss = rff._gaussian_frequencies(k_freq, width, dim, dtype)
        return jnp.where(planted, pancake.astype(dtype), gauss)

    return one


@functools.cache
def _fit_cell(task, c, width, steps, wd):
    def one(key, freqs, x, y, bw):
        _, _, k_phase = jr.split(key, 3)
        sample = lambda _: freqs
        kw = dict(width=width, bandwidth=bw, steps=steps, wd=wd, **_KW)
        return rff._fit((None, k_phase), x, y, task, c, sample, **kw)

    return one


def fit_cells(cells, *, width, steps, mesh=None, bandwidth=None, weight_decay=1e-3):
    """Fit the models of `cells`, a list of `(ds, seed, beta, secret_dim)`; `secret_dim` None
    for an honest model (`rff.train(jr.key(seed), ...)`), else `rff.backdoor(jr.key(seed), ...,
    secret_dim=, beta=)`, both with `width`, `steps`, `weight_decay` and `bandwidth` (default:
    the median bandwidth of each training set). `seed` may also be a PRNG key, used as is.
    Equal to those calls up to float rounding (same keys, same code); all cells run through
    `sharded_map` over `mesh` (default: all devices). Returns
    `[(model, backdoor_key or None, wrong_key or None)]`."""
    dss = [cell[0] for cell in cells]
    bws = [bandwidth_for(ds.x_train) if bandwidth is None else float(bandwidth) for ds in dss]
    d, dtype = dss[0].dim, dss[0].x_train.dtype
    for ds, bw in zip(dss, bws):  # host-side validation, as rff.train / rff.backdoor do it
        _, _, task, c, *_ = rff._validate_train(
            ds.x_train, ds.y_train, width, bw, "logistic", weight_decay, steps, 0.01
        )
    keys = [seed if isinstance(seed, jax.Array) else jr.key(seed) for _, seed, _, _ in cells]
    planted = [k is not None for *_, k in cells]
    omegas, wrongs, max_gamma = [], [], 8 * math.sqrt(d)
    unit = jnp.zeros((d,), dtype).at[0].set(1.0)  # placeholder secret of the honest cells
    for key, (_, _, beta, k) in zip(keys, cells):
        if k is None:
            omegas.append(unit)
            wrongs.append(None)
            continue
        warn_if_detectable("rff", dim=d, width=width, secret_dim=k, beta=beta)
        k_secret = jr.split(key, 3)[0]
        omegas.append(clwe.sample_secret(k_secret, d, support=k, dtype=dtype))
        # "another backdoor's key": an independent secret with the same parameters
        wrongs.append(clwe.sample_secret(jr.fold_in(key, 7), d, support=k, dtype=dtype))
        max_gamma = max(max_gamma, rff._max_gamma(d, k, None, beta))
    betas = [1.0 if k is None else beta for _, _, beta, k in cells]
    n = len(cells)
    pad = (lambda v: v + v[-1:] * (-n % _PAD)) if n % _PAD else (lambda v: v)
    freqs = sharded_map(
        _frequency_cell(width, d, max_gamma, dtype),
        jnp.stack(pad(keys)),
        jnp.stack(pad(omegas)),
        jnp.asarray(pad(betas), dtype),
        jnp.asarray(pad(planted)),
        mesh=mesh,
    )[:n]
    x = jnp.stack([ds.x_train for ds in dss])
    y = jnp.stack([ds.y_train for ds in dss])
    fit = _fit_cell(task, c, width, steps, float(weight_decay))
    fr, ph, head = sharded_map(
        fit, jnp.stack(keys), freqs, x, y, jnp.asarray(bws, dtype), mesh=mesh
    )
    out = []
    for i, ((_, _, beta, k), bw) in enumerate(zip(cells, bws)):
        model = rff.RFFClassifier(fr[i], ph[i], head[i], bw)
        if k is None:
            out.append((model, None, None))
        else:
            key_i = rff.RFFBackdoorKey(omegas[i], bw, float(beta))
            out.append((model, key_i, rff.RFFBackdoorKey(wrongs[i], bw, float(beta))))
    return out


# The old private name, for callers not yet moved to `fit_cells`.
_fit_cells = fit_cells
