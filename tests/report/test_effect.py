"""The scaffold effect: non-bare runs against their bare twin, in results.json and the summary."""

from __future__ import annotations

from typing import Any

from pytest_specbench.report.effect import render_effect, with_effect


def record(scaffold: str, requirements: int | None, features: int | None, **more: Any) -> dict[str, Any]:
    suffix = "" if scaffold == "bare" else f"-{scaffold}"
    fields = {"requirements": requirements, "features": features} if requirements is not None else {}
    return {
        "nodeid": f"evals/test_specs.py::test_spec[gpt-app{suffix}]",
        "model": "gpt",
        "brief": "app",
        "scaffold": scaffold,
        "outcome": "passed",
        "scaffold_calls": 0,
        **fields,
        **more,
    }


def test_non_bare_records_gain_the_change_against_bare() -> None:
    bare, full = record("bare", 43, 3), record("full", 183, 7)

    out = with_effect([full, bare])

    assert out[1] is bare
    assert out[0] == {
        **full,
        "requirements_vs_bare": 140,
        "requirements_ratio_vs_bare": 4.26,
        "features_vs_bare": 4,
        "features_ratio_vs_bare": 2.33,
    }


def test_no_baseline_or_a_zero_baseline_leaves_nulls() -> None:
    lone = with_effect([record("full", 5, 1)])[0]
    assert lone["requirements_vs_bare"] is None and lone["requirements_ratio_vs_bare"] is None

    errored_bare = with_effect([record("bare", None, None, outcome="error"), record("full", 5, 1)])[1]
    assert errored_bare["features_vs_bare"] is None

    from_zero = with_effect([record("bare", 0, 0), record("full", 5, 1)])[1]
    assert (from_zero["requirements_vs_bare"], from_zero["requirements_ratio_vs_bare"]) == (5, None)


def test_runs_are_compared_within_one_test_function_model_and_brief() -> None:
    other = {"nodeid": "evals/test_other.py::test_spec[gpt-app]"}
    records = [record("bare", 10, 1, **other), record("bare", 20, 2), record("full", 30, 3)]
    assert with_effect(records)[2]["requirements_vs_bare"] == 10


def test_no_effect_table_when_every_run_is_bare() -> None:
    assert render_effect([record("bare", 10, 1)]) == []


def test_effect_table_puts_bare_first_and_shows_change_and_ratio() -> None:
    records = [
        record("full", 183, 7, scaffold_calls=31),
        record("todo", 40, 3, outcome="failed"),
        record("bare", 43, 3),
    ]

    lines = render_effect(records)

    assert [line.split() for line in lines] == [
        [
            "run",
            "scaffold",
            "outcome",
            "feat",
            "reqs",
            "feat",
            "vs",
            "bare",
            "reqs",
            "vs",
            "bare",
            "scaffold",
            "calls",
        ],
        ["test_spec[gpt-app]", "bare", "PASSED", "3", "43", "0"],
        ["test_spec[gpt-app]", "full", "PASSED", "7", "183", "+4", "(×2.33)", "+140", "(×4.26)", "31"],
        ["test_spec[gpt-app]", "todo", "FAILED", "3", "40", "+0", "(×1.00)", "-3", "(×0.93)", "0"],
    ]
    assert lines[0].index("reqs vs bare") == lines[2].index("+140")


def test_a_run_without_numbers_shows_dashes() -> None:
    lines = render_effect([record("full", None, None, outcome="error")])
    assert lines[1].split() == ["test_spec[gpt-app]", "full", "ERROR", "-", "-", "-", "-", "0"]
