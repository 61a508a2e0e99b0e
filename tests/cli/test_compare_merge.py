"""`specbench compare` and `specbench merge` as a user runs them: the console script in a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SPECBENCH = shutil.which("specbench", path=str(Path(sys.executable).parent))


def specbench(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert SPECBENCH, "the specbench console script is installed beside this Python"
    return subprocess.run([SPECBENCH, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=60)


def rec(model: str, requirements: int, features: int = 4, **fields: Any) -> dict[str, Any]:
    checks = fields.pop("checks", {"min_features": True})
    return {
        "version": 1,
        "test_id": f"test_spec[{model}-notes]",
        "nodeid": f"evals/test_specs.py::test_spec[{model}-notes]",
        "model": model,
        "outcome": fields.pop("outcome", "passed"),
        "checks": [{"name": n, "passed": p, "detail": ""} for n, p in checks.items()],
        "requirements": requirements,
        "features": features,
        "input_tokens": 1000,
        "output_tokens": 100,
        "seconds": 12.5,
        **fields,
    }


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(records))
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    old = write(tmp_path / "old.json", [rec("gpt", 174), rec("claude", 100), rec("gone", 5)])
    worse = rec("gpt", 120, outcome="failed", checks={"min_features": False})
    new = write(tmp_path / "new.json", [worse, rec("claude", 110), rec("fresh", 50)])
    return old, new


def test_compare_shows_each_test_and_exits_1_on_a_regression(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    result = specbench("compare", *files, cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    (gpt,) = [line for line in lines if line.startswith("test_spec[gpt-notes]")]
    assert "PASSED → FAILED" in gpt and "174 → 120 (−54, −31 %)" in gpt and "min_features" in gpt
    assert gpt.endswith(
        "REGRESSED: requirements 174 → 120 (−31 % > 10 %, tolerance rule, 1 v 1): regressed; "
        "min_features newly failing (tolerance rule, 1 v 1): regressed"
    )
    (claude,) = [line for line in lines if line.startswith("test_spec[claude-notes]")]
    assert claude.endswith("no regression") and "100 → 110 (+10, +10 %)" in claude
    assert any(line.startswith("test_spec[fresh-notes]") and line.endswith("new test") for line in lines)
    assert any(
        line.startswith("test_spec[gone-notes]") and line.endswith("not in the new results") for line in lines
    )
    assert lines[-2:] == [
        "1 of 4 tests regressed",
        "1 of 3 baseline tests are not in the new results: test_spec[gone-notes] — run them, or pass "
        "--allow-missing if they were left out on purpose",
    ]


def test_compare_as_markdown_and_json_and_with_a_looser_gate(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    markdown = specbench("compare", *files, "--format", "markdown", cwd=tmp_path)
    as_json = specbench("compare", *files, "--format=json", cwd=tmp_path)
    looser = specbench("compare", files[0], files[0], "--max-requirements-drop", "0.5", cwd=tmp_path)

    assert markdown.stdout.startswith("| test | outcome | feat | reqs |")
    assert markdown.stdout.splitlines()[1].startswith("| --- | --- |")
    rows = {row["key"]: row for row in json.loads(as_json.stdout)}
    assert rows["evals/test_specs.py::test_spec[gpt-notes]"]["regressed"] is True
    assert rows["evals/test_specs.py::test_spec[claude-notes]"]["regressed"] is False
    assert as_json.returncode == 1
    assert looser.returncode == 0 and looser.stdout.splitlines()[-1] == "no regression in 3 tests"


def test_merge_joins_shards_and_refuses_a_test_twice(files: tuple[Path, Path], tmp_path: Path) -> None:
    a = write(tmp_path / "a.json", [rec("gpt", 1)])
    b = write(tmp_path / "b.json", [rec("claude", 2), rec("fresh", 3)])

    merged = specbench("merge", a, b, "-o", "out/results.json", cwd=tmp_path)
    twice = specbench("merge", a, a, "-o", "twice.json", cwd=tmp_path)

    assert merged.returncode == 0, merged.stderr
    records = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["model"] for r in records] == ["gpt", "claude", "fresh"]
    assert twice.returncode == 2 and not (tmp_path / "twice.json").exists()
    assert twice.stderr.strip() == (
        f"specbench: error: {a}: evals/test_specs.py::test_spec[gpt-notes] is also in {a} — "
        "merge the results of shards that ran disjoint tests (-k, --specbench-models, --specbench-briefs)"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "missing.json", "new.json"], "missing.json: no such file"),
        (["compare", "bad.json", "new.json"], "bad.json: not JSON"),
        (["merge", "old.json", "v2.json", "-o", "m.json"], "record test_spec[x-notes] has results version 2"),
        (["compare", "old.json", "new.json", "--max-cost-increase", "lots"], "not a number: 'lots'"),
        (["merge", "old.json"], "the following arguments are required: -o/--output"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    files: tuple[Path, Path], tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "bad.json").write_text("<html>")
    write(tmp_path / "v2.json", [{**rec("x", 1), "version": 2}])

    result = specbench(*args, cwd=tmp_path)

    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_new_file_without_the_baseline_tests_fails_unless_allowed(tmp_path: Path) -> None:
    """A shard that ran nothing must not pass the gate: every baseline test missing is named."""
    old = write(tmp_path / "old.json", [rec("gpt", 174), rec("claude", 100)])
    empty = write(tmp_path / "empty.json", [])

    failed = specbench("compare", old, empty, cwd=tmp_path)
    as_json = specbench("compare", old, empty, "--format=json", cwd=tmp_path)
    allowed = specbench("compare", old, empty, "--allow-missing", cwd=tmp_path)

    assert failed.returncode == 1
    assert failed.stdout.splitlines()[-1].startswith(
        "2 of 2 baseline tests are not in the new results: test_spec[gpt-notes], test_spec[claude-notes] — "
    )
    assert as_json.returncode == 1 and json.loads(as_json.stdout)[0]["gate"] == "not in the new results"
    assert "2 of 2 baseline tests are not in the new results" in as_json.stderr
    assert allowed.returncode == 0 and allowed.stdout.splitlines()[-1] == "no regression in 2 tests"


def test_html_refuses_a_test_twice_as_compare_and_merge_do(tmp_path: Path) -> None:
    twice = write(tmp_path / "twice.json", [rec("gpt", 1), rec("gpt", 1)])
    (tmp_path / "report.html").write_text("the old page")

    result = specbench("html", twice, "-o", "report.html", cwd=tmp_path)

    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"specbench: error: {twice}: evals/test_specs.py::test_spec[gpt-notes] appears twice"
        " — keep one record per test"
    )
    assert (tmp_path / "report.html").read_text() == "the old page"


@pytest.mark.parametrize("command", ["html", "merge"])
def test_an_output_that_is_a_directory_is_one_line(tmp_path: Path, command: str) -> None:
    results = write(tmp_path / "results.json", [rec("gpt", 1)])
    (tmp_path / "out").mkdir()

    result = specbench(command, results, "-o", "out", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.strip() == "specbench: error: -o out: not a regular file; name the file to write"


def test_python_m_runs_the_same_command(files: tuple[Path, Path], tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest_specbench", "compare", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1 and "REGRESSED" in result.stdout
