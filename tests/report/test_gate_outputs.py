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
    session = {"verdict": "regressed", "metrics": [{"metric": "requirements", "verdict": "regressed"}]}
    session["metrics"][0].update(p_adjusted=0.0123, adjustment="BH")  # [gate] family = "session"
    assert gate_verdict_cell({"regression": session}) == "regressed (requirements q = 0.012)"
    text = step_summary([["test"], ["t"]], [], [("t", "requirements 173 → 162 (…): inconclusive")])
    assert "### Inconclusive\n\n- `t`: requirements 173 → 162 (…): inconclusive\n" in text
    assert "### Inconclusive" not in step_summary([["test"], ["t"]], [])


def test_the_page_draws_each_compared_metric_as_an_interval_against_its_tolerance() -> None:
    from pytest_specbench.report.charts import PLOT_WIDTH
    from pytest_specbench.report.html import render_html
    from pytest_specbench.report.views import build_briefs

    regressed = {**gated([170, 178, 174], [110, 125, 125]), "model": "m", "brief": "b", "test_id": "t1"}
    unsure = {**gated([174, 150, 196], [160, 145, 180]), "model": "n", "brief": "b", "test_id": "t2"}

    (brief,) = build_briefs([regressed, unsure], {})
    chart = brief.charts[-1]
    assert chart.title.startswith("Gate: change against the baseline, 90 % interval")
    bars = {i.label: i for i in chart.intervals}
    assert [i.kind for i in chart.intervals] == ["regressed", "inconclusive"]
    tight, wide = bars["m · bare · requirements"], bars["n · bare · requirements"]
    assert tight.text == "−31 % (−39 % … −23 %) regressed"
    assert wide.text.endswith(" inconclusive") and "(−25 % … +16 %)" in wide.text
    # One scale, centred on no change: the tight interval lies wholly past its tolerance (−10 %),
    # the wide one straddles both the tolerance and no change.
    assert tight.zero == wide.zero == PLOT_WIDTH / 2
    assert tight.margin == wide.margin and tight.margin is not None
    assert tight.low is not None and tight.high is not None and tight.high < tight.margin
    assert wide.low is not None and wide.high is not None and wide.low < wide.margin < wide.zero < wide.high
    page = render_html([regressed, unsure])
    assert page.count('<g class="interval regressed">') == 1 and "−31 % (−39 % … −23 %) regressed" in page
    assert "Gate:" not in render_html([{"model": "m", "brief": "b", "test_id": "t"}])
