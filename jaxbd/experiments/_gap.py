"""The gap between two rates measured on the same inputs (e.g. ASR minus a control, or the
clean accuracy of two models), as an `Estimate` for a claim."""

import dataclasses
import math

import numpy as np

from ._claims import Estimate, mean


def rate_gap(a, b, trials: int | np.integer) -> Estimate:
    r"""Mean over seeds of `a - b`, per-seed rates from `trials` inputs each.

    The standard error is the seeds' (as `mean`), floored by the binomial error of the two
    rates on the pooled inputs, $\sqrt{(p_a(1-p_a) + p_b(1-p_b) + 1/(2N))/N}$ (conservative for
    rates on the same inputs), so one seed or seeds that agree are not infinitely precise.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    e = mean(a - b)
    n = a.size * int(trials)
    pa, pb = (float(np.clip(v.mean(), 0.0, 1.0)) for v in (a, b))
    floor = math.sqrt((pa * (1 - pa) + pb * (1 - pb) + 0.5 / n) / n)
    se = e.se  # `mean` always sets it (NaN for one seed)
    return dataclasses.replace(e, se=floor if se is None or math.isnan(se) else max(se, floor))
