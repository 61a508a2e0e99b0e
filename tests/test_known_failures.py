"""A model's `known_failures` end to end: reported on a passing run, strict when one passes."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from pytest_specbench.testing import FakeProvider, Reply, call

TEST = "def test_spec(spec_run):\n    spec_run.verify()\n"
KNOWN = ["min_criteria_per_requirement"]


def _records(pytester: pytest.Pytester) -> dict[str, dict[str, object]]:
    return {r["model"]: r for r in json.loads((pytester.path / "out" / "results.json").read_text())}


@pytest.mark.parametrize(("protocol", "xdist_args"), [("openai", []), ("anthropic", ["-n", "2"])])
def test_a_known_failure_is_named_but_does_not_fail_the_run(
    suite, provider: FakeProvider, pytester: pytest.Pytester, writing, protocol: str, xdist_args: list[str]
) -> None:
    provider.script(suite.model("incumbent", protocol, known_failures=KNOWN), writing(2, 3))
    provider.script(suite.model("candidate", protocol), writing(2, 3))
    suite.brief("notes", min_criteria_per_requirement=2)
    suite.write(TEST)

    result = pytester.runpytest("--specbench-report=out", *xdist_args)

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "specbench: test_spec?incumbent-notes? PASSED · * · known failure: min_criteria_per_requirement",
            "*candidate on notes: 1 of 12 checks failed*",
            "*min_criteria_per_requirement: 3 of 3 requirements have fewer than 2 acceptance criteria "
            "(R-0001 has 1, R-0003 has 1, R-0002 has 1)*",
            "*test_spec?incumbent-notes?*PASSED*known failure min_criteria_per_requirement: 3 of 3 req*",
        ]
    )
    records = _records(pytester)
    (known,) = [c for c in records["incumbent"]["checks"] if not c["passed"]]  # type: ignore[union-attr]
    assert known == {
        "name": "min_criteria_per_requirement",
        "passed": False,
        "detail": "3 of 3 requirements have fewer than 2 acceptance criteria (R-0001 has 1, R-0003 has 1, "
        "R-0002 has 1)",
        "known": True,
    }
    assert records["incumbent"]["outcome"] == "passed"
    assert records["incumbent"]["pass_rate"] == 1.0
    assert all("known" not in c for c in records["candidate"]["checks"])  # type: ignore[union-attr]


def test_a_known_failure_that_passes_fails_the_run_and_says_to_remove_it(
    suite, provider: FakeProvider, pytester: pytest.Pytester, writing
) -> None:
    provider.script(suite.model("improved", known_failures=KNOWN), writing(1, 1))
    suite.brief("notes", min_criteria_per_requirement=1)
    suite.write(TEST)

    result = pytester.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*improved on notes: 1 of 12 checks failed*",
            "*min_criteria_per_requirement: all 1 requirements have ≥ 1 acceptance criteria — passed, but is "
            "listed as a known failure: remove it from models.improved.known_failures*",
        ]
    )


def test_other_failures_still_fail_and_the_message_shows_the_known_one_too(
    suite, provider: FakeProvider, pytester: pytest.Pytester, writing
) -> None:
    provider.script(suite.model("incumbent", known_failures=KNOWN), writing(1, 1))
    suite.brief("notes", min_criteria_per_requirement=2, min_features=2)
    suite.write(TEST)

    result = pytester.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*incumbent on notes: 1 of 12 checks failed*",
            "*min_features: 1 < 2",
            "*min_criteria_per_requirement: 1 of 1 requirements have fewer than 2 acceptance criteria "
            "(R-0001 has 1) (a known failure, not counted)",
        ]
    )


def test_with_repeats_each_sample_carries_the_known_failure(
    suite, provider: FakeProvider, pytester: pytest.Pytester, writing
) -> None:
    model = suite.model("incumbent", known_failures=KNOWN, repeats=2)
    provider.script(model, writing(1, 2))
    suite.brief("notes", min_criteria_per_requirement=2)
    suite.write(TEST)

    pytester.runpytest("--specbench-report=out").assert_outcomes(passed=1)

    record = _records(pytester)["incumbent"]
    assert record["passes"] == 2
    (summed,) = [c for c in record["checks"] if c["name"] == "min_criteria_per_requirement"]  # type: ignore[union-attr]
    assert summed["known"] is True and summed["passed"] is False
    assert summed["detail"].startswith("0/2 samples pass; sample 1: 2 of 2 requirements have fewer than 2")


def one_sample_meets_the_bar() -> list[Any]:
    """The first sample to ask writes two acceptance criteria; the other writes one."""
    served = itertools.count()

    def first_step(body: dict[str, Any]) -> Reply:
        criteria = ["Given a, then b.", "Given c, then d."][: 2 if next(served) == 0 else 1]
        made = [
            call("create_feature", title="Notes", description="Taking notes."),
            call(
                "create_requirement",
                feature_id="F-0001",
                title="Add",
                description="d",
                acceptance_criteria=criteria,
            ),
        ]
        return Reply(tool_calls=made)

    return [first_step, Reply.final("Done.")]


@pytest.mark.parametrize(("min_passes", "outcome"), [(2, "passed"), (1, "failed")])
def test_with_repeats_the_known_failure_is_held_to_account_once_for_the_test(
    suite, provider: FakeProvider, pytester: pytest.Pytester, min_passes: int, outcome: str
) -> None:
    """A sample that meets the bar fails nothing; the test fails only when min_passes samples do."""
    model = suite.model("incumbent", known_failures=KNOWN, repeats=2, min_passes=min_passes)
    provider.script(model, one_sample_meets_the_bar())
    suite.brief("notes", min_criteria_per_requirement=2)
    suite.write(TEST)

    result = pytester.runpytest("--specbench-report=out")

    result.assert_outcomes(**{outcome: 1})
    record = _records(pytester)["incumbent"]
    assert record["passes"] == 2  # both samples pass every check they are counted on
    (summed,) = [c for c in record["checks"] if c["name"] == "min_criteria_per_requirement"]  # type: ignore[union-attr]
    # Samples run concurrently: either may be the one served two criteria.
    assert summed["detail"].startswith("1/2 samples pass; sample ")
    assert ": 1 of 1 requirements have fewer than 2 acceptance criteria" in summed["detail"]
    if outcome == "passed":
        assert summed["known"] is True and summed["passed"] is False
    else:
        assert "known" not in summed and summed["passed"] is False
        result.stdout.fnmatch_lines(
            ["*passed, but is listed as a known failure: remove it from models.incumbent*"]
        )


@pytest.mark.parametrize(
    ("value", "problem", "fix"),
    [
        (
            '["min_criteria_per_requirment"]',
            'unknown check "min_criteria_per_requirment"',
            'did you mean "min_criteria_per_requirement"?',
        ),
        (
            '["no_regression"]',
            "no_regression cannot be a known failure",
            "make this run's results.json the baseline",
        ),
        (
            '"tree_quality"',
            "expected array of str, got str",
            'write known_failures = ["min_criteria_per_requirement"]',
        ),
    ],
)
def test_a_bad_known_failures_list_names_the_key_and_the_fix(
    suite, pytester: pytest.Pytester, value: str, problem: str, fix: str
) -> None:
    suite.model("m")
    suite.brief("notes")
    suite.write(TEST)
    config = pytester.path / "specbench.toml"
    config.write_text(config.read_text().replace("[models.m]\n", f"[models.m]\nknown_failures = {value}\n"))

    result = pytester.runpytest()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stderr.str() + result.stdout.str()
    assert "specbench.toml" in output and "[models.m]" in output and "known_failures" in output
    assert problem in output and fix in output


def test_a_pass_with_nothing_to_judge_is_no_unexpected_pass(
    suite, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    # A model that wrote nothing fails min_requirements; its criteria check has nothing to judge.
    provider.script(suite.model("incumbent", known_failures=KNOWN), [Reply.final("Nothing to specify.")])
    suite.brief("notes", min_criteria_per_requirement=2, min_requirements=1)
    suite.write(TEST)

    result = pytester.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*incumbent on notes: 1 of 12 checks failed*", "*min_requirements: 0 < 1"])
    result.stdout.no_fnmatch_line("*listed as a known failure*")
