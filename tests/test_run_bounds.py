"""Each run's environment is bounded: its copy of the codebase, and the tasks its samples start."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from pytest_specbench._run.plan import RunPlan
from pytest_specbench._run.samples import Harness, Opened, run_samples
from pytest_specbench.agent.tools import RunPaths, Transport
from pytest_specbench.config.settings import BARE, BriefConfig, ModelConfig, Provider, RecordMode, RunSettings
from pytest_specbench.errors import InfrastructureError
from pytest_specbench.redact import Redactor
from pytest_specbench.scaffold import ScaffoldedTools


def codebase(root: Path, files: int) -> Path:
    root.mkdir()
    for number in range(files):
        (root / f"f{number}.py").write_text("pass\n")
    return root


def test_the_copy_stops_at_the_briefs_limit_with_one_line(tmp_path: Path) -> None:
    """Counted at load, the tree may have grown since: the copy itself is bounded too."""
    brief = BriefConfig("b", codebase(tmp_path / "code", 3), "p", max_codebase_files=2)
    (tmp_path / "run").mkdir()

    with pytest.raises(InfrastructureError) as caught:
        RunPaths.create(brief, tmp_path / "run")

    message = str(caught.value)
    assert (
        "now holds more than 2 files" in message and "max_codebase_files" in message and "\n" not in message
    )


def test_the_copy_keeps_links_as_links_and_skips_fifos(tmp_path: Path) -> None:
    outside = codebase(tmp_path / "outside", 50)
    code = codebase(tmp_path / "code", 1)
    (code / "out").symlink_to(outside, target_is_directory=True)
    os.mkfifo(code / "pipe")
    brief = BriefConfig("b", code, "p", max_codebase_files=2)
    (tmp_path / "run").mkdir()

    paths = RunPaths.create(brief, tmp_path / "run")

    assert (paths.codebase / "out").is_symlink() and not (paths.codebase / "pipe").exists()


def _plan(tmp_path: Path, repeats: int) -> RunPlan:
    return RunPlan(
        test_id="test_spec[m-b]",
        nodeid="t.py::test_spec[m-b]",
        model=ModelConfig("m", Provider.OPENAI, "x"),
        brief=BriefConfig("b", tmp_path, "p"),
        scaffold=BARE,
        settings=RunSettings(repeats=repeats, max_concurrency=2),
        system_prompt="",
        record_mode=RecordMode.OFF,
        cassette_dir=tmp_path,
        transport=Transport.MEMORY,
        redactor=Redactor(),
        root=tmp_path,
    )


def test_a_thousand_samples_start_no_more_tasks_than_max_concurrency(tmp_path: Path) -> None:
    """A task per sample up front was 10**9 tasks before repeats was capped; now max_concurrency."""
    seen: list[int] = []
    started: list[int] = []

    @asynccontextmanager
    async def client(number: int, paths: RunPaths) -> AsyncIterator[Opened]:
        seen.append(len(anyio.get_running_tasks()))
        raise InfrastructureError("no model here")
        yield  # pragma: no cover

    def tools(number: int, paths: RunPaths) -> ScaffoldedTools:
        raise AssertionError("never reached")

    def paths(number: int) -> RunPaths:
        started.append(number)  # where a real sample copies the codebase
        return RunPaths(tmp_path, tmp_path / "specs", tmp_path)

    harness = Harness(
        open_client=client,
        open_tools=tools,  # type: ignore[arg-type]
        paths=paths,
        save_transcript=lambda number, transcript: None,
    )

    with pytest.raises(InfrastructureError, match="sample 1: no model here"):
        anyio.run(run_samples, _plan(tmp_path, 1000), harness)

    assert seen and max(seen) <= 2 + 2  # the two workers, the main task and anyio's own
    # The first failure stops the rest: each worker starts at most the sample it already held
    # (a sample copies the codebase before its first await, so a cancelled worker must notice).
    assert 1 <= len(started) <= 2, started
