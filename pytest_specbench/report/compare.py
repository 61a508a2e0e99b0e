"""Two results files side by side, test by test, judged by the same gate as `no_regression`.

    test                  outcome          reqs                    …  gate
    test_spec[gpt-notes]  PASSED → FAILED  174 → 120 (−54, −31 %)  …  REGRESSED: requirements 174 → 120 (…)

A new run that errors where the old one did not is a regression too: it has no numbers to
compare, and a gate that let it through would pass a model nobody could reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_specbench._text import align
from pytest_specbench.report.results import Results
from pytest_specbench.verdicts.checks import Check
from pytest_specbench.verdicts.regression import GATE_DEFAULTS, check_no_regression, newly, value

__all__ = ["COLUMNS", "Comparison", "compare_results", "text_table"]

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
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    verdict: Check | None
    """The gate's verdict; None when the test is in only one of the files."""

    @property
    def regressed(self) -> bool:
        return self.verdict is not None and not self.verdict.passed

    @property
    def test_id(self) -> str:
        return str((self.new or self.old or {}).get("test_id", self.key))

    def cells(self) -> list[str]:
        """The row of the text and Markdown tables."""
        old, new = self.old or {}, self.new or {}
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
        return {"key": self.key, **row, "regressed": self.regressed}

    def _gate(self) -> str:
        if self.verdict is None:
            return "new test" if self.old is None else "not in the new results"
        return f"REGRESSED: {self.verdict.detail}" if self.regressed else "ok"


def compare_results(old: Results, new: Results, gate: Mapping[str, float | None]) -> list[Comparison]:
    """Every test of `new`, then those only in `old`; `gate` overrides each new record's own tolerances."""
    rows = [
        Comparison(key, old.get(key), record, _verdict(record, old.get(key), gate))
        for key, record in new.items()
    ]
    return rows + [Comparison(key, record, None, None) for key, record in old.items() if key not in new]


def _verdict(
    new: Mapping[str, Any], old: Mapping[str, Any] | None, gate: Mapping[str, float | None]
) -> Check | None:
    if old is None:
        return None
    if new.get("outcome") == "error" and old.get("outcome") != "error":
        return Check("no_regression", False, f"error: {new.get('error') or 'the run did not finish'}")
    return check_no_regression(new, old, {**GATE_DEFAULTS, **new.get("gate", {}), **gate}, "baseline")


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
