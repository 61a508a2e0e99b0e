"""Two results files side by side, test by test, judged by the same gate as `no_regression`.

    test                  outcome          reqs                    …  gate
    test_spec[gpt-notes]  PASSED → FAILED  174 → 120 (−54, −31 %)  …  REGRESSED: requirements 174 → 120 (…)

The gate column says the verdict in the plugin's words (`REGRESSED: …`, `inconclusive: …`,
`no regression`); the sample advice of an inconclusive line uses the spread pooled over
every test of both files. A new run that errors where the old one did not is a regression
too: it has no numbers to compare, and a gate that let it through would pass a model nobody
could reach.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_specbench._record import Record
from pytest_specbench._text import align
from pytest_specbench.config.gate import GateTolerances
from pytest_specbench.report.family import session_family
from pytest_specbench.report.results import Results
from pytest_specbench.verdicts.checks import Check
from pytest_specbench.verdicts.regression import (
    GateResult,
    judge,
    newly,
    pooled_spreads,
    value,
)
from pytest_specbench.verdicts.significance import Verdict

__all__ = ["COLUMNS", "Comparison", "compare_results", "failed", "summary_line", "text_table"]

COLUMNS = (
    "test",
    "outcome",
    "feat",
    "reqs",
    "recall",
    "tokens",
    "cost $",
    "secs",
    "newly failing",
    "newly passing",
    "gate",
)


@dataclass(frozen=True, slots=True)
class Comparison:
    """One test in the old file, the new one, or both."""

    key: str
    old: Record | None
    new: Record | None
    verdict: Check | None
    """The gate's verdict; None when the test is in only one of the files."""
    result: GateResult | None = None
    """Every metric's judgment behind `verdict`; None for a run that errored or a test on one side."""

    @property
    def regressed(self) -> bool:
        return self.verdict is not None and not self.verdict.passed

    @property
    def inconclusive(self) -> bool:
        """The gate could not tell (it passes, unless `--fail-on-inconclusive`)."""
        return self.result is not None and self.result.verdict is Verdict.INCONCLUSIVE

    @property
    def test_id(self) -> str:
        record = self.new or self.old
        return record["test_id"] if record is not None else self.key

    def cells(self) -> list[str]:
        """The row of the text and Markdown tables."""
        old: Mapping[str, Any] = self.old or {}
        new: Mapping[str, Any] = self.new or {}
        both = self.old is not None and self.new is not None
        return [
            self.test_id,
            " → ".join(str(r.get("outcome", "?")).upper() for r in (self.old, self.new) if r is not None),
            _change(old, new, "features"),
            _change(old, new, "requirements"),
            _change(old, new, "feature_recall", relative=False),
            _change(old, new, "total_tokens"),
            _change(old, new, "cost_usd", relative=False),
            _change(old, new, "seconds", relative=False),
            ", ".join(newly(new, old, passing=False)) if both else "",
            ", ".join(newly(new, old, passing=True)) if both else "",
            self._gate(),
        ]

    def as_json(self) -> dict[str, Any]:
        row = dict(zip(COLUMNS, self.cells(), strict=True))
        verdict = _verdict_word(self)
        fields: Mapping[str, Any] = self.result.fields() if self.result else {}
        return {"key": self.key, **row, "regressed": self.regressed, "verdict": verdict, **fields}

    def _gate(self) -> str:
        if self.verdict is None:
            return "new test" if self.old is None else "not in the new results"
        if self.regressed:
            return f"REGRESSED: {self.verdict.detail}"
        if self.inconclusive:
            return f"inconclusive: {self.verdict.detail}"
        if self.result is not None and self.result.verdict is Verdict.NOT_COMPARED:
            return f"not compared: {self.verdict.detail}"
        return "no regression"


def compare_results(old: Results, new: Results, gate: Mapping[str, float]) -> list[Comparison]:
    """Every test of `new`, then those only in `old`; `gate` overrides each new record's own tolerances."""
    spreads = pooled_spreads([*old.values(), *new.values()])
    rows = _decided([_compared(key, old.get(key), record, gate, spreads) for key, record in new.items()])
    return rows + [Comparison(key, record, None, None) for key, record in old.items() if key not in new]


def _decided(rows: list[Comparison]) -> list[Comparison]:
    """Tests gated with `[gate] family = "session"` decided together over the file (BH), as the
    session decided them: each alone is only recorded, never a verdict."""
    gated = [{"nodeid": row.key, **row.result.fields()} for row in rows if row.result is not None]
    decided = session_family(gated)
    return [
        dataclasses.replace(row, verdict=decided[row.key].check(), result=decided[row.key])
        if row.key in decided
        else row
        for row in rows
    ]


def _compared(
    key: str,
    old: Record | None,
    new: Record,
    gate: Mapping[str, float],
    spreads: Mapping[str, float],
) -> Comparison:
    """One test of both files, judged as `no_regression` would judge it (an error where the
    baseline had none is a regression of its own)."""
    if old is None:
        return Comparison(key, old, new, None)
    if new.get("outcome") == "error" and old.get("outcome") != "error":
        error = Check("no_regression", False, f"error: {new.get('error') or 'the run did not finish'}")
        return Comparison(key, old, new, error)
    tolerances = GateTolerances.from_fields(new.get("gate")).over(gate)
    result = judge(new, old, tolerances, "baseline", spreads=spreads)
    return Comparison(key, old, new, result.check(), result)


def _verdict_word(row: Comparison) -> str | None:
    """The row's verdict as results.json and the plugin say it; None for a test on one side."""
    if row.verdict is None:
        return None
    if row.regressed:
        return str(Verdict.REGRESSED)
    return str(row.result.verdict) if row.result else str(Verdict.NO_REGRESSION)


def summary_line(rows: list[Comparison]) -> str:
    """The last line: how many tests regressed, and how many the gate could not tell."""
    regressed = sum(row.regressed for row in rows)
    inconclusive = sum(row.inconclusive for row in rows)
    line = (
        f"{regressed} of {len(rows)} tests regressed" if regressed else f"no regression in {len(rows)} tests"
    )
    return f"{line}, {inconclusive} inconclusive" if inconclusive else line


def failed(rows: list[Comparison], *, fail_on_inconclusive: bool = False) -> bool:
    """The exit status of `specbench compare`: 1 on a regression (or, when asked, an inconclusive test)."""
    return any(row.regressed or (fail_on_inconclusive and row.inconclusive) for row in rows)


def text_table(rows: list[Comparison]) -> list[str]:
    return align([list(COLUMNS)] + [row.cells() for row in rows])


def _change(old: Mapping[str, Any], new: Mapping[str, Any], field: str, *, relative: bool = True) -> str:
    before, after = value(old, field), value(new, field)
    if before is None or after is None:
        return _plain(after if after is not None else before)
    if before == after:
        return _plain(after)
    delta = f"{after - before:+.4g}".replace("-", "−")
    percent = f", {(after - before) / before * 100:+.0f} %".replace("-", "−") if relative and before else ""
    return f"{_plain(before)} → {_plain(after)} ({delta}{percent})"


def _plain(number: float | None) -> str:
    if number is None:
        return "-"
    return str(int(number)) if float(number).is_integer() else f"{number:.4g}"
