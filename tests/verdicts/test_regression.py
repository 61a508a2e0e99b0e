"""The gate's rules over plain results records: what counts as a regression, and how it reads."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

from pytest_specbench import SpecbenchInconclusiveWarning
from pytest_specbench.config.gate import GateTolerances
from pytest_specbench.verdicts.regression import check_no_regression, judge, warn_inconclusive
from pytest_specbench.verdicts.significance import Verdict

SOURCE = "evals/baseline.json"
GATE = GateTolerances()
"""The default tolerances."""


def record(requirements: int = 174, features: int = 7, **fields: Any) -> dict[str, Any]:
    checks = fields.pop("checks", {"min_features": True, "terminated": True})
    base = {"requirements": requirements, "features": features, "input_tokens": 900, "output_tokens": 100}
    return {**base, "checks": [{"name": n, "passed": p, "detail": ""} for n, p in checks.items()], **fields}


def sampled(
    field: str = "requirements", *values: float, passes: dict[str, list[bool]] | None = None
) -> dict[str, Any]:
    """A record of a run with repeats: only `field` (and the checks in `passes`) per sample."""
    per_sample = [
        {field: v, "checks": [{"name": n, "passed": p[i]} for n, p in (passes or {}).items()]}
        for i, v in enumerate(values)
    ]
    mean = sum(values) / len(values)
    summed = [{"name": n, "passed": all(p)} for n, p in (passes or {}).items()]
    return {"per_sample": per_sample, "metrics": {field: {"mean": round(mean, 4)}}, "checks": summed}


# --- one sample per side: the tolerance rule, labelled so ---------------------------------------------


def test_a_drop_past_the_tolerance_fails_with_the_numbers() -> None:
    new = record(120, checks={"min_features": False, "terminated": True})

    check = check_no_regression(new, record(), GATE, SOURCE)

    assert not check.passed
    assert check.detail == (
        "requirements 174 → 120 (−31 % > 10 %, tolerance rule, 1 v 1): regressed; "
        "min_features newly failing (tolerance rule, 1 v 1): regressed"
    )


def test_an_improvement_or_a_drop_within_tolerance_passes() -> None:
    better = check_no_regression(record(200, 8), record(), GATE, SOURCE)
    slightly = check_no_regression(record(160), record(), GATE, SOURCE)

    assert better.passed and better.detail == (
        "requirements 174 → 200 (+15 %, tolerance rule, 1 v 1): no regression; "
        "features 7 → 8 (+14 %, tolerance rule, 1 v 1): no regression; tokens 1000 → 1000 (+0 %): not gated"
    )
    assert slightly.passed and "requirements 174 → 160 (−8 %, tolerance rule, 1 v 1): no regression" in (
        slightly.detail
    )


def test_recall_is_a_difference_in_points_and_tokens_and_cost_are_gated_only_when_set() -> None:
    old = record(feature_recall=0.9, cost_usd=1.0)
    new = record(feature_recall=0.8, cost_usd=2.0, input_tokens=1900)

    ungated = check_no_regression(new, old, GateTolerances(max_recall_drop=0.2), SOURCE)
    gated = check_no_regression(
        new, old, GateTolerances(max_tokens_increase=0.5, max_cost_increase=0.5), SOURCE
    )

    assert ungated.passed, ungated.detail
    assert not gated.passed
    assert gated.detail == (
        "recall 0.9 → 0.8 (−10 pts > 5 pts, tolerance rule, 1 v 1): regressed; "
        "tokens 1000 → 2000 (+100 % > 50 %, tolerance rule, 1 v 1): regressed; "
        "cost 1 → 2 (+100 % > 50 %, tolerance rule, 1 v 1): regressed"
    )


def test_a_replay_without_spread_on_either_side_falls_back_to_the_tolerance_rule() -> None:
    result = judge(
        sampled("requirements", 120, 120, 120), sampled("requirements", 174, 174, 174), GATE, SOURCE
    )

    assert result.verdict is Verdict.REGRESSED
    assert (
        str(result.judgments[0]) == "requirements 174 → 120 (−31 % > 10 %, tolerance rule, 3 v 3): regressed"
    )


def test_without_a_baseline_or_its_record_the_check_passes_saying_so() -> None:
    unset = check_no_regression(record(), None, GATE, None)
    absent = check_no_regression(record(), None, GATE, SOURCE)

    assert unset.passed and unset.detail == "not configured (no --specbench-baseline)"
    assert absent.passed and absent.detail == f"no baseline record for this test in {SOURCE}"
    assert judge(record(), None, GATE, SOURCE).verdict is Verdict.NOT_COMPARED


# --- repeats: the one-sided tests on the raw samples --------------------------------------------------


def test_the_issues_two_lines_from_its_sample_data() -> None:
    regressed = check_no_regression(
        sampled("requirements", 110, 125, 125), sampled("requirements", 170, 178, 174), GATE, SOURCE
    )
    inconclusive = check_no_regression(
        sampled("requirements", 160, 145, 180), sampled("requirements", 174, 150, 196), GATE, SOURCE
    )

    assert not regressed.passed and regressed.detail == (
        "requirements 174 → 120 (−31 %, 90 % CI −39 % … −23 %, one-sided p = 0.004, Welch/log, 3 v 3): "
        "regressed"
    )
    assert inconclusive.passed and inconclusive.inconclusive
    assert inconclusive.detail == (
        "requirements 173 → 162 (−7 %, 90 % CI −25 % … +16 %, p = 0.27, 3 v 3): inconclusive — "
        "≈ 18 samples per side would detect a 10 % drop at 80 % power (CV 12 %)"
    )


def test_a_tight_32_percent_drop_regresses_and_a_wide_14_percent_drop_is_inconclusive() -> None:
    tight = judge(sampled("features", 68, 67, 69), sampled("features", 100, 99, 101), GATE, SOURCE)
    wide = judge(sampled("features", 60, 100, 98), sampled("features", 70, 110, 120), GATE, SOURCE)

    (drop,) = tight.judgments
    assert tight.verdict is Verdict.REGRESSED and drop.low is not None and drop.high is not None
    assert drop.low < -0.32 < drop.high < -0.3 and drop.p is not None and drop.p < 0.001
    assert wide.verdict is Verdict.INCONCLUSIVE and wide.check().passed
    assert (
        "features 100 → 86 (−14 %, 90 % CI −48 % … +42 %, p = 0.28, 3 v 3): inconclusive"
        in wide.check().detail
    )
    assert "samples per side would detect a 10 % drop at 80 % power" in wide.check().detail


def test_equal_distributions_are_no_regression_and_recall_is_tested_in_points() -> None:
    same = judge(sampled("requirements", 101, 99, 100), sampled("requirements", 100, 101, 99), GATE, SOURCE)
    recall = judge(
        sampled("feature_recall", 0.8, 0.82, 0.81), sampled("feature_recall", 0.8, 0.81, 0.82), GATE, SOURCE
    )

    assert same.verdict is Verdict.NO_REGRESSION
    assert same.check().detail == (
        "requirements 100 → 100 (+0 %, 90 % CI −2 % … +2 %, Welch/log, 3 v 3): no regression"
    )
    assert recall.check().detail == (
        "recall 0.81 → 0.81 (+0 pts, 90 % CI −2 pts … +2 pts, Welch, 3 v 3): no regression"
    )


def test_the_p_values_of_one_test_are_adjusted_together_by_holm() -> None:
    def both(requirements: list[float], features: list[float]) -> dict[str, Any]:
        per_sample = [
            {"requirements": r, "features": f, "checks": []}
            for r, f in zip(requirements, features, strict=True)
        ]
        return {"per_sample": per_sample, "checks": []}

    result = judge(both([110, 125, 125], [50, 55, 60]), both([170, 178, 174], [70, 72, 71]), GATE, SOURCE)

    requirements, features = result.judgments
    assert requirements.adjustment == features.adjustment == "Holm" and requirements.p is not None
    assert requirements.p_adjusted == pytest.approx(2 * requirements.p)  # the smaller p of two
    assert "one-sided Holm p = 0.008" in str(requirements)


def test_a_checks_passes_are_compared_by_fishers_exact_test() -> None:
    def checked(passed: list[bool]) -> dict[str, Any]:
        return sampled("requirements", *([100.0] * len(passed)), passes={"min_features": passed})

    lost = judge(checked([False] * 5), checked([True] * 4 + [False]), GATE, SOURCE)
    fewer = judge(checked([True, True, False]), checked([True, True, True]), GATE, SOURCE)

    assert lost.verdict is Verdict.REGRESSED
    assert (
        lost.check().detail == "min_features passed 4/5 → 0/5 (one-sided p = 0.024, Fisher, 5 v 5): regressed"
    )
    # 3/3 → 2/3 could never reach p ≤ 0.05: left out of Holm's family, and inconclusive.
    assert fewer.verdict is Verdict.INCONCLUSIVE
    assert "min_features passed 3/3 → 2/3 (p = 0.5, 3 v 3): inconclusive" in fewer.check().detail


def test_a_metric_missing_on_a_side_is_not_compared_never_a_crash() -> None:
    # A run with repeats on a brief without reference features has metrics["feature_recall"] = None.
    old = {**sampled("requirements", 170, 178, 174), "feature_recall": None}
    old["metrics"]["feature_recall"] = None
    new = {**sampled("requirements", 110, 125, 125), "feature_recall": None}
    new["metrics"]["feature_recall"] = None
    for sample in new["per_sample"]:
        sample["feature_recall"] = None

    result = judge(new, old, GATE, SOURCE)

    assert [j.label for j in result.judgments] == ["requirements"]
    assert judge(record(), {"checks": "garbled", "per_sample": [None]}, GATE, SOURCE).judgments == ()


def test_alpha_comes_from_the_gate() -> None:
    strict = judge(
        sampled("requirements", 110, 125, 125),
        sampled("requirements", 170, 178, 174),
        GateTolerances(alpha=0.001),
        SOURCE,
    )

    assert strict.verdict is Verdict.INCONCLUSIVE and strict.alpha == 0.001


def test_the_record_fields_are_plain_data() -> None:
    result = judge(
        sampled("requirements", 160, 145, 180), sampled("requirements", 174, 150, 196), GATE, SOURCE
    )

    fields = json.loads(json.dumps(result.fields()))

    (metric,) = fields["regression"]["metrics"]
    assert fields["regression"]["verdict"] == "inconclusive" and fields["regression"]["alpha"] == 0.05
    assert metric["method"] == "Welch/log" and metric["n"] == [3, 3] and metric["samples_needed"] == 18
    assert metric["estimate"] == pytest.approx(-0.0654, abs=1e-4) and metric["p"] == pytest.approx(
        0.2676, abs=1e-4
    )
    assert metric["interval"][0] < metric["estimate"] < metric["interval"][1]


def test_an_inconclusive_verdict_warns_in_the_plugins_own_category() -> None:
    check = check_no_regression(
        sampled("requirements", 160, 145, 180), sampled("requirements", 174, 150, 196), GATE, SOURCE
    )

    with pytest.warns(
        SpecbenchInconclusiveWarning, match=r"test_x: no_regression is inconclusive: requirements"
    ):
        warn_inconclusive([check], "test_x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_inconclusive([check_no_regression(record(), record(), GATE, SOURCE)], "test_x")
