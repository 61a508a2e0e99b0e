"""`baseline_model` over the briefs: a paired t of the per-brief differences, with an exact sign-flip p."""

from __future__ import annotations

from typing import Any

from pytest_specbench.report.paired import paired_verdicts
from pytest_specbench.report.suite import suite_verdicts
from pytest_specbench.verdicts.significance import Verdict


def run(model: str, brief: str, *requirements: int) -> dict[str, Any]:
    per_sample = [{"requirements": r, "checks": []} for r in requirements]
    return {
        "test_id": f"test_spec[{model}-{brief}]",
        "nodeid": f"t.py::test_spec[{model}-{brief}]",
        "model": model,
        "brief": brief,
        "scaffold": "bare",
        "outcome": "passed",
        "checks": [],
        "per_sample": per_sample,
    }


def suite(candidate: dict[str, list[int]], incumbent: dict[str, list[int]]) -> Any:
    records = [run("new", b, *v) for b, v in candidate.items()] + [
        run("old", b, *v) for b, v in incumbent.items()
    ]
    (verdict,) = suite_verdicts(paired_verdicts(records, {"new": "old"}))
    return verdict


INCUMBENT = {"a": [100, 104], "b": [50, 52], "c": [200, 190], "d": [80, 84], "e": [30, 31]}


def test_a_drop_on_every_brief_regresses_the_candidate_with_both_p_values() -> None:
    worse = {b: [round(v * 0.7 + i) for i, v in enumerate(values)] for b, values in INCUMBENT.items()}

    verdict = suite(worse, INCUMBENT)

    assert verdict.verdict is Verdict.REGRESSED and verdict.briefs == 5
    (line,) = verdict.lines()
    assert line.startswith("new vs old: requirements −")
    assert "over 5 briefs (90 % CI" in line and "sign-flip p = 0.031, paired t/log): regressed" in line
    assert verdict.fields()["metrics"][0]["sign_flip_p"] == 1 / 32


def test_the_same_numbers_are_no_regression_and_two_briefs_are_too_few() -> None:
    same = {b: [v[1], v[0] + 1] for b, v in INCUMBENT.items()}

    assert suite(same, INCUMBENT).verdict is Verdict.NO_REGRESSION
    few = suite({"a": [100], "b": [50]}, {"a": [100], "b": [50]})
    assert few.verdict is Verdict.NOT_COMPARED
    assert few.lines() == ["new vs old: too few briefs (2 < 3): not compared"]
