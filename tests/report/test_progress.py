"""Live progress: one updating line per running test on a terminal, one line per finished run off it."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sessiondata import write_suite

from pytest_specbench.agent.transcript import AssistantEvent, StopEvent, ToolCallEvent, Transcript
from pytest_specbench.report.progress import ProgressWriter, RunProgress, finished_line, progress_line
from pytest_specbench.testing import FakeProvider, Fault, Reply, call

SLOW = Fault(kind="delay", seconds=1.2)
"""Each model turn takes longer than two redraws, so the display shows every step."""
DRAW = re.compile(r"(?:\r?\n\x1b\[2K[^\r\n\x1b]*)+\x1b\[\d+A\r(?:\x1b\[\d+C)?")
CLEAR = re.compile(r"\r?\n\x1b\[J\x1b\[1A\r(?:\x1b\[\d+C)?")
COLOUR = re.compile(r"\x1b\[[\d;]*m")


def slow_script(provider: FakeProvider) -> None:
    """Both models: one feature, one requirement, an answer; each of the first two turns slow."""
    requirement = call(
        "create_requirement", feature_id="F-0001", title="R", description="d", acceptance_criteria=["c"]
    )
    steps = [
        Reply(tool_calls=[call("create_feature", title="Notes", description="Notes.")], faults=[SLOW]),
        Reply(tool_calls=[requirement], faults=[SLOW]),
        Reply.final("Wrote 1 feature."),
    ]
    for model in ("scripted-alpha", "scripted-beta"):
        provider.script(model, steps)


def test_progress_is_counted_from_the_transcript_as_it_grows(tmp_path: Path) -> None:
    writer = ProgressWriter(tmp_path)
    transcript = Transcript(listeners=[writer.listener("test_spec[m-b]", sample="2/3")])
    transcript.append(AssistantEvent(1, "", (), 100, 20, "tool_use", 0.1))
    for name, result, error in [
        ("create_feature", "Created feature F-0001 at specs/…", False),
        ("create_requirement", "Created requirement R-0001 at specs/…", False),
        ("create_requirement", "Created requirement R-0002 at specs/…", False),
        ("create_requirement", "unknown feature F-0009", True),
        ("delete_item", "Deleted requirement R-0002", False),
    ]:
        transcript.append(ToolCallEvent(1, "c", name, "{}", result, error, 0.0))

    lines = (tmp_path / f"{os.getpid()}.jsonl").read_text().splitlines()
    last = RunProgress(**json.loads(lines[-1]))
    assert len(lines) == 7  # the start, then one line per event
    line = progress_line(last)
    assert re.fullmatch(
        r"test_spec\[m-b\]  sample 2/3 · turn 1 · 5 calls · 1 feat · 1 reqs · 120 tok · \ds", line
    )
    transcript.append(StopEvent("final_answer", "final answer at turn 1"))
    assert '"done": true' in (tmp_path / f"{os.getpid()}.jsonl").read_text().splitlines()[-1]


def test_a_finished_line_has_the_outcome_and_the_numbers() -> None:
    record = {
        "test_id": "test_spec[m-b]",
        "outcome": "error",
        "turns": 2,
        "tool_calls": 1,
        "features": 0,
        "requirements": 0,
        "input_tokens": 1200,
        "output_tokens": 34,
        "seconds": 3.14,
        "error": "HTTP 503",
    }

    expected = "test_spec[m-b] ERROR · 2 turns · 1 call · 0 feat · 0 reqs · 1,234 tok · 3.1s · HTTP 503"
    assert finished_line(record) == f"specbench: {expected}"
    skipped = {"test_id": "test_spec[m-b]", "outcome": "skipped", "skip_reason": "$KEY is not set"}
    assert finished_line(skipped) == "specbench: test_spec[m-b] SKIPPED · $KEY is not set"


@pytest.fixture
def slow_suite(pytester: pytest.Pytester, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    """The report suite in the pytester directory, its two models slow enough to watch."""
    monkeypatch.setenv("SPECBENCH_TEST_KEY", "sk-test-key")
    slow_script(provider)
    write_suite(pytester.path, provider)


@pytest.mark.usefixtures("slow_suite")
def test_off_a_terminal_each_finished_run_gets_one_line(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    result = pytester.runpytest("--specbench-transport=memory", *xdist_args)
    quiet = pytester.runpytest("--specbench-transport=memory", "--specbench-progress=off", *xdist_args)

    result.assert_outcomes(failed=2)
    for model in ("alpha", "beta"):
        numbers = "3 turns · 2 calls · 1 feat · 1 reqs · 45 tok · *s"
        result.stdout.fnmatch_lines([f"specbench: test_spec[[]{model}-notes[]] FAILED · {numbers}"])
    assert "\x1b[" not in result.stdout.str()
    quiet.assert_outcomes(failed=2)
    assert "specbench: test_spec" not in quiet.stdout.str()


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["inprocess", "xdist"])
def test_on_a_terminal_each_running_test_has_a_line_that_updates_in_place(
    tmp_path: Path, provider: FakeProvider, xdist: list[str]
) -> None:
    slow_script(provider)
    write_suite(tmp_path, provider)

    output = run_in_terminal(tmp_path, "--specbench-transport=memory", *xdist)

    for model in ("alpha", "beta"):
        assert re.search(
            rf"\x1b\[2Ktest_spec\[{model}-notes\]  turn 1 · 1 call · 1 feat · 0 reqs · 15 tok", output
        )
    plain = COLOUR.sub("", CLEAR.sub("", DRAW.sub("", output)))
    assert "\x1b[" not in plain  # every move of ours was paired and is gone: what is left is pytest's own
    assert re.search(r"\r\n(test_report_suite\.py )?FF +\[100%\]\r\n", plain), plain
    assert "specbench: test_spec" not in plain  # the finished lines are for logs, not terminals


@pytest.mark.usefixtures("slow_suite")
def test_on_forces_the_live_lines_without_a_terminal(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    # A subprocess: its stdout is a real pipe, which the display writes to past pytest's capture.
    result = pytester.runpytest_subprocess(
        "--specbench-transport=memory", "--specbench-progress=on", *xdist_args
    )

    result.assert_outcomes(failed=2)
    output = result.stdout.str()
    assert "\x1b[2Ktest_spec[alpha-notes]  turn 1 · 1 call · 1 feat" in output
    assert "specbench: test_spec" not in output


def run_in_terminal(directory: Path, *args: str) -> str:
    """pytest's output when its stdout is a pseudo-terminal."""
    leader, follower = pty.openpty()
    env = {**os.environ, "SPECBENCH_TEST_KEY": "sk-test-key", "COLUMNS": "120"}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    process = subprocess.Popen(
        command, cwd=directory, env=env, stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: pytest is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode()


def test_each_sample_of_a_run_with_repeats_has_its_own_live_line(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    name = suite.model("alpha")
    suite.brief("notes", repeats=2)
    suite.write("def test_spec(spec_run):\n    assert len(spec_run.samples) == 2\n")
    slow = Reply(tool_calls=[call("list_files")], faults=[SLOW])
    provider.script(name, [slow, slow, slow, Reply.final("Done.")])  # each sample runs for seconds

    # A subprocess: its stdout is a real pipe, which the display writes to past pytest's capture.
    result = pytester.runpytest_subprocess("--specbench-progress=on")

    result.assert_outcomes(passed=1)
    output = result.stdout.str()
    for sample in ("1/2", "2/2"):
        assert f"\x1b[2Ktest_spec[alpha-notes]  sample {sample} · turn" in output, output
