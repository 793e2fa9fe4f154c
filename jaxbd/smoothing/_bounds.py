r"""Sample sizes and Lipschitz constants of the smoothed model (GKVZ §7, Lemmas 7.4 and 7.6)."""

import math

import jax.numpy as jnp

from .._validate import check_int_range, check_positive, check_range, is_concrete


def _host_number(value, name: str) -> float:
    if isinstance(value, (str, bytes)) or value is None or not is_concrete(value):
        raise ValueError(f"`{name}` must be a concrete number, got {value!r}.")
    if jnp.ndim(value) != 0:
        raise ValueError(f"`{name}` must be a scalar, got shape {jnp.shape(value)}.")
    return value


def _check_delta(delta) -> float:
    delta = _host_number(delta, "delta")
    return float(check_range(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True))


def _check_pos(value, name: str) -> float:
    return float(check_positive(_host_number(value, name), name))


def hoeffding_num_samples(epsilon: float, delta: float, *, bound: float = 1.0) -> int:
    r"""Draws $k$ such that the estimate of [`smooth`][] is within `epsilon` of $\tilde h(x)$
    with probability at least `1 - delta`, for outputs in `[-bound, bound]` (GKVZ Lemma 7.4):
    $k = \lceil 2B^2\ln(2/\delta)/\varepsilon^2 \rceil$ (Hoeffding, range $2B$). For one-hot
    outputs (range 1) pass `bound=0.5`."""
    eps = _check_pos(epsilon, "epsilon")
    b = _check_pos(bound, "bound")
    d = _check_delta(delta)
    den = eps**2
    k = 2.0 * b**2 * math.log(2.0 / d) / den if den > 0 else math.inf
    if not math.isfinite(k):
        raise ValueError(
            f"`epsilon`={epsilon!r} is too small relative to `bound`={bound!r}: the sample "
            "count overflows."
        )
    return math.ceil(k)


def hoeffding_error(num_samples: int, delta: float, *, bound: float = 1.0) -> float:
    r"""Half-width $B\sqrt{2\ln(2/\delta)/k}$ of the Hoeffding interval of [`smooth`][] with
    `num_samples` $= k$ draws, outputs in `[-bound, bound]`, confidence `1 - delta`
    (GKVZ Lemma 7.4)."""
    k = check_int_range(num_samples, "num_samples", low=1)
    d = _check_delta(delta)
    b = _check_pos(bound, "bound")
    return b * math.sqrt(2.0 * math.log(2.0 / d) / k)


def lipschitz_bound(sigma: float, *, bound: float = 1.0, constant: str = "paper") -> float:
    r"""ℓ2 Lipschitz constant of the smoothed model $\tilde h$ for $|h| \le B$ (GKVZ Lemma 7.6).

    - `constant="paper"`: Lemma 7.6 as stated, $e\sqrt 2\, B / \sigma \approx 3.84\,B/\sigma$.
    - `constant="tight"`: the exact worst case $\sqrt{2/\pi}\, B/\sigma \approx 0.80\,B/\sigma$
      (total variation between $N(x, \sigma^2 I)$ and $N(y, \sigma^2 I)$; attained as
      $\|x - y\| \to 0$ by a half-space $h$). See the module docstring for why the paper's
      proof needs this repair while its statement holds.
    """
    s = _check_pos(sigma, "sigma")
    b = _check_pos(bound, "bound")
    if constant == "paper":
        return math.e * math.sqrt(2.0) * b / s
    if constant == "tight":
        return math.sqrt(2.0 / math.pi) * b / s
    raise ValueError(f'`constant` must be "paper" or "tight", got {constant!r}.')
