"""The HTML report: written by a session (with and without xdist) and by `specbench html`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sessiondata import HOSTILE, script_models

from pytest_specbench.report.align import align_features
from pytest_specbench.report.html import render_html
from pytest_specbench.testing import FakeProvider

REFERENCES = [{"name": "notes", "aliases": ["note"]}, {"name": "search"}, {"name": "export"}]
RUN_IDS = [
    "test_spec[alpha-notes]",
    "test_spec[alpha-notes-full]",
    "test_spec[beta-notes]",
    "test_spec[beta-notes-full]",
]


def test_a_session_writes_one_page_with_every_run_and_its_timeline(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    for model_id, protocol in (("alpha", "openai"), ("beta", "anthropic")):
        suite.model(model_id, protocol)
    script_models(provider)
    suite.brief("notes", min_requirements=4, reference_features=REFERENCES)
    suite.write("def test_spec(spec_run, specbench_scaffold):\n    spec_run.verify()\n")

    # No --specbench-report: the page still gets its transcripts (kept in the session's shared directory).
    result = pytester.runpytest(
        "--specbench-scaffolds",
        "bare,full",
        "--specbench-transport=memory",
        "--specbench-html=r/x.html",
        *xdist_args,
    )

    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["html report: */r/x.html"])
    page = (pytester.path / "r" / "x.html").read_text()
    assert all(test_id in page for test_id in RUN_IDS)
    assert page.count('class="turn"') == 12  # 3 turns of each of the 4 runs' timelines
    assert "tool error (bad_arguments)" in page and "stopped: final_answer" in page
    assert_escaped(page)


def assert_escaped(page: str) -> None:
    """The hostile title and description appear only escaped; the page's one script is its own."""
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page and "&lt;img src=&#34;x&#34; onerror=&#34;alert(2)&#34;&gt;" in page
    assert page.count("<script>") == 1


def test_the_command_renders_the_sessions_page_from_its_files(report_session: Path, tmp_path: Path) -> None:
    target = tmp_path / "again.html"
    done = specbench("html", str(report_session / "results.json"), "-o", str(target))

    assert done.returncode == 0 and done.stdout == f"specbench: wrote {target} (4 runs)\n"
    assert _undated(target.read_text()) == _undated((report_session / "report.html").read_text())


def test_the_command_without_transcripts_says_so_per_run(report_session: Path, tmp_path: Path) -> None:
    results = tmp_path / "results.json"  # no transcripts/ beside it
    results.write_text((report_session / "results.json").read_text())

    done = specbench("html", str(results), "-o", str(tmp_path / "r.html"))

    assert done.returncode == 0
    assert (tmp_path / "r.html").read_text().count("No transcript for this run") == 4


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no such file"),
        ("{not json", "not JSON"),
        ('{"a": 1}', "not a list of results records"),
        ('[{"test_id": "t", "version": 7}]', "record t has results version 7, this plugin reads 1"),
        (
            '[{"test_id": "t", "version": 1, "checks": -1}]',
            "record t (#1): field checks must be a list, got -1",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, content: str | None, problem: str) -> None:
    results = tmp_path / "results.json"
    if content is not None:
        results.write_text(content)

    done = specbench("html", str(results))

    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"specbench: error: {results}: {problem}") and done.stderr.count("\n") == 1


def test_a_missing_transcripts_directory_is_a_usage_problem(report_session: Path, tmp_path: Path) -> None:
    done = specbench("html", str(report_session / "results.json"), "--transcripts", str(tmp_path / "nope"))

    assert done.returncode == 2 and "no such directory" in done.stderr


def test_old_records_without_trees_checks_or_numbers_still_render() -> None:
    page = render_html(
        [
            {
                "version": 1,
                "test_id": "test_spec[m-b]",
                "model": "m",
                "brief": "b",
                "outcome": "error",
                "error": "model 'm': HTTP 503 after 2 retries",
            }
        ]
    )

    assert "These results carry no spec trees" in page
    assert "model &#39;m&#39;: HTTP 503 after 2 retries" in page


def test_fields_of_later_versions_are_shown_when_present() -> None:
    record = {
        "version": 1,
        "test_id": "t[m-b]",
        "model": "m",
        "brief": "b",
        "outcome": "passed",
        "requirements": 10,
        "cost_usd": 0.0123,
        "source": "replayed",
        "recorded_seconds": 41.5,
        "samples": 3,
        "passes": 2,
        "pass_rate": 2 / 3,
        "requirements_stats": {"mean": 10.0, "stdev": 2.0, "min": 8, "max": 12},
        "checks": [
            {"name": "no_regression", "passed": False, "detail": "requirements 14 → 10 (-29 % > 10 %)"}
        ],
    }

    page = render_html([record])

    for shown in ("$0.0123", "replayed", "(recorded 41.5)", "2/3 passed (67%); reqs 10 ± 2", "10 (8–12)"):
        assert shown in page
    assert (
        page.count("requirements 14 → 10 (-29 % &gt; 10 %)") == 5
    )  # Δ column, tooltip, label, cause, checklist


def test_a_known_failure_is_marked_as_one_and_named_as_the_runs_cause() -> None:
    record = {
        "version": 1,
        "test_id": "t[m-b]",
        "model": "m",
        "brief": "b",
        "outcome": "passed",
        "checks": [
            {"name": "min_features", "passed": True, "detail": "7 ≥ 5"},
            {
                "name": "min_criteria_per_requirement",
                "passed": False,
                "detail": "7 of 7 short",
                "known": True,
            },
        ],
    }

    page = render_html([record])

    assert 'class="mark known"' in page and 'class="mark fail"' not in page
    assert "(known failure, not counted): 7 of 7 short" in page
    assert "known failure min_criteria_per_requirement: 7 of 7 short" in page  # the run's cause


def test_fifty_runs_with_long_transcripts_stay_under_five_megabytes(report_session: Path) -> None:
    base = json.loads((report_session / "results.json").read_text())
    records = [{**base[i % 4], "test_id": f"test_spec[m{i}-notes]", "model": f"m{i}"} for i in range(50)]
    call = {
        "kind": "tool_call",
        "turn": 1,
        "name": "read_file",
        "arguments": json.dumps({"path": "x" * 3000}),
        "result": "line\n" * 4000,
        "is_error": False,
        "seconds": 0.1,
    }
    transcripts = {r["test_id"]: [call] * 400 for r in records}

    page = render_html(records, transcripts)

    assert len(page.encode()) < 5_000_000
    assert page.count("events left out") == 50


def test_features_line_up_by_reference_then_by_similar_title() -> None:
    left = [_feature("Notes", "notes"), _feature("Full-text search", "search"), _feature("Dark mode theme")]
    right = [_feature("Writing notes", "notes"), _feature("Dark-mode theme"), _feature("Sync")]

    rows = align_features([left, right, None])

    assert [(r.key, r.reference, sorted(r.cells)) for r in rows] == [
        ("notes", True, [0, 1]),
        ("search", True, [0]),
        ("Dark mode theme", False, [0, 1]),
        ("Sync", False, [1]),
    ]


def test_a_feature_naming_two_references_takes_the_one_still_free() -> None:
    from pytest_specbench._run.record import tree_fields
    from pytest_specbench.config.settings import BriefConfig
    from pytest_specbench.tree import Feature, SpecTree

    tree = SpecTree(
        (
            Feature("F-0001", "Search notes", "", "a"),
            Feature("F-0002", "Notes", "", "b"),
            Feature("F-0003", "Sync", "Export when offline", "c"),
            Feature("F-0004", "Theme", "", "d"),
        )
    )
    brief = BriefConfig(id="b", codebase=Path("."), prompt="p", extra={"reference_features": REFERENCES})

    assert [f["reference"] for f in tree_fields(tree, brief)] == ["search", "notes", "export", None]


def _feature(title: str, reference: str | None = None) -> dict[str, Any]:
    return {
        "id": "F-0001",
        "title": title,
        "description": "",
        "requirements": [],
        "children": [],
        "reference": reference,
    }


def specbench(*args: str) -> subprocess.CompletedProcess[str]:
    """The console script as a user runs it."""
    command = [
        sys.executable,
        "-c",
        "import sys; from pytest_specbench.cli import main; sys.exit(main())",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True)


def _undated(page: str) -> str:
    return re.sub(r"generated [\d: -]+UTC", "", page)
