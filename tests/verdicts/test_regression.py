"""The gate's rules over plain results records: what counts as a regression, and how it reads."""

from __future__ import annotations

from typing import Any

from pytest_specbench.verdicts.regression import check_no_regression

SOURCE = "evals/baseline.json"


def record(requirements: int = 174, features: int = 7, **fields: Any) -> dict[str, Any]:
    checks = fields.pop("checks", {"min_features": True, "terminated": True})
    base = {"requirements": requirements, "features": features, "input_tokens": 900, "output_tokens": 100}
    return {**base, "checks": [{"name": n, "passed": p, "detail": ""} for n, p in checks.items()], **fields}


def test_a_drop_past_the_tolerance_fails_with_the_numbers() -> None:
    new = record(120, checks={"min_features": False, "terminated": True})

    check = check_no_regression(new, record(), {}, SOURCE)

    assert not check.passed
    assert check.detail == "requirements 174 → 120 (−31 % > 10 %); min_features newly failing"


def test_an_improvement_or_a_drop_within_tolerance_passes() -> None:
    better = check_no_regression(record(200, 8), record(), {}, SOURCE)
    slightly = check_no_regression(record(160), record(), {}, SOURCE)

    assert better.passed and better.detail == (
        "requirements 174 → 200 (+15 %), features 7 → 8 (+14 %), tokens 1000 → 1000 (within the gate)"
    )
    assert slightly.passed and "requirements 174 → 160 (−8 %)" in slightly.detail


def test_recall_is_a_difference_and_tokens_and_cost_are_gated_only_when_set() -> None:
    old = record(feature_recall=0.9, cost_usd=1.0)
    new = record(feature_recall=0.8, cost_usd=2.0, input_tokens=1900)

    ungated = check_no_regression(new, old, {"max_recall_drop": 0.2}, SOURCE)
    gated = check_no_regression(new, old, {"max_tokens_increase": 0.5, "max_cost_increase": 0.5}, SOURCE)

    assert ungated.passed, ungated.detail
    assert not gated.passed
    assert gated.detail == (
        "recall 0.9 → 0.8 (−0.10 > 0.05); tokens 1000 → 2000 (+100 % > 50 %); cost 1 → 2 (+100 % > 50 %)"
    )


def test_repeats_compare_means_and_say_whether_the_drop_exceeds_the_spread() -> None:
    def sampled(mean: float, stdev: float) -> dict[str, Any]:
        spread = {"mean": mean, "stdev": stdev, "min": mean - stdev, "max": mean + stdev}
        return record(metrics={"requirements": spread})

    beyond = check_no_regression(sampled(100, 2), sampled(150, 3), {}, SOURCE)
    within = check_no_regression(sampled(100, 30), sampled(150, 30), {}, SOURCE)

    assert beyond.detail == "requirements 150 → 100 (−33 % > 10 %, beyond the samples' spread ±5)"
    assert within.detail == "requirements 150 → 100 (−33 % > 10 %, within the samples' spread ±60)"


def test_without_a_baseline_or_its_record_the_check_passes_saying_so() -> None:
    unset = check_no_regression(record(), None, {}, None)
    absent = check_no_regression(record(), None, {}, SOURCE)

    assert unset.passed and unset.detail == "not configured (no --specbench-baseline)"
    assert absent.passed and absent.detail == f"no baseline record for this test in {SOURCE}"
