"""What the plugin does with a cassette that is not the run's, end to end: an ERROR in one line, never
a pass, a hang or a traceback.

The suite is recorded against the loopback provider, the provider is stopped, and the cassette is
replaced (a FIFO, a directory, a line of 50 MB) or edited as a hand edit or a copy would; the replay
runs under `--specbench-record-mode=none`, in a subprocess with a time bound where the old code hung.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench.testing import FakeProvider, Reply, call

CASSETTE = Path("cassettes") / "test_spec.writer-notes.jsonl"
SECONDS = 60.0
"""A replay that takes longer hangs (a replay of this suite takes about a second)."""


def record(suite: Any, provider: FakeProvider, pytester: pytest.Pytester) -> Path:
    """The suite's one test recorded, the provider then stopped: its cassette's path."""
    name = suite.model("writer", api_key_env="SPECBENCH_TEST_KEY")
    provider.script(
        name,
        [
            Reply(tool_calls=[call("read_file", path="app.py")]),
            Reply(tool_calls=[call("create_feature", title="Notes", description="Keeps notes.")]),
            Reply.final("Done."),
        ],
    )
    suite.brief("notes")
    suite.write("def test_spec(spec_run):\n    assert spec_run.transcript\n")
    pytester.runpytest("--specbench-record-mode=once").assert_outcomes(passed=1)
    provider.stop()
    return pytester.path / CASSETTE


def edit_line(path: Path, index: int, keys: tuple[str, ...], value: Any) -> None:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    target = lines[index]
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def replay(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """The suite replayed in a subprocess, killed (failing the test) after SECONDS."""
    return pytester.runpytest_subprocess("--specbench-record-mode=none", "-p", "no:randomly", *args,
                                         timeout=SECONDS)  # fmt: skip


def one_line_error(result: pytest.RunResult, *patterns: str) -> None:
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*CassetteError: *{CASSETTE.name}*{p}*" for p in patterns])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_a_fifo_at_the_cassettes_path_is_refused_not_waited_on(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    path = record(suite, provider, pytester)
    path.unlink()
    os.mkfifo(path)  # opening it for reading waits for a writer that never comes

    one_line_error(replay(pytester), "not a regular file*")


def test_a_directory_at_the_cassettes_path_is_refused(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    path = record(suite, provider, pytester)
    path.unlink()
    path.mkdir()

    one_line_error(replay(pytester), "not a regular file*")


@pytest.mark.parametrize("line", [0, 1], ids=["header", "exchange"])
def test_a_line_of_50_mb_is_refused_naming_the_limit(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, line: int
) -> None:
    path = record(suite, provider, pytester)
    keys = ("padding",) if line == 0 else ("request", "system")
    edit_line(path, line, keys, "x" * 50_000_000)

    one_line_error(replay(pytester), f":{line + 1}: a line longer than 32 MiB*")


def test_drift_at_a_turn_names_the_cassette_file_with_and_without_xdist(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    path = record(suite, provider, pytester)
    edit_line(path, 1, ("request", "system"), "be brief")

    one_line_error(replay(pytester, *xdist_args), ":2: cassette drift at turn 1: system prompt differs*")


def test_another_models_header_is_drift_naming_the_field_with_and_without_xdist(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    path = record(suite, provider, pytester)
    edit_line(path, 0, ("model", "name"), "gpt-x")

    one_line_error(replay(pytester, *xdist_args), ':1: cassette drift: header.model is *"gpt-x"*'
                   "this run's is *scripted-writer*")  # fmt: skip


def test_a_context_the_run_does_not_have_is_drift(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    path = record(suite, provider, pytester)
    edit_line(path, 0, ("context",), "mask")

    one_line_error(replay(pytester), ':1: cassette drift: header.context is "mask", this run has none*')


def test_a_malformed_answer_names_its_field_without_a_traceback(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    path = record(suite, provider, pytester)
    edit_line(path, 1, ("answer", "usage"), "x")

    one_line_error(replay(pytester), ':2: malformed exchange (answer.usage must be an object, got "x")*')
