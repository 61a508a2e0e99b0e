"""A mutated cassette replayed by the plugin under `--specbench-record-mode=none`: an ERROR, never a pass.

One suite of many tests (one per mutation, each with its own cassette) is recorded once against
the loopback provider and replayed once with every cassette mutated, in a subprocess held to a
time bound: each mutation is its own test here, read from that one replay. A harmless edit
(whitespace, key order, line endings) replays as the run it was; any other is an infrastructure
ERROR whose one line names the cassette file and the field, with no traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench.testing import FakeProvider, Reply, call

RUN_SECONDS = 120.0
"""The replay of every mutation at once; one that hangs fails them all instead of stalling the suite."""
Lines = list[dict[str, Any]]
Mutation = Callable[[str], str]


def lines_edit(change: Callable[[Lines], None]) -> Mutation:
    """A mutation of the parsed lines, written back one JSON object per line."""

    def mutate(text: str) -> str:
        lines = [json.loads(line) for line in text.splitlines()]
        change(lines)
        return "".join(json.dumps(line) + "\n" for line in lines)

    return mutate


def put(index: int, keys: tuple[str | int, ...], value: Any) -> Mutation:
    """Line `index`'s value at `keys` set to `value`."""

    def change(lines: Lines) -> None:
        target: Any = lines[index]
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return lines_edit(change)


def drop(index: int, keys: tuple[str | int, ...]) -> Mutation:
    """Line `index`'s value at `keys` deleted."""

    def change(lines: Lines) -> None:
        target: Any = lines[index]
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return lines_edit(change)


def raw(change: Callable[[list[str]], list[str]]) -> Mutation:
    """A mutation of the file's lines as text."""
    return lambda text: "".join(change(text.splitlines(keepends=True)))


def request(key: str, value: Any) -> Mutation:
    return put(1, ("request", key), value)


OTHER_MODEL = {"id": "gpt", "provider": "openai", "name": "gpt-4o"}
HARMLESS = None
MUTATIONS: dict[str, tuple[Mutation, str | None]] = {
    # harmless: the same JSON, written otherwise
    "indented": (raw(lambda ls: [json.dumps(json.loads(line), indent=None, separators=(", ", " : ")) + "\n"
                               for line in ls]), HARMLESS),
    "keys-reordered": (raw(lambda ls: [json.dumps(json.loads(line), sort_keys=True) + "\n" for line in ls]),
                       HARMLESS),
    "crlf": (raw(lambda ls: [line.replace("\n", "\r\n") for line in ls]), HARMLESS),
    # the recorded requests
    "messages-a-string": (request("messages", "x"), "request.messages"),
    "messages-a-number": (request("messages", [1]), "request.messages[0]"),
    "messages-empty-object": (request("messages", [{}]), "request.messages[0]"),
    "messages-edited": (request("messages", [{"role": "user", "text": "Specify another app."}]),
                        "messages[0]"),
    "messages-from-negative": (request("messages_from", -1), "messages_from"),
    "system-edited": (request("system", "be brief"), "system prompt"),
    "system-a-number": (request("system", 7), "request.system"),
    "tools-deleted": (drop(1, ("request", "tools")), "tool names"),
    "tools-not-a-list": (request("tools", "x"), "request.tools"),
    "tool-description-edited": (put(1, ("request", "tools", 0, "description"), "Anything."), "description"),
    "later-messages-edited": (put(2, ("request", "messages", 1, "results", 0, "content"), "x"),
                              "tool result"),
    "hash-a-number": (put(1, ("hash",), 7), "hash"),
    # the recorded answers
    "answer-missing": (drop(1, ("answer",)), "answer"),
    "answer-stop-unknown": (put(1, ("answer", "stop_reason"), "tired"), "stop_reason"),
    "answer-calls-a-string": (put(1, ("answer", "tool_calls"), "x"), "tool_calls"),
    "answer-usage-a-string": (put(1, ("answer", "usage"), "x"), "usage"),
    "answer-tokens-negative": (put(1, ("answer", "usage", "input_tokens"), -1), "input_tokens"),
    "answer-text-null": (put(1, ("answer", "text"), None), "text"),
    "exchange-seconds-a-string": (put(1, ("seconds",), "1.5"), "seconds"),
    "exchange-turn-true": (put(1, ("turn",), True), "turn"),
    "exchange-deleted": (raw(lambda ls: [ls[0], *ls[2:]]), "turn"),
    "exchange-duplicated": (raw(lambda ls: [ls[0], ls[1], *ls[1:]]), "turn"),
    # the header
    "model-null": (put(0, ("model",), None), "header.model"),
    "model-missing": (drop(0, ("model",)), "header.model"),
    "model-another": (put(0, ("model",), OTHER_MODEL), "header.model"),
    "model-name-another": (put(0, ("model", "name"), "gpt-x"), "header.model"),
    "scaffold-changed": (put(0, ("scaffold",), "full"), "header.scaffold"),
    "scaffold-missing": (drop(0, ("scaffold",)), "header.scaffold"),
    "brief-changed": (put(0, ("brief",), "other"), "header.brief"),
    "sampling-a-string": (put(0, ("sampling",), "x"), "header.sampling"),
    "sampling-empty": (put(0, ("sampling",), {}), "header.sampling"),
    "sampling-temperature": (put(0, ("sampling", "temperature"), 0.7), "header.sampling"),
    "version-true": (put(0, ("version",), True), "version"),
    "version-2": (put(0, ("version",), 2), "version"),
    "sample-true": (put(0, ("sample",), True), "sample"),
    "test-id-another": (put(0, ("test_id",), "test_other[writer-notes]"), "test_other"),
    "context-window-a-string": (put(0, ("context_window",), "x"), "header.context_window"),
    "context-window-negative": (put(0, ("context_window",), -5), "header.context_window"),
    "specbench-version-a-number": (put(0, ("specbench_version",), 7), "header.specbench_version"),
    "recorded-at-a-list": (put(0, ("recorded_at",), []), "header.recorded_at"),
    "header-unknown-field": (put(0, ("note",), "hand-added"), "header.note"),
    "request-unknown-field": (request("temperature", 1.0), "request.temperature"),
    "answer-unknown-field": (put(1, ("answer", "refusal"), "no"), "answer.refusal"),
    "context-another": (put(0, ("context",), "mask"), "header.context"),
    "header-a-list": (raw(lambda ls: ["[1]\n", *ls[1:]]), "kind"),
    # the end line and the file's shape
    "end-seconds-a-string": (put(-1, ("seconds",), "x"), "seconds"),
    "end-turns-off": (put(-1, ("turns",), 99), "turns"),
    "end-missing": (raw(lambda ls: ls[:-1]), "truncated"),
    "after-end": (raw(lambda ls: [*ls, ls[1]]), "after the end"),
    "blank-line": (raw(lambda ls: [ls[0], "\n", *ls[1:]]), "not JSON"),
    "garbage-line": (raw(lambda ls: [ls[0], "{\x00nope\n", *ls[1:]]), "not JSON"),
    "empty-file": (raw(lambda ls: []), "empty"),
    "not-utf8": (lambda text: text.replace("Specify", "Sp\udcffecify"), "cannot read"),
}  # fmt: skip
CASES = list(MUTATIONS)
TEST_NAME = "test_c{:02d}"


def cassette_name(index: int) -> str:
    return f"{TEST_NAME.format(index)}.writer-notes.jsonl"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One test of the replay: its outcome and what the report says about it."""

    outcome: str
    section: str
    """The test's block in the ERRORS section of pytest's output ('' if it has none)."""


def _suite(root: Path, base_url: str, count: int) -> None:
    codebase = root / "codebases" / "notes"
    codebase.mkdir(parents=True)
    (codebase / "app.py").write_text("def add_note(text):\n    return text.strip()\n")
    (root / "specbench.toml").write_text(
        "[defaults]\nmax_turns = 10\n"
        f'[models.writer]\nprovider = "openai"\nmodel = "scripted-writer"\nbase_url = "{base_url}"\n'
        'api_key_env = "SPECBENCH_TEST_KEY"\n'
        '[briefs.notes]\ncodebase = "codebases/notes"\nprompt = "Specify this app."\n'
    )
    (root / "pytest.ini").write_text("[pytest]\nspecbench_config = specbench.toml\n")
    body = "".join(
        f"def {TEST_NAME.format(i)}(spec_run):\n    assert spec_run.transcript\n\n" for i in range(count)
    )
    (root / "test_mutated_cassettes.py").write_text(body)


SCRIPT = [
    Reply(tool_calls=[call("read_file", path="app.py")]),
    Reply(tool_calls=[call("create_feature", title="Notes", description="Keeps notes.")]),
    Reply.final("Wrote 1 feature."),
]


def _pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # As pytester does: the outer run's own options (PYTEST_ADDOPTS="-n 2" in CI) are not this run's.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    env |= {"SPECBENCH_TEST_KEY": "sk-test-key", "PY_COLORS": "0"}
    argv = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", *args]
    return subprocess.run(
        argv, cwd=root, env=env, capture_output=True, text=True, timeout=RUN_SECONDS, check=False
    )


_LINE = re.compile(r"^(PASSED|FAILED|ERROR) test_mutated_cassettes\.py::(test_c\d+)\[", re.M)
_SECTION = re.compile(r"^_+ ERROR at \w+ of (test_c\d+)\[[^\n]*$", re.M)


def _outcomes(output: str) -> dict[str, Outcome]:
    """Each test's outcome (from `-rA`) and its block in the ERRORS section."""
    heads = list(_SECTION.finditer(output))
    sections: dict[str, str] = {}
    for head, after in zip(heads, [*heads[1:], None], strict=True):
        end = after.start() if after else output.find("=====", head.end())
        sections[head.group(1)] = output[head.end() : end]
    return {m.group(2): Outcome(m.group(1), sections.get(m.group(2), "")) for m in _LINE.finditer(output)}


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    """Record the suite once, mutate each test's cassette, replay every one under `none`."""
    root = tmp_path_factory.mktemp("mutated-cassettes")
    with FakeProvider() as provider:
        provider.script("scripted-writer", SCRIPT)
        _suite(root, provider.openai_base_url, len(CASES))
        recorded = _pytest(root, "--specbench-record-mode=all", "-q")
        assert recorded.returncode == 0, recorded.stdout[-3000:]
    for index, name in enumerate(CASES):
        path = root / "cassettes" / cassette_name(index)
        mutate, _ = MUTATIONS[name]
        path.write_bytes(mutate(path.read_text()).encode("utf-8", "surrogateescape"))
    result = _pytest(root, "--specbench-record-mode=none", "-rA", "-p", "no:xdist")
    yield _outcomes(result.stdout)


@pytest.mark.parametrize("name", CASES)
def test_a_mutated_cassette_is_an_error_naming_file_and_field(
    replayed: dict[str, Outcome], name: str
) -> None:
    index = CASES.index(name)
    got = replayed[TEST_NAME.format(index)]
    field = MUTATIONS[name][1]
    if field is HARMLESS:
        assert got.outcome == "PASSED", got.section
        return
    error = [line for line in got.section.splitlines() if "CassetteError" in line]
    assert got.outcome == "ERROR", got
    assert "Traceback" not in got.section and len(error) == 1, got.section
    assert cassette_name(index) in error[0] and field in error[0], error[0]
