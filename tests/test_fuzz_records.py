"""Mutations found by fuzzing a real session's results.json that still crashed `specbench html`.

Each case is a record the validator accepts (a check without `detail`, a fractional
`requirements_vs_bare`, as a run with repeats writes it): the page must render, never a traceback.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
from test_fuzz_inputs import BASE

from pytest_specbench.cli import main


def run_cli(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def _without_detail(records: list[dict[str, Any]]) -> None:
    records[0]["checks"] = [
        {"name": "min_features", "passed": False},
        {"name": "no_regression", "passed": True},
    ]


def _fractional_effect(records: list[dict[str, Any]]) -> None:
    records[1]["scaffold"] = "full"
    records[1]["requirements_vs_bare"] = 1.5
    records[1]["requirements_ratio_vs_bare"] = 1.25


@pytest.mark.parametrize("mutate", [_without_detail, _fractional_effect])
@pytest.mark.parametrize("command", ["html", "compare", "merge"])
def test_a_valid_but_unusual_record_is_rendered_not_a_traceback(
    tmp_path: Path, mutate: Any, command: str
) -> None:
    records = copy.deepcopy(BASE)
    mutate(records)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(records))
    args: list[str | Path] = {
        "html": ["html", path, "-o", tmp_path / "page.html"],
        "compare": ["compare", path, path],
        "merge": ["merge", path, "-o", tmp_path / "merged.json"],
    }[command]

    status, _, err = run_cli(*args)

    assert status == 0, err
