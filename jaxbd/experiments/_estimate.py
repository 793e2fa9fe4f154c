"""Estimates: a measured number with its sampling model (see `_claims` for how the power of a
claim follows from it).

- [`rate`][] (`fraction`, `n`): a rate from `n` Bernoulli trials (an exact binomial law);
- [`mean`][] (`values`, `trials=None`): a mean of per-seed values with its standard error;
- [`exact`][] (`value`): a deterministic quantity (a norm, a count).
"""

import dataclasses
import math
from collections.abc import Sequence

import numpy as np


__all__ = ["Estimate", "rate", "mean", "exact"]


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A measured number with its sampling model.

    **Fields:** `value`; `kind` (`"rate"`, `"mean"` or `"exact"`); `n` (Bernoulli trials behind
    a rate, seeds behind a mean); `se` (standard error of a mean); `unit` (appended in text);
    `digits` (decimals shown).
    """

    value: float
    kind: str
    n: int | None = None
    se: float | None = None
    unit: str = ""
    digits: int = 3

    def __post_init__(self):
        if self.kind not in ("rate", "mean", "exact"):
            raise ValueError(f"`kind` must be 'rate', 'mean' or 'exact', got {self.kind!r}.")
        if self.kind == "rate" and (self.n is None or self.n < 1):
            raise ValueError(f"a rate needs its number of trials `n` >= 1, got {self.n!r}.")
        if math.isnan(self.value):
            raise ValueError("an estimate's `value` is NaN: nothing can be decided from it.")

    def text(self) -> str:
        v = f"{self.value:.{self.digits}f}{self.unit}"
        if self.kind == "rate":
            return f"{v} (n = {self.n})"
        if self.kind == "mean" and self.se is not None and self.n and self.n > 1:
            return f"{v} ± {self.se:.{self.digits}f} ({self.n} seeds)"
        return v


def rate(fraction: float, n: int, **kw) -> Estimate:
    """A rate measured on `n` Bernoulli trials (e.g. an ASR on `n` test inputs): `fraction`
    is the observed success fraction in [0, 1]."""
    p = float(fraction)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"`fraction` must lie in [0, 1], got {fraction!r}.")
    return Estimate(p, "rate", n=int(n), **kw)


def mean(values: Sequence[float] | np.ndarray, *, trials: int | None = None, **kw) -> Estimate:
    """The mean of per-seed `values`; `trials`: Bernoulli trials behind each value, if rates."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("`values` is empty: a mean needs at least one value.")
    m = float(v.mean())
    se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else 0.0
    if trials is not None:
        p = min(max(m, 0.0), 1.0)
        se = max(se, math.sqrt(max(p * (1 - p), 0.25 / (v.size * trials)) / (v.size * trials)))
    elif v.size == 1:
        se = float("nan")  # one seed, no sampling model: the power is unknown
    return Estimate(m, "mean", n=int(v.size), se=se, **kw)


def exact(value: float, **kw) -> Estimate:
    """A deterministic quantity (a norm, a count, a bound evaluated in closed form)."""
    return Estimate(float(value), "exact", **kw)
