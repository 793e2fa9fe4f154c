r"""Claims as data: a statement, its source, what was measured, and one rule.

A [`Claim`][] is `Claim(statement, source, metric, rule)`. The *metric* is one
[`Estimate`][] (or a dict `label -> Estimate`, one per dataset or setting) that carries its own
sampling model — a rate from `n` Bernoulli trials, a mean over seeds, or an exact quantity —
and the *rule* ([`AtLeast`][], [`AtMost`][], [`Within`][], [`Describe`][]) holds the
threshold, **written once**: it computes the verdict, writes the criterion text, and computes
the **power** of the test at the run's sizes — the smallest violation of the threshold that the
test detects with probability at least 0.9 ([`POWER`][]), and, when the rule is given the value
the paper predicts (`expected=`), the false-failure probability at that value.

Power, by sampling model (the run's sizes, no asymptotics where an exact law is available):

- `rate(fraction, n)`: the verdict compares $\hat p = k/n$ with the threshold $t$; under a true rate
  $p$, $k \sim \mathrm{Bin}(n, p)$. The power is the smallest $\delta$ with
  $P_{p = t - \delta}(\hat p < t) \ge 0.9$ (for `AtLeast`), computed exactly from the binomial
  law (scipy) by bisection.
- `mean(values, trials=None)`: a mean of per-seed values; the standard error is the sample
  standard deviation over $\sqrt{\text{seeds}}$, floored by the binomial standard error of the
  pooled trials when the values are rates from `trials` trials each (so a run whose seeds happen
  to agree is not credited with infinite precision). Power $\delta = z_{0.9}\,\mathrm{se}$ (normal
  approximation, marked "≈").
- `exact(value)`: a deterministic quantity (a norm, a count): any violation is detected.

A claim over several labels holds when every label satisfies the rule; its power is the largest
of the per-label powers (a violation of that size at any one label is detected with probability
at least 0.9).

The estimates are in `_estimate.py` (re-exported here); this module holds the rules and
[`Claim`][].
"""

import abc
import dataclasses
import math
from collections.abc import Mapping

from scipy import stats

from ._estimate import Estimate, exact, mean, rate


__all__ = [
    "POWER",
    "Estimate",
    "rate",
    "mean",
    "exact",
    "Rule",
    "AtLeast",
    "AtMost",
    "Within",
    "Describe",
    "Claim",
]

POWER = 0.9  # a claim's power: the violation detected with at least this probability
_Z = float(stats.norm.ppf(POWER))


# ----------------------------------------------------------------------------------- rules


def _bisect(f, lo: float, hi: float, iters: int = 60) -> float:
    """The smallest x in [lo, hi] with f(x) true, for f monotone (false below, true above)."""
    if not f(hi):
        return math.inf
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if f(mid) else (mid, hi)
    return hi


class Rule(abc.ABC):
    """A verdict rule with its threshold written once (criterion, verdict and power from it)."""

    expected: float | None = None

    @abc.abstractmethod
    def holds(self, est: Estimate) -> bool | None:
        """The verdict on one estimate."""

    @abc.abstractmethod
    def criterion(self, what: str) -> str:
        """The criterion in words, for the measured quantity `what`."""

    @abc.abstractmethod
    def fail_probability(self, est: Estimate, truth: float) -> float:
        """P(the verdict is 'does not hold') when the true value is `truth` (same sizes)."""

    @abc.abstractmethod
    def power(self, est: Estimate) -> float:
        """The smallest violation detected with probability >= POWER (inf: none is)."""

    def false_failure(self, est: Estimate) -> float | None:
        """P(fail) when the truth is the paper's predicted value `expected` (None if not given)."""
        return None if self.expected is None else self.fail_probability(est, self.expected)


def _fail_below(est: Estimate, t: float, truth: float) -> float:
    """P(measured < t) when the true value is `truth`."""
    if est.kind == "exact":
        return float(truth < t)
    if est.kind == "rate":
        n = est.n
        assert n is not None  # a rate has its trials (Estimate.__post_init__)
        k_max = math.ceil(t * n - 1e-9) - 1  # k/n < t  <=>  k <= ceil(t n) - 1
        return float(stats.binom.cdf(k_max, n, min(max(truth, 0.0), 1.0)))
    if est.se is None or math.isnan(est.se):
        return math.nan
    if est.se == 0:
        return float(truth < t)
    return float(stats.norm.cdf((t - truth) / est.se))


def _violation_below(est: Estimate, t: float, lo: float) -> float:
    """The smallest delta such that a truth of t - delta fails `>= t` w.p. >= POWER."""
    if est.kind == "exact":
        return 0.0
    if est.kind == "mean":
        return math.nan if est.se is None or math.isnan(est.se) else _Z * est.se
    span = max(t - lo, 0.0)
    return _bisect(lambda d: _fail_below(est, t, t - d) >= POWER, 0.0, span)


def _mirror(est: Estimate) -> Estimate:
    """The estimate of 1 - value (a rate) or -value (a mean), to reuse the lower-tail code."""
    if est.kind == "rate":
        return dataclasses.replace(est, value=1.0 - est.value)
    return dataclasses.replace(est, value=-est.value)


def _flip(est: Estimate, t: float) -> float:
    return 1.0 - t if est.kind == "rate" else -t


@dataclasses.dataclass(frozen=True)
class AtLeast(Rule):
    """Holds when the measured value is at least `threshold`."""

    threshold: float
    expected: float | None = None

    def holds(self, est):
        return est.value >= self.threshold

    def criterion(self, what):
        return f"{what} ≥ {self.threshold:g}"

    def fail_probability(self, est, truth):
        return _fail_below(est, self.threshold, truth)

    def power(self, est):
        return _violation_below(est, self.threshold, 0.0 if est.kind == "rate" else -math.inf)


@dataclasses.dataclass(frozen=True)
class AtMost(Rule):
    """Holds when the measured value is at most `threshold`."""

    threshold: float
    expected: float | None = None

    def holds(self, est):
        return est.value <= self.threshold

    def criterion(self, what):
        return f"{what} ≤ {self.threshold:g}"

    def fail_probability(self, est, truth):
        # measured > t  <=>  mirrored measured < mirrored t (for rates: 1 - p)
        t = _flip(est, self.threshold)
        if est.kind == "rate":  # P(k/n > t) = P((n-k)/n < 1 - t)
            return _fail_below(_mirror(est), t, 1.0 - truth)
        return _fail_below(_mirror(est), t, -truth)

    def power(self, est):
        t = _flip(est, self.threshold)
        return _violation_below(_mirror(est), t, 0.0 if est.kind == "rate" else -math.inf)


@dataclasses.dataclass(frozen=True)
class Within(Rule):
    """Holds when the measured value lies in `center ± band` (e.g. a control near chance)."""

    center: float
    band: float
    expected: float | None = None

    def holds(self, est):
        return abs(est.value - self.center) <= self.band

    def criterion(self, what):
        return f"{what} within {self.center:g} ± {self.band:g}"

    def fail_probability(self, est, truth):
        lo, hi = AtLeast(self.center - self.band), AtMost(self.center + self.band)
        return min(1.0, lo.fail_probability(est, truth) + hi.fail_probability(est, truth))

    def power(self, est):
        lo = AtLeast(self.center - self.band).power(est)
        hi = AtMost(self.center + self.band).power(est)
        return max(lo, hi)


@dataclasses.dataclass(frozen=True)
class Describe(Rule):
    """A descriptive measurement: no verdict, no power (the report says so)."""

    why: str = "descriptive measurement"

    def holds(self, est):
        return None

    def criterion(self, what):
        return f"none ({self.why})"

    def fail_probability(self, est, truth):
        return math.nan

    def power(self, est):
        return math.nan


# ----------------------------------------------------------------------------------- claims


def _fmt_delta(d: float) -> str:
    if math.isnan(d):
        return "unknown (one seed, no sampling model)"
    if math.isinf(d):
        return "none: no violation is detected with probability ≥ 0.9 at this size"
    if d == 0:
        return "any violation (exact quantity)"
    return f"a violation of {d:.3g} or more, with probability ≥ {POWER:g}"


class Claim:
    """A paper's statement next to what was measured, with a computed verdict and its power.

    `Claim(statement, source, metric, rule, *, what="", detail="", power=None)`:

    - `statement`, `source`: the claim in words and exactly where it comes from (a conjecture
      is cited as a conjecture).
    - `metric`: an [`Estimate`][], or a dict `label -> Estimate` (the rule must hold for each).
    - `rule`: a [`Rule`][] (the threshold, written once) or, for claims whose verdict is not a
      threshold on one number, a verdict computed by the caller (`True`/`False`/`None`) with
      `metric` the measured text and `detail` the criterion — then give `power` (a number, the
      smallest detected violation, or a sentence); without it the report says "not stated".
    - `what`: the measured quantity's name in the criterion (e.g. "mean ASR").
    - `detail`: extra measured text appended after the numbers.
    """

    def __init__(
        self,
        statement: str,
        source: str,
        metric=None,
        rule=None,
        detail: str = "",
        *,
        what: str = "",
        power: float | str | None = None,
        measured: str | None = None,
        holds: bool | None = None,
        criterion: str | None = None,
    ):
        if measured is not None:  # the first wave's keywords: a caller-computed verdict
            metric, rule, detail = measured, holds, criterion or ""
        self.statement = statement
        self.source = source
        self.what = what or "value"
        self._power_given = power
        if isinstance(rule, Rule):
            if isinstance(metric, Estimate):
                metric = {"": metric}
            if not isinstance(metric, Mapping) or not all(
                isinstance(e, Estimate) for e in metric.values()
            ):
                raise TypeError("`metric` must be an Estimate or a dict label -> Estimate.")
            if not metric:
                raise ValueError("`metric` is empty: a claim needs at least one measurement.")
            self.metric, self.rule, self.detail = dict(metric), rule, detail
            verdicts = [rule.holds(e) for e in metric.values()]
            self.holds = None if any(v is None for v in verdicts) else all(verdicts)
            every = f" for each of the {len(metric)} settings" if len(metric) > 1 else ""
            self.criterion = rule.criterion(self.what) + every
            parts = [f"{k}: {e.text()}" if k else e.text() for k, e in metric.items()]
            self.measured = "; ".join(parts) + (f" — {detail}" if detail else "")
        else:
            if rule not in (True, False, None):
                raise TypeError("`rule` must be a Rule, or a computed verdict True/False/None.")
            self.metric, self.rule = None, None
            self.holds, self.measured, self.criterion, self.detail = rule, str(metric), detail, ""

    @property
    def verdict(self) -> str:
        return {True: "holds", False: "does not hold", None: "undecided"}[self.holds]

    @property
    def power_value(self) -> float:
        """The smallest violation detected w.p. >= POWER (nan: unknown / descriptive)."""
        if isinstance(self._power_given, (int, float)):
            return float(self._power_given)
        if self.rule is None or isinstance(self.rule, Describe):
            return math.nan
        assert self.metric is not None  # set together with the rule
        return max(self.rule.power(e) for e in self.metric.values())

    @property
    def power(self) -> str:
        """The power of the test behind the verdict, in words."""
        if isinstance(self._power_given, str):
            return self._power_given
        if isinstance(self.rule, Describe) or (self.rule is None and self.holds is None):
            return "descriptive measurement, no verdict"
        if self.rule is None:
            return "not stated"
        return _fmt_delta(self.power_value)

    @property
    def false_failure(self) -> float | None:
        """P(does not hold) at the paper's predicted value (`expected=` on the rule)."""
        if self.rule is None or self.rule.expected is None:
            return None
        assert self.metric is not None  # set together with the rule
        ff = (self.rule.false_failure(e) for e in self.metric.values())
        return max(f for f in ff if f is not None)  # none is None: `expected` is given

    def to_dict(self) -> dict:
        ff = self.false_failure
        pv = self.power_value
        return {
            "statement": self.statement,
            "source": self.source,
            "measured": self.measured,
            "criterion": self.criterion,
            "holds": self.holds,
            "verdict": self.verdict,
            "power": self.power,
            "power_violation": None if math.isnan(pv) or math.isinf(pv) else pv,
            "false_failure": ff,
        }

    def __repr__(self):
        return f"Claim({self.statement!r}, {self.verdict}, power: {self.power})"
