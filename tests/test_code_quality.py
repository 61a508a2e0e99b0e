"""Lint, format and type checks run as part of the test command, so CI enforces them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON_TREES = ["pytest_specbench", "tests", "bench", "evals", "docs/hooks.py", "conftest.py"]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    "argv",
    [
        ("ruff", "check", *PYTHON_TREES),
        ("ruff", "format", "--check", *PYTHON_TREES),
        ("mypy",),
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_tool_is_clean(argv: tuple[str, ...]) -> None:
    result = run(*argv)
    assert result.returncode == 0, result.stdout + result.stderr
