"""`specbench power`: the samples per side a comparison needs, from the spread in a results file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from pytest_specbench.report.power import power_rows

SPECBENCH = shutil.which("specbench", path=str(Path(sys.executable).parent))


def repeated(model: str, requirements: list[int]) -> dict[str, Any]:
    per_sample = [
        {"requirements": r, "features": 3, "total_tokens": 1000 + 10 * r, "checks": []} for r in requirements
    ]
    return {"version": 1, "test_id": f"test_spec[{model}-notes]", "model": model, "per_sample": per_sample}


def test_the_spread_is_pooled_over_the_tests_and_planned_by_the_noncentral_t() -> None:
    records = [repeated("a", [174, 150, 196]), repeated("b", [160, 145, 180]), {"requirements": 5}]

    rows = {row[0]: row[1:] for row in power_rows(records, 0.1)}

    # The example: CV 12 % pooled over both sides, ≈ 18 samples per side for a 10 % drop.
    assert rows["requirements"] == ["2", "CV 12 %", "a 10 % drop", "18"]
    assert rows["features"] == ["2", "CV 0 %", "a 10 % drop", "2"]
    assert rows["recall"] == ["0", "-", "a 10-point drop", "no run with repeats has it"]
    assert rows["tokens"][1:] == ["CV 8 %", "a 10 % increase", "9"]
    assert {row[0]: row[4] for row in power_rows(records, 0.05)}["requirements"] == "71"  # scipy: 71


def test_the_command_prints_the_plan_and_refuses_a_bad_drop(tmp_path: Path) -> None:
    assert SPECBENCH, "the specbench console script is installed beside this Python"
    (tmp_path / "results.json").write_text(json.dumps([repeated("a", [174, 150, 196])]))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SPECBENCH, "power", *args], capture_output=True, text=True, cwd=tmp_path, timeout=60
        )

    plan, bad, missing = (
        run("results.json", "--drop", "0.2"),
        run("results.json", "--drop", "2"),
        run("no.json"),
    )

    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.splitlines()[0].split() == [
        "metric",
        "tests",
        "spread",
        "to",
        "detect",
        "samples",
        "per",
        "side",
    ]
    assert any(line.split()[:4] == ["requirements", "1", "CV", "13"] for line in plan.stdout.splitlines())
    assert "one-sided α = 0.05, 80 % power, noncentral t" in plan.stdout
    assert bad.returncode == 2 and "--drop: must be between 0 and 1, got 2" in bad.stderr
    assert (
        missing.returncode == 2
        and "no.json: no such file" in missing.stderr
        and "Traceback" not in missing.stderr
    )
