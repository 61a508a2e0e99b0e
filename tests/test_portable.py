"""Portable verdicts: an exact snapshot gates a deterministic run; a live run is gated by its checks
and the baseline, and a difference from its snapshot is shown, not failed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_specbench.testing import FakeProvider, Reply, call


def writing(titles: list[str]) -> list[Reply]:
    """One feature and one requirement per title, then an answer."""
    steps = []
    for number, title in enumerate(titles, 1):
        feature = call("create_feature", title=title, description=f"{title} things.")
        requirement = call(
            "create_requirement",
            feature_id=f"F-{number:04d}",
            title=f"{title} works",
            description="d",
            acceptance_criteria=["c"],
        )
        steps.append(Reply(tool_calls=[feature, requirement]))
    return [*steps, Reply.final(f"Wrote {len(titles)} features.")]


def recorded_suite(suite: Any, provider: FakeProvider, pytester: pytest.Pytester, **model: Any) -> str:
    """A suite whose snapshot holds the tree of a first run (Notes, Tags)."""
    name = suite.model("alpha", **model)
    suite.brief("notes", min_features=1, min_requirements=1)
    suite.write()
    provider.script(name, writing(["Notes", "Tags"]))
    pytester.runpytest("--snapshot-update").assert_outcomes(passed=1)
    return name


def test_a_live_tree_that_differs_from_its_snapshot_passes_and_shows_the_diff(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    name = recorded_suite(suite, provider, pytester)
    provider.script(name, writing(["Notes", "Labels"]))  # another machine: another tree

    result = pytester.runpytest("--specbench-report=out", *xdist_args)

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_spec[[]alpha-notes[]]*PASSED*live*tree differs from its snapshot (diff below)*",
            "*live trees that differ from their snapshots (reported, not failed)*",
            "test_spec[[]alpha-notes[]]:",
            "*-## F-0002 Tags*",
            "*+## F-0002 Labels*",
        ]
    )
    (record,) = json.loads((pytester.path / "out" / "results.json").read_text())
    assert record["deterministic"] is False and record["source"] == "live"
    assert "+## F-0002 Labels" in record["snapshot_diff"]


def test_strict_snapshots_fail_a_live_tree_that_differs(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    name = recorded_suite(suite, provider, pytester)
    provider.script(name, writing(["Notes", "Labels"]))

    result = pytester.runpytest("--specbench-strict-snapshots", *xdist_args)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E *assert [[]+ received[]] == [[]- snapshot[]]*", "*+ ## F-0002 Labels*"])


def test_a_deterministic_models_tree_is_still_held_to_its_snapshot(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    name = recorded_suite(suite, provider, pytester, deterministic=True)
    provider.script(name, writing(["Notes", "Labels"]))

    result = pytester.runpytest("--specbench-report=out", *xdist_args)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E *assert [[]+ received[]] == [[]- snapshot[]]*", "*+ ## F-0002 Labels*"])
    (record,) = json.loads((pytester.path / "out" / "results.json").read_text())
    assert record["deterministic"] is True and "snapshot_diff" not in record


def test_a_live_run_that_regresses_against_the_baseline_fails_with_the_numbers(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    name = recorded_suite(suite, provider, pytester)
    provider.script(name, writing(["Notes", "Tags", "Due dates", "Export"]))
    pytester.runpytest("--specbench-report=accepted", "--snapshot-update").assert_outcomes(passed=1)
    provider.script(name, writing(["Notes", "Tags"]))  # half the requirements of the baseline

    result = pytester.runpytest("--specbench-baseline=accepted/results.json", *xdist_args)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*no_regression: requirements 4 → 2 (−50 % > 10 %, tolerance rule, 1 v 1): regressed*"]
    )
