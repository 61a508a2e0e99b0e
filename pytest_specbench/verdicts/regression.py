"""The gate: a run against its record in an accepted baseline (a results.json), as `no_regression`.

Both sides are results.json records (plain dicts), so the plugin's check, the paired
`baseline_model` verdict and `specbench compare` apply the same rules. Each metric is
compared from each side's raw per-sample values (`per_sample`, or the run's own number
without repeats) by the pre-declared one-sided test of `significance`, with the `[gate]`
tolerance as the margin; the p-values of one test are adjusted together (Holm), at
`[gate] alpha` (0.05 by default). A metric missing on a side, or a test without a baseline
record, is not compared, never an error. The test's verdict is the worst of its metrics':

    no_regression: requirements 174 → 120 (−31 %, 90 % CI −39 % … −23 %, one-sided p = 0.004,
                   Welch/log, 3 v 3): regressed

`regressed` fails the check; `inconclusive` passes it, flagged (`Check.inconclusive`) so that
`warn_inconclusive` can raise a `SpecbenchInconclusiveWarning` where the test judges the run.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeGuard

from pytest_specbench._record import RegressionRecord
from pytest_specbench.config.gate import ALPHA, TOLERANCES, GateTolerances
from pytest_specbench.errors import SpecbenchInconclusiveWarning
from pytest_specbench.verdicts.checks import Check
from pytest_specbench.verdicts.significance import (
    Judgment,
    Verdict,
    decide,
    judge_check,
    judge_metric,
    screened_out,
)
from pytest_specbench.verdicts.stats import holm

__all__ = [
    "ALPHA",
    "GATE_DEFAULTS",
    "METRICS",
    "GateResult",
    "Metric",
    "check_no_regression",
    "judge",
    "newly",
    "pooled_spread_counts",
    "pooled_spreads",
    "samples",
    "value",
    "warn_inconclusive",
]

GATE_DEFAULTS: dict[str, float | None] = {key: GateTolerances().limit(key) for key in TOLERANCES}
"""The `[gate]` tolerances as they are when neither `[gate]` nor the brief sets them (`GateTolerances`)."""

NAME = "no_regression"
NO_CHANGE = Verdict.NO_REGRESSION
NOT_CONFIGURED = "not configured (no --specbench-baseline)"
SESSION = "session"
FIELD: Final = "regression"
"""The record field that keeps the gate's numbers (`GateResult.fields`)."""


@dataclass(frozen=True, slots=True)
class Metric:
    """One number the gate compares."""

    label: str
    field: str
    """The record field (in each `per_sample` entry too)."""
    tolerance: str
    """The `GateTolerances` field that bounds it."""
    worse: Literal["drop", "increase"]
    relative: bool = True
    """Compared as a % change of geometric means; False for recall, compared as a difference in points."""


METRICS = (
    Metric("requirements", "requirements", "max_requirements_drop", "drop"),
    Metric("features", "features", "max_features_drop", "drop"),
    Metric("recall", "feature_recall", "max_recall_drop", "drop", relative=False),
    Metric("tokens", "total_tokens", "max_tokens_increase", "increase"),
    Metric("cost", "cost_usd", "max_cost_increase", "increase"),
)


@dataclass(frozen=True, slots=True)
class GateResult:
    """A test's verdict against its baseline record, with every metric's and check's judgment."""

    verdict: Verdict
    judgments: tuple[Judgment, ...] = ()
    reason: str = ""
    """Why nothing was compared (no baseline file, no record of this test in it)."""
    alpha: float = ALPHA
    family: str = "test"
    """`[gate] family`: `test` (Holm within it) or `session` (BH over the session, on the controller)."""
    decided: bool = True
    """False for a test of a `session` family before the controller decided it (`report.family`)."""

    def check(self) -> Check:
        """The `no_regression` check: fails on `regressed`, passes flagged on `inconclusive`."""
        if self.verdict is Verdict.NOT_COMPARED:
            return Check(NAME, True, self.reason, applies=False)
        if not self.decided:
            lines = "; ".join(str(j) for j in self.judgments if j.scale != "passes")
            return Check(NAME, True, f"decided at session end ([gate] family = session): {lines}")
        if self.verdict is Verdict.REGRESSED:
            worse = [str(j) for j in self.judgments if j.verdict is Verdict.REGRESSED]
            return Check(NAME, False, "; ".join(worse))
        # An unchanged check would only lengthen the line; the record keeps every judgment.
        shown = [str(j) for j in self.judgments if j.scale != "passes" or j.verdict is not NO_CHANGE]
        inconclusive = self.verdict is Verdict.INCONCLUSIVE
        return Check(NAME, True, "; ".join(shown) or "nothing to compare", inconclusive=inconclusive)

    def fields(self) -> RegressionRecord:
        """`{"regression": {...}}`, the plain data a results.json record keeps of the verdict."""
        return {
            FIELD: {
                "verdict": str(self.verdict),
                "alpha": self.alpha,
                "family": self.family,
                "decided": self.decided,
                "reason": self.reason or None,
                "metrics": [j.fields() for j in self.judgments],
            }
        }


def value(record: Mapping[str, Any], field: str) -> float | None:
    """A record's number: the mean over samples with repeats, else the run's own; None when missing."""
    metrics = record.get("metrics")
    spread = metrics.get(field) if isinstance(metrics, Mapping) else None
    if isinstance(spread, Mapping) and _is_number(spread.get("mean")):
        return float(spread["mean"])
    return _number(record, field)


def samples(record: Mapping[str, Any], field: str) -> list[float] | None:
    """A record's raw per-sample values of `field` (one without repeats); None when any is missing."""
    per_sample = record.get("per_sample")
    if isinstance(per_sample, list) and per_sample:
        values = [_number(s, field) if isinstance(s, Mapping) else None for s in per_sample]
        return None if any(v is None for v in values) else [v for v in values if v is not None]
    number = _number(record, field)
    return None if number is None else [number]


def judge(
    new: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    gate: GateTolerances,
    source: str | None,
    *,
    spreads: Mapping[str, float] | None = None,
) -> GateResult:
    """The verdict of `new` against its baseline record `old` from the file `source`.

    `gate` holds the tolerances, `alpha` and `family`. Without a baseline file (`source` None)
    or a record of this test in it, nothing is compared. `spreads` (metric label → SD on the
    test's scale, from `pooled_spreads` over the suite) replaces this test's own spread in the
    sample advice.
    """
    alpha = gate.level
    if source is None or old is None:
        reason = f"no baseline record for this test in {source}" if source else NOT_CONFIGURED
        return GateResult(Verdict.NOT_COMPARED, reason=reason, alpha=alpha)
    measured = [*_metrics(new, old, gate), *_checks(new, old)]
    if spreads:
        measured = [_with_spread(j, spreads.get(j.label)) for j in measured]
    judged = adjust_within_test(measured, alpha)
    family = SESSION if gate.session else "test"
    return GateResult(overall(judged), tuple(judged), alpha=alpha, family=family, decided=not gate.session)


def pooled_spreads(records: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Per metric label, the standard deviation on its test's scale (log, log1p or points) pooled
    over every record with two samples or more: sqrt(Σ (n − 1) s² / Σ (n − 1))."""
    return {label: sd for label, (sd, _) in pooled_spread_counts(records).items()}


def pooled_spread_counts(records: Iterable[Mapping[str, Any]]) -> dict[str, tuple[float, int]]:
    """`pooled_spreads`, each with the number of records it pooled."""
    sums: dict[str, list[float]] = {}
    for record in records:
        for metric in METRICS:
            values = samples(record, metric.field)
            if values is None or len(values) < 2:
                continue
            transformed = _on_scale(values, metric.relative)
            mean = sum(transformed) / len(transformed)
            total = sums.setdefault(metric.label, [0.0, 0.0, 0.0])
            total[0] += sum((v - mean) ** 2 for v in transformed)
            total[1] += len(values) - 1
            total[2] += 1
    return {label: (math.sqrt(squares / df), int(count)) for label, (squares, df, count) in sums.items()}


def check_no_regression(
    new: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    gate: GateTolerances,
    source: str | None,
) -> Check:
    """`no_regression` of `new` against its baseline record `old` from the file `source` (see `judge`).

    Without a baseline file or a record of this test in it, the check passes saying so, so
    that every record has the same check names.
    """
    return judge(new, old, gate, source).check()


def adjust_within_test(measured: Sequence[Judgment], alpha: float) -> list[Judgment]:
    """Each judgment decided at `alpha`, the p-values of the test's family adjusted by Holm.

    The family is every tested metric and every check whose margins could reach p ≤ α.
    """
    family = [i for i, j in enumerate(measured) if j.tested and not screened_out(j, alpha)]
    adjusted = dict(zip(family, holm([measured[i].p or 0.0 for i in family]), strict=True))
    label = "Holm" if len(family) > 1 else ""
    return [decide(j, alpha, adjusted.get(i), label if i in adjusted else "") for i, j in enumerate(measured)]


def overall(judgments: Iterable[Judgment]) -> Verdict:
    """A test's verdict: regressed if any judgment is, else inconclusive if any is, else no regression."""
    verdicts = {j.verdict for j in judgments}
    for verdict in (Verdict.REGRESSED, Verdict.INCONCLUSIVE):
        if verdict in verdicts:
            return verdict
    return Verdict.NO_REGRESSION


def newly(new: Mapping[str, Any], old: Mapping[str, Any], passing: bool) -> list[str]:
    """Checks that passed in `old` and fail in `new` (or, with `passing`, the other way round)."""
    before = {c.get("name"): c.get("passed") for c in _check_list(old)}
    return [
        str(c["name"])
        for c in _check_list(new)
        if c.get("name") != NAME and before.get(c.get("name")) is (not passing) and c.get("passed") is passing
    ]


def warn_inconclusive(checks: Iterable[Check], test_id: str) -> None:
    """Warn once for an inconclusive `no_regression`: call it where the test judges the run
    (`verify()`), so that `-W error::…` or `filterwarnings = error` fails that test."""
    for check in checks:
        if check.name == NAME and check.inconclusive:
            message = f"{test_id}: no_regression is inconclusive: {check.detail}"
            warnings.warn(SpecbenchInconclusiveWarning(message), stacklevel=3)


def _metrics(new: Mapping[str, Any], old: Mapping[str, Any], gate: GateTolerances) -> list[Judgment]:
    found = []
    for metric in METRICS:
        before, after = samples(old, metric.field), samples(new, metric.field)
        if before is None or after is None:
            continue  # missing on a side: not compared
        scale: Literal["relative", "points"] = "relative" if metric.relative else "points"
        found.append(
            judge_metric(metric.label, scale, metric.worse, before, after, gate.limit(metric.tolerance))
        )
    return found


def _checks(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Judgment]:
    failing = set(newly(new, old, passing=False))
    found = []
    for check in _check_list(new):
        name = check.get("name")
        if name == NAME or not isinstance(name, str):
            continue
        before, after = _passes(old, name), _passes(new, name)
        if before is not None and after is not None:
            found.append(judge_check(name, before, after, name in failing))
    return found


def _passes(record: Mapping[str, Any], name: str) -> tuple[int, int] | None:
    """(samples that passed the check, samples) of a record; None when a sample lacks it."""
    per_sample = record.get("per_sample")
    sides = per_sample if isinstance(per_sample, list) and per_sample else [record]
    outcomes = []
    for side in sides:
        found = [c.get("passed") for c in _check_list(side) if c.get("name") == name]
        if not found or not isinstance(found[0], bool):
            return None
        outcomes.append(found[0])
    return sum(outcomes), len(outcomes)


def _with_spread(judgment: Judgment, spread: float | None) -> Judgment:
    if spread is None or judgment.spread is None:
        return judgment
    return dataclasses.replace(judgment, spread=spread)


def _on_scale(values: Sequence[float], relative: bool) -> list[float]:
    """The values as the test sees them: logs (log1p when one is 0) for relative metrics."""
    if not relative:
        return list(values)
    transform = math.log if all(v > 0 for v in values) else math.log1p
    return [transform(v) for v in values]


def _check_list(record: Any) -> list[Mapping[str, Any]]:
    checks = record.get("checks") if isinstance(record, Mapping) else None
    return [c for c in checks if isinstance(c, Mapping)] if isinstance(checks, list) else []


def _number(record: Mapping[str, Any], field: str) -> float | None:
    number = record.get(field)
    if _is_number(number):
        return float(number)
    if field == "total_tokens":
        tokens_in, tokens_out = _number(record, "input_tokens"), _number(record, "output_tokens")
        return None if tokens_in is None or tokens_out is None else tokens_in + tokens_out
    return None


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value
