"""`specbench compare` with repeats: the plugin's rules and words, and exit 1 only on `regressed`."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench.config.gate import GateFamily, GateTolerances
from pytest_specbench.verdicts.regression import check_no_regression

SPECBENCH = shutil.which("specbench", path=str(Path(sys.executable).parent))


def specbench(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert SPECBENCH, "the specbench console script is installed beside this Python"
    return subprocess.run([SPECBENCH, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=60)


def spread(values: list[int]) -> dict[str, float]:
    """A metric of a run with repeats, as the plugin writes it."""
    numbers = [float(v) for v in values]
    mean, sd = statistics.fmean(numbers), statistics.stdev(numbers)
    return {"mean": round(mean, 4), "stdev": round(sd, 4), "min": min(numbers), "max": max(numbers)}


def repeated(model: str, requirements: list[int]) -> dict[str, Any]:
    """A valid record of a run with repeats on a brief without reference features."""
    n = len(requirements)
    mean = round(sum(requirements) / n, 4)
    return {
        "version": 1,
        "test_id": f"test_spec[{model}-notes]",
        "nodeid": f"evals/test_specs.py::test_spec[{model}-notes]",
        "model": model,
        "outcome": "passed",
        "checks": [{"name": "min_features", "passed": True, "detail": ""}],
        "requirements": mean,
        "features": 3.0,
        "feature_recall": None,
        "samples": n,
        "metrics": {
            "requirements": spread(requirements),
            "features": spread([3] * n),
            "feature_recall": None,
        },
        "per_sample": [
            {
                "requirements": r,
                "features": 3,
                "feature_recall": None,
                "checks": [{"name": "min_features", "passed": True}],
            }
            for r in requirements
        ],
    }


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    old = [
        repeated("tight", [170, 178, 174]),
        repeated("wide", [174, 150, 196]),
        repeated("same", [50, 51, 49]),
    ]
    new = [
        repeated("tight", [110, 125, 125]),
        repeated("wide", [160, 145, 180]),
        repeated("same", [50, 49, 51]),
    ]
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    return tmp_path / "old.json", tmp_path / "new.json"


def test_compare_judges_repeats_by_the_plugins_rules_in_its_words(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    result = specbench("compare", *files, cwd=tmp_path)

    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("test_spec[")}
    old, new = (json.loads(f.read_text()) for f in files)
    plugin = check_no_regression(new[0], old[0], GateTolerances(), "baseline").detail
    assert rows["test_spec[tight-notes]"].endswith(f"REGRESSED: {plugin}")
    assert plugin == (
        "requirements 174 → 120 (−31 %, 90 % CI −39 % … −23 %, one-sided p = 0.004, Welch/log, 3 v 3): "
        "regressed"
    )
    assert (
        "inconclusive: requirements 173 → 162 (−7 %, 90 % CI −25 % … +16 %" in rows["test_spec[wide-notes]"]
    )
    assert result.stdout.splitlines()[-1] == "1 of 3 tests regressed, 1 inconclusive"


def test_inconclusive_passes_unless_asked_and_json_keeps_the_numbers(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    old, new = files
    only_wide = tmp_path / "wide.json"
    only_wide.write_text(json.dumps([r for r in json.loads(new.read_text()) if r["model"] != "tight"]))

    # `tight` left out on purpose: --allow-missing, or the missing test alone would fail the gate.
    lenient = specbench("compare", old, only_wide, "--allow-missing", cwd=tmp_path)
    strict = specbench("compare", old, only_wide, "--allow-missing", "--fail-on-inconclusive", cwd=tmp_path)
    as_json = specbench("compare", old, only_wide, "--allow-missing", "--format=json", cwd=tmp_path)

    assert (
        lenient.returncode == 0
        and lenient.stdout.splitlines()[-1] == "no regression in 3 tests, 1 inconclusive"
    )
    assert strict.returncode == 1
    rows = {row["key"].split("::")[1]: row for row in json.loads(as_json.stdout)}
    wide = rows["test_spec[wide-notes]"]
    assert (wide["verdict"], wide["regressed"]) == ("inconclusive", False)
    (metric,) = [m for m in wide["regression"]["metrics"] if m["metric"] == "requirements"]
    assert metric["method"] == "Welch/log" and metric["n"] == [3, 3] and metric["samples_needed"] > 2
    assert rows["test_spec[same-notes]"]["verdict"] == "no regression"
    assert rows["test_spec[tight-notes]"]["verdict"] is None  # only in the old file


def test_a_bad_alpha_is_one_line_and_exit_2(files: tuple[Path, Path], tmp_path: Path) -> None:
    result = specbench("compare", *files, "--alpha", "0.9", cwd=tmp_path)

    assert result.returncode == 2 and "must be greater than 0 and at most 0.5, got 0.9" in result.stderr


def test_a_session_familys_results_are_decided_over_the_file(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    """`[gate] family = "session"`: compare decides the tests together, as the session did (BH)."""
    old, new = files
    session = tmp_path / "session.json"
    gate = GateTolerances(family=GateFamily.SESSION).fields()
    session.write_text(json.dumps([r | {"gate": gate} for r in json.loads(new.read_text())]))

    result = specbench("compare", old, session, cwd=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("test_spec[")}
    assert "REGRESSED: requirements 174 → 120" in rows["test_spec[tight-notes]"]
    assert "BH" in rows["test_spec[tight-notes]"] and "decided at session end" not in result.stdout
