"""Shared checks and statistics for the white-box distinguishers.

The auditor's object is a first-layer weight matrix `w` of shape `(m, d)`: one row per hidden
unit (RFF frequency or ReLU weight vector). Under the honest training algorithms of GKVZ
(Train-RFF, Alg. 3; Train-Random-ReLU, Alg. 8) the rows are i.i.d. $N(0, I_d)$ — the null of
every test here is exactly that, so it is fully specified (no nuisance parameters).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from jaxbd._validate import (
    check_finite,
    check_floating,
    check_int_range,
    check_range,
    is_concrete,
    real_numbers,
)


def check_alpha(alpha: float) -> float:
    if isinstance(alpha, (str, bytes)) or alpha is None or not is_concrete(alpha):
        raise ValueError(f"`alpha` must be a concrete number in (0, 1), got {alpha!r}.")
    if np.ndim(alpha) != 0:
        raise ValueError(f"`alpha` must be a number in (0, 1), got shape {np.shape(alpha)}.")
    check_range(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
    return float(alpha)


def check_weights(w, *, min_rows: int = 2, min_cols: int = 1, name: str = "w") -> Array:
    """`w` must be a finite floating matrix `(m, d)` with `m >= min_rows`, `d >= min_cols`.

    Raises `ValueError` naming `w` for the wrong rank, a non-floating (integer, complex) dtype,
    too few rows (too few samples for the test), NaN/inf, or a traced `w` (the tests run on
    the host: call them outside `jit`).
    """
    w = check_floating(w, name)
    if w.ndim != 2:
        raise ValueError(
            f"`{name}` must be a weight matrix of shape (num_units, dim), got shape {w.shape}."
        )
    if w.shape[0] < min_rows:
        raise ValueError(
            f"`{name}` has {w.shape[0]} rows (samples); this test needs at least {min_rows}."
        )
    if w.shape[1] < min_cols:
        raise ValueError(
            f"`{name}` has {w.shape[1]} columns; this test needs at least {min_cols}."
        )
    if not is_concrete(w):
        raise ValueError(
            f"`{name}` must be a concrete array: the test runs on the host (call it outside jit; "
            "the `*_statistic` functions are the jittable parts)."
        )
    return check_finite(w, name)


def traced_weights(w, name: str = "w", *, min_cols: int = 1) -> Array:
    """For the jittable statistics: `w` a floating matrix (host checks of shape and dtype),
    finite (`eqx.error_if` under `jit`/`vmap`). Returns the checked `w` (use it)."""
    w = check_floating(w, name)
    if w.ndim != 2 or w.shape[0] < 1 or w.shape[1] < min_cols:
        raise ValueError(
            f"`{name}` must be a weight matrix of shape (num_units, dim), got shape {w.shape}."
        )
    return check_finite(w, name)


def host_statistic(statistic, name: str = "statistic") -> np.ndarray:
    """A test statistic as float64 on the host; NaN (no p-value) and complex values refused."""
    if not is_concrete(statistic):
        raise ValueError(f"`{name}` must be concrete (p-values are computed on the host).")
    out = real_numbers(statistic, name)
    if np.any(np.isnan(out)):
        raise ValueError(f"`{name}` contains NaN: no p-value exists.")
    return out


def periodogram(proj: Float[Array, " m"], radius: Float[Array, ""]) -> Float[Array, ""]:
    r"""Standardised periodogram of `proj` = $\langle g_i, \hat\omega\rangle$ at frequency 1.

    With $\phi = \frac1m\sum_i e^{2\pi i\,\mathrm{proj}_i}$ and, under the null
    $g \sim N(0, I)$, $\langle g, \hat\omega\rangle \sim N(0, r^2)$ with $r = \|\hat\omega\|$:
    $E\cos = e^{-2\pi^2 r^2}$, $E\sin = 0$ and known variances; the statistic
    $m[(\bar c - E\cos)^2/v_c + \bar s^2/v_s]$ is asymptotically $\chi^2_2$ for any fixed
    $\hat\omega$ independent of the samples (p-value $e^{-T/2}$). For $r \ge 1$ this is
    $2m|\phi|^2$ up to $10^{-8}$. Pancakes with shift 1/2 (GKVZ Lemma 6.2) give $\phi \approx -1$.
    """
    two_pi = jnp.asarray(2 * math.pi, proj.dtype)
    c = jnp.mean(jnp.cos(two_pi * proj))
    s = jnp.mean(jnp.sin(two_pi * proj))
    e1 = jnp.exp(-2 * math.pi**2 * radius**2)
    e4 = e1**4
    vc = jnp.maximum((1 + e4) / 2 - e1**2, 1e-12)
    vs = jnp.maximum((1 - e4) / 2, 1e-12)
    m = jnp.asarray(proj.shape[0], proj.dtype)
    return m * ((c - e1) ** 2 / vc + s**2 / vs)


def unit_vectors(key, num: int, dim: int, dtype=jnp.float32) -> Float[Array, "num dim"]:
    """`num` independent uniform unit vectors in `R^dim` (rows)."""
    z = jax.random.normal(key, (num, dim), dtype=dtype)
    return z / jnp.linalg.norm(z, axis=1, keepdims=True)


def as_numpy64(w) -> np.ndarray:
    return np.asarray(w, dtype=np.float64)


def bonferroni_p_value(
    sf, statistic, num_rows: int, num_tests: int, tests_name: str
) -> np.ndarray | np.floating:
    r"""$\min(1, K\,\mathrm{sf}(\text{statistic}; m))$ on the host: the Bonferroni bound
    over `num_tests` ($K$) tests of `num_rows` ($m$) rows each, `sf(s, m)` the null survival
    function of one test (e.g. `scipy.stats.kstwo.sf`)."""
    s = host_statistic(statistic)
    num_rows = check_int_range(num_rows, "num_rows", low=1)
    num_tests = check_int_range(num_tests, tests_name, low=1)
    return np.minimum(1.0, num_tests * sf(s, num_rows))
