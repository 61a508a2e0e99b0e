"""Where the gate's verdict goes besides the check: JUnit properties, the table's cell, the step summary."""

from __future__ import annotations

import json
from typing import Any

from pytest_specbench.config.gate import GateTolerances
from pytest_specbench.report.ci import gate_properties, gate_verdict_cell, junit_properties, step_summary
from pytest_specbench.verdicts.regression import judge


def gated(old: list[int], new: list[int]) -> dict[str, Any]:
    def sampled(values: list[int]) -> dict[str, Any]:
        return {"per_sample": [{"requirements": v, "checks": []} for v in values], "checks": []}

    fields = judge(sampled(new), sampled(old), GateTolerances(), "baseline.json").fields()
    return json.loads(json.dumps({"requirements": sum(new) / len(new), **fields}))


def test_junit_carries_the_verdict_estimate_interval_p_and_method() -> None:
    record = gated([170, 178, 174], [110, 125, 125])

    properties = dict(junit_properties(record))

    assert properties["requirements"] == record["requirements"]
    assert properties["gate_verdict"] == "regressed" and properties["gate_requirements"] == "regressed"
    assert properties["gate_requirements_method"] == "Welch/log, 3 v 3"
    assert round(float(str(properties["gate_requirements_p"])), 3) == 0.004
    assert str(properties["gate_requirements_interval"]).startswith("-0.387")
    assert gate_properties({"requirements": 3}) == []


def test_the_verdict_cell_names_what_could_not_be_told_and_the_summary_lists_it() -> None:
    unsure = gated([174, 150, 196], [160, 145, 180])

    assert gate_verdict_cell(unsure) == "inconclusive (requirements)"
    assert gate_verdict_cell(gated([170, 178, 174], [110, 125, 125])) == "regressed"
    assert gate_verdict_cell({}) == ""
    text = step_summary([["test"], ["t"]], [], [("t", "requirements 173 → 162 (…): inconclusive")])
    assert "### Inconclusive\n\n- `t`: requirements 173 → 162 (…): inconclusive\n" in text
    assert "### Inconclusive" not in step_summary([["test"], ["t"]], [])
