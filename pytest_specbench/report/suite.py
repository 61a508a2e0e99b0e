"""`baseline_model`, suite level: is the candidate at least as good as the incumbent over the briefs?

Each pair of `paired.paired_verdicts` is one brief (× scaffold) both models ran. Per metric,
each pair gives one difference of means on the gate's scale (logs for counts, tokens and
cost; points for recall); the suite's verdict is a paired t over those differences, one-sided
in the direction of worse, with the exact sign-flip p (all 2^n assignments) beside it, by
the three verdicts of `no_regression` with the candidate's tolerances as δ (Holm over the
metrics). Briefs buy more than repeats here: repeats narrow one brief's mean, while the
question is the model's effect across the briefs a team cares about, whose spread only more
briefs can measure. Below 3 briefs: "too few briefs".

    challenger vs incumbent: requirements −31 % over 5 briefs (90 % CI −40 % … −20 %,
        one-sided p = 0.002, sign-flip p = 0.031, paired t/log): regressed
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pytest_specbench.config.gate import GateTolerances
from pytest_specbench.report.paired import Paired
from pytest_specbench.verdicts.regression import METRICS, Metric, overall, samples
from pytest_specbench.verdicts.significance import Judgment, Method, Verdict, decide, margin
from pytest_specbench.verdicts.stats import holm, paired_t, sign_flip_p

__all__ = ["MIN_BRIEFS", "SuiteVerdict", "render_suite", "suite_verdicts"]

MIN_BRIEFS = 3
"""Fewer pairs than this say "too few briefs" rather than guess."""


@dataclass(frozen=True, slots=True)
class SuiteVerdict:
    """A candidate against its incumbent over every brief both ran."""

    candidate: str
    incumbent: str
    briefs: int
    verdict: Verdict
    judgments: tuple[Judgment, ...] = ()
    sign_flip: Mapping[str, float] = dataclasses.field(default_factory=dict)
    """Metric label → the exact sign-flip p of its differences."""

    @property
    def name(self) -> str:
        """`candidate vs incumbent`, how the step summary names the comparison."""
        return f"{self.candidate} vs {self.incumbent}"

    @property
    def regressed(self) -> bool:
        """The candidate is worse over the briefs: the session fails."""
        return self.verdict is Verdict.REGRESSED

    def covers(self, record: Mapping[str, Any]) -> bool:
        """Whether `record` is one of the candidate's runs this verdict was drawn from."""
        return str(record.get("model")) == self.candidate

    def deciding(self) -> list[str]:
        """The lines of the metrics that gave the verdict (the regressed ones of a regression), each
        without the `candidate vs incumbent` head: what a summary lists under the comparison."""
        flips = self.sign_flip
        return [
            _line(j, self.briefs, flips.get(j.label)) for j in self.judgments if j.verdict is self.verdict
        ]

    def lines(self) -> list[str]:
        head = f"{self.candidate} vs {self.incumbent}"
        if self.briefs < MIN_BRIEFS:
            return [f"{head}: too few briefs ({self.briefs} < {MIN_BRIEFS}): not compared"]
        return [f"{head}: {_line(j, self.briefs, self.sign_flip.get(j.label))}" for j in self.judgments]

    def fields(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "incumbent": self.incumbent,
            "briefs": self.briefs,
            "verdict": str(self.verdict),
            "metrics": [{**j.fields(), "sign_flip_p": self.sign_flip.get(j.label)} for j in self.judgments],
        }


def render_suite(verdicts: Sequence[SuiteVerdict]) -> list[str]:
    """The terminal section: each comparison's lines, then what failed the session, if anything."""
    lines = [line for verdict in verdicts for line in verdict.lines()]
    regressed = [v.name for v in verdicts if v.regressed]
    if regressed:
        return [*lines, f"FAIL: regressed over the briefs: {', '.join(regressed)}"]
    return lines


def suite_verdicts(pairs: Sequence[Paired], alpha: float | None = None) -> list[SuiteVerdict]:
    """One suite verdict per (candidate, incumbent) over their pairs that both have numbers, at
    `alpha` (by default the candidate's `[gate] alpha`, else 0.05)."""
    groups: dict[tuple[str, str], list[Paired]] = {}
    for pair in pairs:
        if pair.incumbent is not None:
            key = (str(pair.candidate.get("model")), str(pair.incumbent.get("model")))
            groups.setdefault(key, []).append(pair)
    return [_suite(candidate, incumbent, group, alpha) for (candidate, incumbent), group in groups.items()]


def _suite(candidate: str, incumbent: str, pairs: list[Paired], alpha: float | None) -> SuiteVerdict:
    pairs = [p for p in pairs if _has_numbers(p)]
    if len(pairs) < MIN_BRIEFS:
        return SuiteVerdict(candidate, incumbent, len(pairs), Verdict.NOT_COMPARED)
    gate = GateTolerances.from_fields(pairs[0].candidate.get("gate"))
    alpha = gate.level if alpha is None else alpha
    measured, flips = [], {}
    for metric in METRICS:
        differences = _differences(metric, pairs)
        limit = gate.limit(metric.tolerance)
        if differences is None or len(differences) < MIN_BRIEFS or limit is None:
            continue
        measured.append(_judge(metric, differences, limit))
        sign = -1.0 if metric.worse == "drop" else 1.0  # the sign-flip p, too, looks toward worse
        flips[metric.label] = sign_flip_p([-sign * d for d in differences])
    tested = [i for i, j in enumerate(measured) if j.tested]
    adjusted = dict(zip(tested, holm([measured[i].p or 0.0 for i in tested]), strict=True))
    label = "Holm" if len(tested) > 1 else ""
    decided = [decide(j, alpha, adjusted.get(i), label) for i, j in enumerate(measured)]
    return SuiteVerdict(candidate, incumbent, len(pairs), overall(decided), tuple(decided), flips)


def _has_numbers(pair: Paired) -> bool:
    """Both runs finished: a pair with an error or a skip on a side says nothing about the models."""
    sides = (pair.candidate, pair.incumbent)
    return all(side is not None and side.get("outcome") not in ("error", "skipped") for side in sides)


def _differences(metric: Metric, pairs: list[Paired]) -> list[float] | None:
    """Per pair, the candidate's mean minus the incumbent's on the test's scale; None if one lacks it."""
    found = []
    for pair in pairs:
        assert pair.incumbent is not None
        new, old = samples(pair.candidate, metric.field), samples(pair.incumbent, metric.field)
        if new is None or old is None:
            return None
        transform = _transform(metric, [*new, *old])
        found.append(_mean([transform(v) for v in new]) - _mean([transform(v) for v in old]))
    return found


def _judge(metric: Metric, differences: list[float], limit: float) -> Judgment:
    scale: Literal["relative", "points"] = "relative" if metric.relative else "points"
    n = len(differences)
    base = Judgment(metric.label, scale, metric.worse, Method.PAIRED, n, n, 0.0, 0.0, limit)
    back = math.expm1 if metric.relative else float
    mean = _mean(differences)
    sign = -1.0 if metric.worse == "drop" else 1.0
    if max(differences) == min(differences):  # no spread: the tolerance rule on the mean
        worse = sign * mean > margin(scale, metric.worse, limit) + 1e-9
        verdict = Verdict.REGRESSED if worse else Verdict.NO_REGRESSION
        return dataclasses.replace(base, method=Method.TOLERANCE, estimate=back(mean), verdict=verdict)
    result = paired_t(differences)
    low, high = result.interval()
    return dataclasses.replace(
        base,
        estimate=back(result.difference),
        low=back(low),
        high=back(high),
        p=result.p_less() if metric.worse == "drop" else result.p_greater(),
        worsening=sign * result.difference,
        bound=-low if metric.worse == "drop" else high,
        margin=margin(scale, metric.worse, limit),
    )


def _line(j: Judgment, briefs: int, flip: float | None) -> str:
    def change(value: float | None) -> str:
        if value is None:
            return "?"
        text = f"{round(value * 100):+d} %" if j.scale == "relative" else f"{value * 100:+.0f} pts"
        return text.replace("-", "−")

    head = f"{j.label} {change(j.estimate)} over {briefs} briefs"
    if j.method is Method.TOLERANCE:
        return f"{head} (no spread, tolerance rule): {j.verdict}"
    p = j.p_adjusted if j.p_adjusted is not None else j.p
    p_text = "< 0.001" if p is not None and p < 0.001 else f"= {p:.2g}"
    name = "Holm p" if j.adjustment == "Holm" else "p"
    flips = f", sign-flip p = {flip:.2g}" if flip is not None else ""
    method = "paired t/log" if j.scale == "relative" else "paired t"
    interval = f"90 % CI {change(j.low)} … {change(j.high)}"
    return f"{head} ({interval}, one-sided {name} {p_text}{flips}, {method}): {j.verdict}"


def _transform(metric: Metric, values: list[float]) -> Any:
    if not metric.relative:
        return float
    return math.log if all(v > 0 for v in values) else math.log1p


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)
