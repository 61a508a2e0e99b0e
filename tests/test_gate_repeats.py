"""The gate with repeats on both sides: scripted models of known spread, judged by one-sided tests."""

from __future__ import annotations

import itertools
import json
import re
import shutil
from typing import Any

import pytest

from pytest_specbench.testing import FakeProvider, Reply

TEST = "def test_spec(spec_run):\n    spec_run.verify()\n"
QUIET = ["-W", "default::pytest_specbench.SpecbenchInconclusiveWarning"]
"""An inconclusive verdict warns; the plugin's own suite turns warnings into errors."""


def of_spread(writing: Any, requirements: list[int]) -> list[Any]:
    """A model whose k-th sample (in the order they ask) writes 3 features and requirements[k]."""
    served = itertools.count()

    def first_step(body: dict[str, Any]) -> Reply:
        reply: Reply = writing(3, requirements[next(served) % len(requirements)])[0]
        return reply

    return [first_step, Reply.final("Done.")]


def accept_baseline(pytester: pytest.Pytester, *args: str) -> None:
    pytester.runpytest("--specbench-report=accepted", *args)
    shutil.copy(pytester.path / "accepted" / "results.json", pytester.path / "baseline.json")


def records(pytester: pytest.Pytester, report: str) -> dict[str, dict[str, Any]]:
    return {r["model"]: r for r in json.loads((pytester.path / report / "results.json").read_text())}


def test_repeats_without_reference_features_gated_by_a_baseline_is_no_crash(
    suite, provider: FakeProvider, pytester: pytest.Pytester, writing, xdist_args: list[str]
) -> None:
    # metrics["feature_recall"] is None for such a run: the gate once failed on it with a TypeError.
    name = suite.model("steady")
    suite.brief("notes", repeats=3)  # no reference_features
    suite.write(TEST)
    provider.script(name, of_spread(writing, [10, 11, 12]))
    accept_baseline(pytester, *xdist_args)
    provider.script(name, of_spread(writing, [11, 10, 12]))

    result = pytester.runpytest(
        "--specbench-baseline=baseline.json", "--specbench-report=out", *QUIET, *xdist_args
    )

    result.assert_outcomes(passed=1)
    gate = records(pytester, "out")["steady"]["checks"][-1]
    assert gate["name"] == "no_regression" and gate["passed"]
    assert gate["detail"].startswith("requirements 11 → 11 (+0 %, 90 % CI ")
    assert "recall" not in gate["detail"]


def test_a_tight_drop_regresses_a_wide_one_is_inconclusive_and_no_change_is_no_regression(
    suite,
    provider: FakeProvider,
    pytester: pytest.Pytester,
    writing,
    xdist_args: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = {"tight": [35, 36, 34], "wide": [30, 40, 50], "steady": [35, 36, 34]}
    after = {"tight": [24, 24, 23], "wide": [24, 36, 44], "steady": [36, 34, 35]}
    names = {model_id: suite.model(model_id) for model_id in before}
    suite.brief("notes", repeats=3)
    suite.write(TEST)
    for model_id, counts in before.items():
        provider.script(names[model_id], of_spread(writing, counts))
    accept_baseline(pytester, *xdist_args)
    for model_id, counts in after.items():
        provider.script(names[model_id], of_spread(writing, counts))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "summary.md"))

    result = pytester.runpytest(
        "--specbench-baseline=baseline.json", "--specbench-report=out", *QUIET, *xdist_args
    )

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*no_regression: requirements 35 → 23.7 (−32 %, 90 % CI −35 % … −29 %, one-sided p < 0.001, "
            "Welch/log, 3 v 3): regressed*"
        ]
    )
    # The table's gate column says the three verdicts; the step summary lists what it could not tell.
    result.stdout.fnmatch_lines(["test *outcome *secs  gate  *first failed check / cause"])
    cells = {row[0]: row for line in result.stdout.lines if (row := re.split(r"\s{2,}", line))}
    assert "regressed" in cells["test_spec[tight-notes]"]
    assert "inconclusive (requirements)" in cells["test_spec[wide-notes]"]
    assert "no regression" in cells["test_spec[steady-notes]"]
    summary = (pytester.path / "summary.md").read_text()
    assert (
        "| gate |" in summary and "### Regressions\n\n- `test_spec[tight-notes]`: no_regression:" in summary
    )
    assert "### Inconclusive\n\n- `test_spec[wide-notes]`: no_regression: requirements 40 → 34.7" in summary
    found = records(pytester, "out")
    verdicts = {model_id: r["checks"][-1] for model_id, r in found.items()}
    assert not verdicts["tight"]["passed"]
    assert verdicts["wide"]["passed"] and verdicts["wide"]["detail"].startswith(
        "requirements 40 → 34.7 (−14 %, 90 % CI −48 % … +41 %, p = 0.27, 3 v 3): inconclusive — "
        "≈ 91 samples per side would detect a 10 % drop at 80 % power (CV 29 %)"
    )
    assert verdicts["steady"]["passed"] and "): no regression" in verdicts["steady"]["detail"]


def test_a_replayed_run_gets_the_same_verdict_bit_for_bit(
    suite, provider: FakeProvider, pytester: pytest.Pytester, writing
) -> None:
    name = suite.model("wide")
    suite.brief("notes", repeats=3)
    suite.write(TEST)
    provider.script(name, of_spread(writing, [30, 40, 50]))
    accept_baseline(pytester)
    provider.script(name, of_spread(writing, [24, 36, 44]))
    gate = ["--specbench-baseline=baseline.json", *QUIET]
    pytester.runpytest("--specbench-record-mode=once", "--specbench-report=live", *gate).assert_outcomes(
        passed=1
    )
    provider.script(name, [])  # a replay must not ask the model

    pytester.runpytest("--specbench-record-mode=none", "--specbench-report=replay", *gate).assert_outcomes(
        passed=1
    )

    live, replayed = records(pytester, "live")["wide"], records(pytester, "replay")["wide"]
    assert replayed["checks"][-1] == live["checks"][-1]
    assert "): inconclusive — ≈ 91 samples per side" in live["checks"][-1]["detail"]


INCONCLUSIVE_TEST = """
def test_spec(spec_run):
    spec_run.verify()
"""


def test_an_inconclusive_verdict_passes_with_a_warning_that_w_error_turns_into_a_failure(
    suite, provider: FakeProvider, pytester: pytest.Pytester, writing
) -> None:
    name = suite.model("wide")
    suite.brief("notes", repeats=3)
    suite.write(INCONCLUSIVE_TEST)
    provider.script(name, of_spread(writing, [30, 40, 50]))
    accept_baseline(pytester)
    provider.script(name, of_spread(writing, [24, 36, 44]))
    gate = ["--specbench-baseline=baseline.json", "--specbench-record-mode=once"]

    warned = pytester.runpytest(*gate, "-W", "default::pytest_specbench.SpecbenchInconclusiveWarning")
    failed = pytester.runpytest(*gate, "-W", "error::pytest_specbench.SpecbenchInconclusiveWarning")

    warned.assert_outcomes(passed=1, warnings=1)
    warned.stdout.fnmatch_lines(
        ["*SpecbenchInconclusiveWarning: test_spec[[]wide-notes[]]: no_regression is inconclusive*"]
    )
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(
        ["*SpecbenchInconclusiveWarning: test_spec[[]wide-notes[]]: no_regression is incon*"]
    )
