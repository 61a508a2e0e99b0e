"""The gate: a run against its record in an accepted baseline (a results.json), as `no_regression`.

Both sides are results.json records (plain dicts), so the plugin's check, the paired
`baseline_model` verdict and `specbench compare` apply the same rules. A run with repeats
is compared by its mean over samples (`metrics[<field>]["mean"]`); with repeats on both
sides a failing detail also says whether the change exceeds the samples' spread (the sum of
both standard deviations). The tolerances are fractions of the baseline's value (recall's
is a difference of recall, already a fraction); unset means not gated:

    no_regression: requirements 174 → 120 (−31 % > 10 %); min_features newly failing
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pytest_specbench.verdicts.checks import Check

__all__ = ["GATE_DEFAULTS", "METRICS", "Change", "Metric", "changes", "check_no_regression", "newly"]

GATE_DEFAULTS: dict[str, float | None] = {
    "max_requirements_drop": 0.10,
    "max_features_drop": 0.10,
    "max_recall_drop": 0.05,
    "max_tokens_increase": None,
    "max_cost_increase": None,
}
"""The `[gate]` tolerances as they are when neither `[gate]` nor the brief sets them."""

NAME = "no_regression"


@dataclass(frozen=True, slots=True)
class Metric:
    """One number the gate compares."""

    label: str
    field: str
    """The record field (and `metrics` key for runs with repeats)."""
    tolerance: str
    """The gate key that bounds it."""
    worse: Literal["drop", "increase"]
    relative: bool = True
    """Compared as a fraction of the baseline; False for recall, compared as a difference."""


METRICS = (
    Metric("requirements", "requirements", "max_requirements_drop", "drop"),
    Metric("features", "features", "max_features_drop", "drop"),
    Metric("recall", "feature_recall", "max_recall_drop", "drop", relative=False),
    Metric("tokens", "total_tokens", "max_tokens_increase", "increase"),
    Metric("cost", "cost_usd", "max_cost_increase", "increase"),
)


@dataclass(frozen=True, slots=True)
class Change:
    """One metric, baseline against new, and whether the gate lets it pass."""

    metric: Metric
    old: float
    new: float
    limit: float | None
    spread: float | None
    """Both sides' standard deviations added, when both ran with repeats."""

    @property
    def worsening(self) -> float:
        """How much worse the new value is (negative when better), as the gate measures it."""
        delta = self.old - self.new if self.metric.worse == "drop" else self.new - self.old
        if not self.metric.relative:
            return delta
        return delta / self.old if self.old else (float("inf") if delta > 0 else 0.0)

    @property
    def regressed(self) -> bool:
        return self.limit is not None and self.worsening > self.limit + 1e-9

    def __str__(self) -> str:
        head = f"{self.metric.label} {_number(self.old)} → {_number(self.new)}"
        if self.old == self.new:
            return head
        signed = -self.worsening if self.metric.worse == "drop" else self.worsening
        change = f"{signed:+.2f}" if not self.metric.relative else _percent(signed)
        bound = f" > {_bound(self.metric, self.limit)}" if self.regressed and self.limit is not None else ""
        return f"{head} ({change.replace('-', '−')}{bound}{self._spread()})"

    def _spread(self) -> str:
        if self.spread is None or not self.regressed:
            return ""
        beyond = abs(self.new - self.old) > self.spread
        return f", {'beyond' if beyond else 'within'} the samples' spread ±{_number(self.spread)}"


def value(record: Mapping[str, Any], field: str) -> float | None:
    """A record's number: the mean over samples with repeats, else the run's own."""
    metrics = record.get("metrics") or {}
    if field in metrics:
        return float(metrics[field]["mean"])
    if field == "total_tokens":
        tokens_in, tokens_out = value(record, "input_tokens"), value(record, "output_tokens")
        return None if tokens_in is None or tokens_out is None else tokens_in + tokens_out
    number = record.get(field)
    return float(number) if isinstance(number, int | float) and not isinstance(number, bool) else None


def changes(new: Mapping[str, Any], old: Mapping[str, Any], gate: Mapping[str, float | None]) -> list[Change]:
    """Every metric both records have, with the tolerance `gate` sets for it (None: not gated)."""
    found = []
    for metric in METRICS:
        before, after = value(old, metric.field), value(new, metric.field)
        if before is not None and after is not None:
            found.append(Change(metric, before, after, gate.get(metric.tolerance), _spread(new, old, metric)))
    return found


def newly(new: Mapping[str, Any], old: Mapping[str, Any], passing: bool) -> list[str]:
    """Checks that passed in `old` and fail in `new` (or, with `passing`, the other way round)."""
    before = {c["name"]: c["passed"] for c in old.get("checks", ())}
    return [
        c["name"]
        for c in new.get("checks", ())
        if c["name"] != NAME and before.get(c["name"]) is (not passing) and c["passed"] is passing
    ]


def check_no_regression(
    new: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    gate: Mapping[str, float | None],
    source: str | None,
) -> Check:
    """`no_regression` of `new` against its baseline record `old` from the file `source`.

    Without a baseline file (`source` None) or a record of this test in it, the check
    passes saying so, so that every record has the same check names.
    """
    if source is None:
        return Check(NAME, True, "not configured (no --specbench-baseline)")
    if old is None:
        return Check(NAME, True, f"no baseline record for this test in {source}")
    found = changes(new, old, {**GATE_DEFAULTS, **gate})
    worse = [str(c) for c in found if c.regressed] + [f"{n} newly failing" for n in newly(new, old, False)]
    if worse:
        return Check(NAME, False, "; ".join(worse))
    return Check(NAME, True, ", ".join(str(c) for c in found) + " (within the gate)")


def _spread(new: Mapping[str, Any], old: Mapping[str, Any], metric: Metric) -> float | None:
    sides = [(record.get("metrics") or {}).get(metric.field) for record in (old, new)]
    if not all(sides):
        return None
    return float(sum(side["stdev"] for side in sides if side))


def _number(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:.4g}"


def _percent(fraction: float) -> str:
    return "+∞ %" if fraction == float("inf") else f"{fraction * 100:+.0f} %"


def _bound(metric: Metric, limit: float) -> str:
    return f"{limit:.2f}" if not metric.relative else f"{limit * 100:.0f} %"
