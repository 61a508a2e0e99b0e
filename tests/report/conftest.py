"""The report's tests share one real session over loopback scripted models (see sessiondata.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sessiondata import script_models, write_suite

from pytest_specbench.testing import FakeProvider


@pytest.fixture(scope="module")
def report_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The report directory of a real pytest session (a subprocess) over scripted models: 2 × 2 runs."""
    directory = tmp_path_factory.mktemp("session")
    with FakeProvider() as provider:
        script_models(provider)
        write_suite(directory, provider)
        env = {**os.environ, "SPECBENCH_TEST_KEY": "sk-test-key"}
        args = [
            "--specbench-scaffolds",
            "bare,full",
            "--specbench-transport=memory",
            "--specbench-report=out",
        ]
        args += ["--specbench-html=out/report.html", "-p", "no:cacheprovider", "-q"]
        done = subprocess.run(
            [sys.executable, "-m", "pytest", *args], cwd=directory, env=env, capture_output=True, text=True
        )
    assert done.returncode == 1, done.stdout + done.stderr  # beta fails min_requirements
    records = json.loads((directory / "out" / "results.json").read_text())
    assert len(records) == 4, done.stdout
    yield directory / "out"
