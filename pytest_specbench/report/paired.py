"""The paired comparison of `baseline_model`: a candidate's run against the incumbent's of the same test.

The two runs may have landed on different xdist workers, so the verdict is computed on the
controller from the records once every test is done, by the rules of `no_regression`, and
it sets the session's exit status, as pytest-cov's `--cov-fail-under` does for coverage.

    run                          against                      verdict
    test_spec[challenger-notes]  test_spec[incumbent-notes]   REGRESSED: requirements 10 → 7 (−30 % > 10 %)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_specbench._text import align
from pytest_specbench.config.gate import GateTolerances
from pytest_specbench.verdicts.checks import Check
from pytest_specbench.verdicts.regression import check_no_regression

__all__ = ["Paired", "paired_verdicts", "render_paired"]

FIELD = "vs_baseline_model"
"""The record field that keeps a candidate's paired verdict in results.json."""


@dataclass(frozen=True, slots=True)
class Paired:
    """A candidate's run, the incumbent's run of the same test, brief and scaffold, and the verdict."""

    candidate: Mapping[str, Any]
    incumbent: Mapping[str, Any] | None
    verdict: Check

    def row(self) -> list[str]:
        against = self.incumbent["test_id"] if self.incumbent else "-"
        verdict = f"REGRESSED: {self.verdict.detail}" if not self.verdict.passed else "ok"
        if self.verdict.passed and self.verdict.detail.startswith("not compared"):
            verdict = self.verdict.detail
        return [str(self.candidate["test_id"]), str(against), verdict]

    def as_field(self, incumbent_id: str) -> dict[str, Any]:
        return {"baseline_model": incumbent_id, "passed": self.verdict.passed, "detail": self.verdict.detail}


def paired_verdicts(records: list[dict[str, Any]], baselines: Mapping[str, str]) -> list[Paired]:
    """One verdict per run of a model that names a `baseline_model` (model id → incumbent id).

    In node id order, so the section reads the same whichever xdist worker finished first.
    """
    by_group = {(_group(r), r.get("model")): r for r in records}
    pairs = []
    for record in sorted(records, key=lambda r: str(r.get("nodeid") or r.get("test_id"))):
        incumbent_id = baselines.get(str(record.get("model")))
        if incumbent_id is None or record.get("outcome") in ("skipped", None):
            continue
        incumbent = by_group.get((_group(record), incumbent_id))
        pairs.append(Paired(record, incumbent, _verdict(record, incumbent, incumbent_id)))
    return pairs


def render_paired(pairs: list[Paired]) -> list[str]:
    """The section's table, then one line with how many pairs regressed."""
    regressed = sum(not p.verdict.passed for p in pairs)
    table = align([["run", "against", "verdict"], *(p.row() for p in pairs)])
    if regressed:
        return [*table, f"FAIL: {regressed} of {len(pairs)} runs regressed against their baseline_model"]
    return [*table, f"{len(pairs)} runs at least as good as their baseline_model"]


def _verdict(record: Mapping[str, Any], incumbent: Mapping[str, Any] | None, incumbent_id: str) -> Check:
    if incumbent is None or incumbent.get("outcome") in ("skipped", "error"):
        why = "did not run" if incumbent is None else f"has no result ({incumbent.get('outcome')})"
        # Not a regression: a run of the incumbent that was not selected, or had no key, says
        # nothing about the candidate; the section shows it, so nobody reads it as a pass.
        return Check("baseline_model", True, f"not compared: {incumbent_id}'s run of this test {why}")
    if record.get("outcome") == "error":
        return Check("baseline_model", False, f"error: {record.get('error') or 'the run did not finish'}")
    # A pair is judged on its own: the session family's BH (`family.py`) decides `no_regression`
    # against the baseline file, and would leave this verdict "decided at session end" for ever.
    gate = dataclasses.replace(GateTolerances.from_fields(record.get("gate")), family=None)
    return check_no_regression(record, incumbent, gate, f"model {incumbent_id}")


def _group(record: Mapping[str, Any]) -> tuple[str, str, str]:
    test = str(record.get("nodeid") or record.get("test_id") or "").partition("[")[0]
    return (test, str(record.get("brief")), str(record.get("scaffold")))
