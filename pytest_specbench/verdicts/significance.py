"""One metric or check, baseline against new: the pre-declared test, its verdict and its line.

Each side is its raw per-sample values (never the rounded means). The test is one-sided, in
the direction of "worse", and the gate's tolerance is the non-inferiority margin δ:

* counts, tokens, cost: Welch's t on log values (log1p when a value is 0), reported as the %
  change of geometric means with the 90 % two-sided interval (its worse-side bound is the
  one-sided 95 % bound); feature recall: Welch on the raw difference, in points;
* a check's passes k/N against k'/N': Fisher's exact test, one-sided;
* one sample on a side, or no spread on either (a replay): the tolerance rule alone.

Three verdicts: `regressed` (significant, after Holm within the test, and the estimate worse
than δ), `no regression` (the worse-side bound within δ) and `inconclusive` (anything else,
with the samples per side that would tell):

    requirements 174 → 120 (−31 %, 90 % CI −39 % … −23 %, one-sided p = 0.004, Welch/log, 3 v 3): regressed
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from statistics import fmean, stdev
from typing import Any, Literal

from pytest_specbench.verdicts.stats import fisher_less, fisher_less_min, samples_per_side, welch

__all__ = ["Judgment", "Method", "Verdict", "decide", "judge_check", "judge_metric", "line", "margin"]

LEVEL = 0.90
"""The two-sided interval reported: its worse-side bound is the one-sided 95 % bound."""
POWER = 0.80
"""The power the sample advice plans for."""


class Verdict(StrEnum):
    """What the gate says of one metric, or of a test."""

    REGRESSED = "regressed"
    """Significantly worse, and by more than the tolerance: `no_regression` fails."""
    NO_REGRESSION = "no regression"
    """The worse-side bound of the interval is within the tolerance."""
    INCONCLUSIVE = "inconclusive"
    """Neither: passes, with a SpecbenchInconclusiveWarning and the samples that would tell."""
    NOT_COMPARED = "not compared"
    """No baseline record, or the metric is missing on a side."""
    NOT_GATED = "not gated"
    """Reported, but no tolerance is set for it (tokens and cost by default)."""


class Method(StrEnum):
    """How a metric was compared; kept in every line and every record."""

    WELCH_LOG = "Welch/log"
    WELCH_LOG1P = "Welch/log1p"
    WELCH = "Welch"
    FISHER = "Fisher"
    PAIRED = "paired t"
    """Over briefs: `baseline_model`'s suite verdict (`report.suite`), with an exact sign-flip p."""
    TOLERANCE = "tolerance rule"
    NONE = "none"


Scale = Literal["relative", "points", "passes"]


@dataclass(frozen=True, slots=True)
class Judgment:
    """One metric or check of a test against its baseline record, as plain numbers."""

    label: str
    scale: Scale
    """`relative` (a % change), `points` (recall, a difference) or `passes` (a check's k/N)."""
    worse: Literal["drop", "increase"]
    method: Method
    n_old: int
    n_new: int
    old: float
    """The baseline's arithmetic mean (a check: its passes)."""
    new: float
    limit: float | None
    """The tolerance δ as configured (a fraction, or recall's difference); None: not gated."""
    estimate: float | None = None
    """The change: a fraction of geometric means, a difference of recall, a difference of pass rates."""
    low: float | None = None
    high: float | None = None
    p: float | None = None
    """One-sided p against "not worse"."""
    p_adjusted: float | None = None
    """The p the verdict used: Holm within the test (or a session's BH q)."""
    adjustment: str = ""
    """"Holm", "BH" or "" when nothing was adjusted."""
    worsening: float = 0.0
    """How much worse on the test's scale (log, points, rate); negative when better."""
    bound: float | None = None
    """The worse-side bound of the interval on the test's scale."""
    margin: float = math.inf
    """δ on the test's scale."""
    spread: float | None = None
    """The pooled standard deviation on the test's scale (for the sample advice)."""
    verdict: Verdict = Verdict.NOT_GATED
    alpha: float = 0.05
    """The level the verdict was decided at (the sample advice plans for it too)."""

    @property
    def tested(self) -> bool:
        """Whether a p-value takes part in the test's family (Holm) or the session's (BH)."""
        return self.p is not None and self.method is not Method.TOLERANCE

    @property
    def samples_needed(self) -> int | None:
        """Samples per side that would detect a δ worsening at 80 % power, at the family's α."""
        if self.spread is None or self.limit is None or self.scale == "passes":
            return None
        return samples_per_side(self.spread, self.margin, self.alpha, POWER)

    def __str__(self) -> str:
        return line(self)

    def fields(self) -> dict[str, Any]:
        """The record's plain data for this metric."""
        return {
            "metric": self.label,
            "verdict": str(self.verdict),
            "method": str(self.method),
            "n": [self.n_old, self.n_new],
            "old": self.old,
            "new": self.new,
            "estimate": _rounded(self.estimate),
            "interval": None if self.low is None else [_rounded(self.low), _rounded(self.high)],
            "scale": self.scale,
            "p": _rounded(self.p),
            "p_adjusted": _rounded(self.p_adjusted),
            "adjustment": self.adjustment or None,
            "limit": self.limit,
            "samples_needed": self.samples_needed if self.verdict is Verdict.INCONCLUSIVE else None,
            # On the test's scale, so that a session's family can decide again (`from_fields`).
            "worse": self.worse,
            "worsening": _rounded(self.worsening),
            "bound": _rounded(self.bound),
            "margin": _rounded(self.margin),
            "spread": _rounded(self.spread),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Judgment:
        """The judgment a record's `fields()` kept (numbers rounded to 6 decimals)."""
        low, high = fields["interval"] or (None, None)
        n_old, n_new = fields["n"]
        margin = fields.get("margin")
        return cls(
            label=fields["metric"],
            scale=fields["scale"],
            worse=fields["worse"],
            method=Method(fields["method"]),
            n_old=n_old,
            n_new=n_new,
            old=fields["old"],
            new=fields["new"],
            limit=fields["limit"],
            estimate=fields["estimate"],
            low=low,
            high=high,
            p=fields["p"],
            worsening=fields.get("worsening") or 0.0,
            bound=fields.get("bound"),
            margin=math.inf if margin is None else margin,
            spread=fields.get("spread"),
            verdict=Verdict(fields["verdict"]),
        )


def judge_metric(
    label: str,
    scale: Literal["relative", "points"],
    worse: Literal["drop", "increase"],
    old: Sequence[float],
    new: Sequence[float],
    limit: float | None,
) -> Judgment:
    """The measurement of one metric from each side's per-sample values; `decide` gives its verdict."""
    base = Judgment(label, scale, worse, Method.NONE, len(old), len(new), fmean(old), fmean(new), limit)
    if limit is None:
        return dataclasses.replace(base, estimate=_plain_change(base), verdict=Verdict.NOT_GATED)
    if len(old) < 2 or len(new) < 2 or (_flat(old) and _flat(new)):
        return _tolerance(base)
    method, transform = _transform(scale, [*old, *new])
    result = welch([transform(v) for v in old], [transform(v) for v in new])
    sign = -1.0 if worse == "drop" else 1.0
    low, high = result.interval(LEVEL)
    worse_bound = -low if worse == "drop" else high
    back = _expm1 if scale == "relative" else float
    return dataclasses.replace(
        base,
        method=method,
        estimate=back(result.difference),
        low=back(low),
        high=back(high),
        p=result.p_less() if worse == "drop" else result.p_greater(),
        worsening=sign * result.difference,
        bound=worse_bound,
        margin=margin(scale, worse, limit),
        spread=math.sqrt((_var(old, transform) + _var(new, transform)) / 2.0),
    )


def _expm1(x: float) -> float:
    """e^x − 1, infinite where it overflows (a count of 1e300 is absurd, not a crash)."""
    try:
        return math.expm1(x)
    except OverflowError:
        return math.inf


def judge_check(name: str, passes_old: tuple[int, int], passes_new: tuple[int, int], newly: bool) -> Judgment:
    """A check's passes (k, N) on each side; `newly` says whether it passed before and fails now
    (the tolerance rule, for one sample on a side or the same outcome in every sample of both)."""
    (k_old, n_old), (k_new, n_new) = passes_old, passes_new
    base = Judgment(name, "passes", "drop", Method.TOLERANCE, n_old, n_new, k_old, k_new, 0.0)
    rate_old, rate_new = k_old / n_old, k_new / n_new
    change = dataclasses.replace(base, estimate=rate_new - rate_old, worsening=rate_old - rate_new)
    unanimous = k_old in (0, n_old) and k_new in (0, n_new)
    if n_old < 2 or n_new < 2 or unanimous:
        return dataclasses.replace(change, verdict=Verdict.REGRESSED if newly else Verdict.NO_REGRESSION)
    p = fisher_less(k_new, n_new, k_old, n_old)
    return dataclasses.replace(change, method=Method.FISHER, p=p, margin=0.0)


def screened_out(judgment: Judgment, alpha: float) -> bool:
    """A check whose margins cannot give p ≤ α: it could never regress, so it is left out of the
    family (Tarone's screen for discrete tests), where it would only cost the others power."""
    if judgment.method is not Method.FISHER:
        return False
    passes = int(judgment.old + judgment.new)
    return fisher_less_min(passes, judgment.n_new, judgment.n_old) > alpha


def decide(judgment: Judgment, alpha: float, p_adjusted: float | None, adjustment: str) -> Judgment:
    """The verdict of a measured metric, given the p its family adjusted it to."""
    if judgment.method in (Method.TOLERANCE, Method.NONE):
        return judgment
    used = judgment.p if p_adjusted is None else p_adjusted
    significant = used is not None and used <= alpha
    if judgment.method is Method.FISHER:
        verdict = (
            Verdict.REGRESSED
            if significant
            else Verdict.NO_REGRESSION
            if judgment.worsening <= 0
            else Verdict.INCONCLUSIVE
        )
    elif significant and judgment.worsening > judgment.margin:
        verdict = Verdict.REGRESSED
    elif judgment.bound is not None and judgment.bound <= judgment.margin:
        verdict = Verdict.NO_REGRESSION
    else:
        verdict = Verdict.INCONCLUSIVE
    return dataclasses.replace(judgment, p_adjusted=used, adjustment=adjustment, verdict=verdict, alpha=alpha)


# --- the line ----------------------------------------------------------------------------------


def line(j: Judgment) -> str:
    """The judgment as the run's line, the table and `specbench compare` show it."""
    if j.scale == "passes":
        return _check_line(j)
    head = f"{j.label} {_number(j.old)} → {_number(j.new)}"
    n = f"{j.n_old} v {j.n_new}"
    if j.verdict is Verdict.NOT_GATED:
        return f"{head} ({_change(j, j.estimate)}): not gated"
    if j.method is Method.TOLERANCE:
        beyond = f" > {_limit(j)}" if j.verdict is Verdict.REGRESSED else ""
        return f"{head} ({_change(j, j.estimate)}{beyond}, tolerance rule, {n}): {j.verdict}"
    interval = f"{_change(j, j.estimate)}, 90 % CI {_change(j, j.low)} … {_change(j, j.high)}"
    if j.verdict is Verdict.REGRESSED:
        return f"{head} ({interval}, one-sided {_p(j)}, {j.method}, {n}): regressed"
    if j.verdict is Verdict.NO_REGRESSION:
        return f"{head} ({interval}, {j.method}, {n}): no regression"
    return f"{head} ({interval}, {_p(j)}, {n}): inconclusive — {advice(j)}"


def advice(j: Judgment) -> str:
    """How many samples per side would tell, from the spread this judgment saw."""
    spread = f"CV {_cv(j.spread or 0.0)}" if j.scale == "relative" else f"SD {_points(j.spread or 0.0)}"
    needed = j.samples_needed
    count = f"≈ {needed} samples" if needed is not None else "more than 100,000 samples"
    return f"{count} per side would detect {_effect(j)} at 80 % power ({spread})"


def _check_line(j: Judgment) -> str:
    n = f"{j.n_old} v {j.n_new}"
    if j.method is Method.TOLERANCE:
        change = "newly failing" if j.verdict is Verdict.REGRESSED else "not newly failing"
        return f"{j.label} {change} (tolerance rule, {n}): {j.verdict}"
    head = f"{j.label} passed {int(j.old)}/{j.n_old} → {int(j.new)}/{j.n_new}"
    if j.verdict is Verdict.REGRESSED:
        return f"{head} (one-sided {_p(j)}, Fisher, {n}): regressed"
    if j.verdict is Verdict.NO_REGRESSION:
        return f"{head} (Fisher, {n}): no regression"
    return f"{head} ({_p(j)}, {n}): inconclusive — Fisher's exact test cannot tell at these counts"


def _tolerance(base: Judgment) -> Judgment:
    judged = dataclasses.replace(base, method=Method.TOLERANCE, estimate=_plain_change(base))
    worsening = _plain_worsening(judged)
    regressed = base.limit is not None and worsening > base.limit + 1e-9
    return dataclasses.replace(
        judged, worsening=worsening, verdict=Verdict.REGRESSED if regressed else Verdict.NO_REGRESSION
    )


def _plain_change(j: Judgment) -> float:
    """new against old on the means: a fraction for relative metrics, a difference for recall."""
    if j.scale != "relative":
        return j.new - j.old
    if j.old:
        return (j.new - j.old) / j.old
    return math.inf if j.new > 0 else 0.0


def _plain_worsening(j: Judgment) -> float:
    change = j.estimate or 0.0
    return -change if j.worse == "drop" else change


def _transform(scale: str, values: list[float]) -> tuple[Method, Any]:
    if scale == "points":
        return Method.WELCH, float
    if all(v > 0 for v in values):
        return Method.WELCH_LOG, math.log
    return Method.WELCH_LOG1P, math.log1p  # a count of 0 has no log


def margin(scale: str, worse: str, limit: float) -> float:
    """δ on the test's scale: −log(1 − δ) for a drop, log(1 + δ) for an increase, δ itself in points."""
    if scale == "points":
        return limit
    if worse == "increase":
        return math.log1p(limit)
    return -math.log1p(-limit) if limit < 1 else math.inf


def _var(values: Sequence[float], transform: Any) -> float:
    return float(stdev([transform(v) for v in values]) ** 2)


def _flat(values: Sequence[float]) -> bool:
    return max(values) == min(values)


def _number(number: float) -> str:
    if float(number).is_integer():
        return str(int(number))
    return f"{number:.0f}" if abs(number) >= 100 else f"{number:.3g}"


def _change(j: Judgment, value: float | None) -> str:
    if value is None:
        return "?"
    return _percent(value) if j.scale == "relative" else _signed_points(value)


def _percent(fraction: float) -> str:
    if math.isinf(fraction):
        return "+∞ %"
    return f"{round(fraction * 100):+d} %".replace("-", "−")


def _signed_points(difference: float) -> str:
    return f"{difference * 100:+.0f} pts".replace("-", "−")


def _points(difference: float) -> str:
    return f"{difference * 100:.0f} pts"


def _limit(j: Judgment) -> str:
    assert j.limit is not None
    return f"{j.limit * 100:.0f} %" if j.scale == "relative" else _points(j.limit)


def _effect(j: Judgment) -> str:
    assert j.limit is not None
    size = f"{j.limit * 100:.0f} %" if j.scale == "relative" else f"{j.limit * 100:.0f}-point"
    return f"a {size} {j.worse}"


def _cv(sd: float) -> str:
    """The coefficient of variation of a log-normal with this SD of logs."""
    return f"{math.sqrt(math.expm1(sd * sd)) * 100:.0f} %"


def _p(j: Judgment) -> str:
    value = j.p_adjusted if j.p_adjusted is not None else j.p
    name = {"Holm": "Holm p", "BH": "BH q"}.get(j.adjustment, "p")
    if value is None:
        return f"{name} = ?"
    return f"{name} < 0.001" if value < 0.001 else f"{name} = {value:.2g}"


def _rounded(value: float | None) -> float | None:
    return None if value is None or math.isinf(value) else round(value, 6)
