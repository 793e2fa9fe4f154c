"""The common result of every distinguisher in `jaxbd.detect`."""

import dataclasses
import math
from typing import Any


__all__ = ["Detection"]


@dataclasses.dataclass(frozen=True)
class Detection:
    r"""What a white-box (or black-box) auditor concludes from one test.

    **Fields:**

    - `name`: the distinguisher (e.g. `"spectral"`).
    - `statistic`: the test statistic (larger = more evidence of a planted structure).
    - `p_value`: the p-value under the honest null (weights i.i.d. $N(0, 1)$, or "the two models
      agree"), calibrated as `calibration` says; in $[0, 1]$.
    - `alpha`: the level of the test.
    - `reject`: `p_value <= alpha` — the auditor flags the model.
    - `calibration`: how the p-value is obtained (e.g. "Bonferroni over 40 KS tests").
    - `found`: what the distinguisher recovered (a direction, a support, a secret), as host
      values (NumPy arrays / floats); empty when nothing was recovered.
    """

    name: str
    statistic: float
    p_value: float
    alpha: float
    reject: bool
    calibration: str
    found: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        try:
            stat_nan = math.isnan(float(self.statistic))
        except (TypeError, ValueError):
            raise ValueError(f"`statistic` must be a number, got {self.statistic!r}.") from None
        if stat_nan:
            raise ValueError("`statistic` is NaN: the distinguisher's input was degenerate.")
        if not (0.0 <= self.p_value <= 1.0) or math.isnan(self.p_value):
            raise ValueError(f"`p_value` must lie in [0, 1], got {self.p_value!r}.")
        if not (0.0 < self.alpha < 1.0):
            raise ValueError(f"`alpha` must lie in (0, 1), got {self.alpha!r}.")
        if self.reject != (self.p_value <= self.alpha):
            raise ValueError("`reject` must equal `p_value <= alpha`.")

    @classmethod
    def from_p(
        cls,
        name: str,
        statistic: float,
        p_value: float,
        alpha: float,
        calibration: str,
        found: dict[str, Any] | None = None,
    ) -> "Detection":
        """Build a result, clipping `p_value` to [0, 1] and deciding `reject` at `alpha`."""
        p = float(p_value)
        if math.isnan(p):
            # min/max would turn NaN into 0.0, i.e. a rejection: refuse it instead.
            raise ValueError(f"`p_value` is NaN (distinguisher {name!r}): nothing can be decided.")
        p = float(min(1.0, max(0.0, p)))
        return cls(
            name=name,
            statistic=float(statistic),
            p_value=p,
            alpha=float(alpha),
            reject=bool(p <= alpha),
            calibration=calibration,
            found=dict(found or {}),
        )
