"""A cassette is checked, not trusted: one edited by hand, or another run's, is an error, never a pass.

Recorded and replayed through `open_for_mode`, as the plugin does, over the real loop and the
reference server (in memory); each mutation is one a hand edit or a copied file makes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pytest_specbench.agent.loop import Limits, run_agent
from pytest_specbench.agent.tools import RunPaths, Transport, open_tool_session
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.config.settings import BriefConfig, ModelConfig, Provider, RecordMode, RunSettings
from pytest_specbench.errors import CassetteError
from pytest_specbench.models.types import ModelClient
from pytest_specbench.redact import Redactor
from pytest_specbench.replay import cassette as cassette_file
from pytest_specbench.replay import finish, load_cassette, open_for_mode
from pytest_specbench.testing import FakeProvider, Reply, ScriptedClient, call

MODEL = ModelConfig(id="m", provider=Provider.OPENAI, model="scripted")
TEST_ID = "test_spec[m-b]"
LABELS = {"brief": "b", "scaffold": "bare"}
SCRIPT = [
    Reply(tool_calls=[call("read_file", path="app.py")]),
    Reply(tool_calls=[call("create_feature", title="Main", description="The entry point.")]),
    Reply.final("Wrote 1 feature."),
]
Lines = list[dict[str, Any]]


def drive(root: Path, mode: RecordMode, path: Path, model: ModelConfig = MODEL) -> Transcript:
    """One run in `root` through `open_for_mode`, recording or replaying `path`; finish included."""
    codebase = root / "code"
    codebase.mkdir(parents=True)
    (codebase / "app.py").write_text("def main():\n    return 1\n")
    paths = RunPaths(root / "ws", root / "ws" / "specs", codebase)
    paths.workspace.mkdir()
    brief = BriefConfig(id="b", codebase=codebase, prompt="Specify it.")
    transcript = Transcript()

    @asynccontextmanager
    async def live() -> AsyncIterator[ModelClient]:
        yield ScriptedClient(SCRIPT)

    async def main() -> None:
        opened = open_for_mode(
            mode, path, live, test_id=TEST_ID, sample=1, model=model, settings=RunSettings(),
            redact=Redactor(), paths=dataclasses.asdict(paths), labels=LABELS,
        )  # fmt: skip
        async with opened as client, open_tool_session(brief, paths, Transport.MEMORY, 10) as tools:
            limits = Limits(max_turns=10, timeout_s=30)
            await run_agent(
                client, tools, system="sys", prompt="Specify it.", limits=limits, transcript=transcript
            )
            finish(client)

    try:
        anyio.run(main)
    except BaseExceptionGroup as group:
        error: BaseException = group
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        raise error from None
    return transcript


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    path = tmp_path / "cassettes" / "test_spec.m-b.jsonl"
    drive(tmp_path / "rec", RecordMode.ALL, path)
    return path


def edit(path: Path, change: Callable[[Lines], None]) -> None:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    change(lines)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def setter(index: int, keys: tuple[str, ...], value: Any) -> Callable[[Lines], None]:
    def change(lines: Lines) -> None:
        target = lines[index]
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


def deleter(index: int, keys: tuple[str, ...]) -> Callable[[Lines], None]:
    def change(lines: Lines) -> None:
        target = lines[index]
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return change


BAD, HEADER = ":2: malformed exchange (", ":1: cassette drift: header."
MALFORMED = ":1: malformed header (header."


def request(key: str, value: Any) -> Callable[[Lines], None]:
    """Set `key` of the first exchange's request."""
    return setter(1, ("request", key), value)


OTHER_MODEL = {"id": "gpt", "provider": "openai", "name": "gpt-4o"}
MUTATIONS = {
    "messages-a-string": (request("messages", "x"), BAD + "request.messages must be a list)"),
    "messages-a-number": (request("messages", [1]), BAD + "request.messages[0] is not"),
    "messages-empty-object": (request("messages", [{}]), BAD + "request.messages[0] is not"),
    "messages-edited": (
        request("messages", [{"role": "user", "text": "Specify another app."}]),
        "cassette drift at turn 1: messages[0] (user message) differs",
    ),
    "system-edited": (request("system", "be brief"), "turn 1: system prompt differs"),
    "tools-deleted": (deleter(1, ("request", "tools")), "turn 1: tool names differ"),
    "tools-not-a-list": (request("tools", "x"), BAD + "request.tools must be"),
    "model-null": (setter(0, ("model",), None), MALFORMED + "model must be an object, got null)"),
    "model-missing": (deleter(0, ("model",)), HEADER + "model is missing"),
    "model-another": (setter(0, ("model",), OTHER_MODEL), 'header.model is {"id": "gpt"'),
    "scaffold-changed": (setter(0, ("scaffold",), "full"), 'scaffold is "full", this run\'s is "bare"'),
    "scaffold-missing": (deleter(0, ("scaffold",)), "header.scaffold is missing"),
    "brief-changed": (setter(0, ("brief",), "other"), 'header.brief is "other"'),
    "sampling-a-string": (setter(0, ("sampling",), "x"), MALFORMED + 'sampling must be an object, got "x")'),
    "sampling-empty": (setter(0, ("sampling",), {}), "header.sampling is {}"),
    "sampling-temperature": (setter(0, ("sampling", "temperature"), 0.7), "header.sampling is"),
    "version-true": (setter(0, ("version",), True), ":1: unknown cassette version true"),
    "sample-true": (setter(0, ("sample",), True), ":1: recorded for test_spec[m-b] sample True"),
    "test-id-another": (setter(0, ("test_id",), "test_spec[x-b]"), ":1: recorded for test_spec[x-b]"),
    "end-seconds-a-string": (setter(-1, ("seconds",), "x"), "malformed end line (the end line's seconds"),
    "exchange-seconds-a-string": (setter(1, ("seconds",), "1.5"), BAD + "seconds must be"),
    "exchange-turn-true": (setter(1, ("turn",), True), BAD + "turn true where turn 1"),
    "hash-a-number": (setter(1, ("hash",), 7), BAD + "hash must be a string)"),
}  # fmt: skip


def test_the_unedited_cassette_replays(recorded: Path, tmp_path: Path) -> None:
    transcript = drive(tmp_path / "rep", RecordMode.NONE, recorded)

    assert [t.text for t in transcript.assistant_turns()][-1] == "Wrote 1 feature."


@pytest.mark.parametrize("name", MUTATIONS)
def test_an_edited_or_foreign_cassette_is_an_error_naming_the_field(
    recorded: Path, tmp_path: Path, name: str
) -> None:
    change, expected = MUTATIONS[name]
    edit(recorded, change)

    with pytest.raises(CassetteError) as caught:
        drive(tmp_path / "rep", RecordMode.NONE, recorded)

    message = str(caught.value)
    assert expected in message and "\n" not in message and "re-record" in message


def test_a_replay_for_another_model_is_drift_in_the_header(recorded: Path, tmp_path: Path) -> None:
    other = dataclasses.replace(MODEL, id="m2")

    with pytest.raises(CassetteError, match=r'header.model is .*"id": "m".*this run\'s is .*"id": "m2"'):
        drive(tmp_path / "rep", RecordMode.NONE, recorded, model=other)


def test_a_fifo_cassette_is_refused_not_opened(tmp_path: Path) -> None:
    path = tmp_path / "test_spec.m-b.jsonl"
    os.mkfifo(path)  # opening it for reading would wait for a writer forever

    with pytest.raises(CassetteError, match="not a regular file"):
        load_cassette(path, TEST_ID)


@pytest.mark.parametrize(
    ("cap", "refusal"),
    [("MAX_LINE_BYTES", r":1: a line longer than"), ("MAX_CASSETTE_BYTES", r"jsonl: a cassette larger than")],
    ids=["a line, without parsing it", "the file, before it is read"],
)
def test_a_cassette_past_a_size_cap_is_refused(
    recorded: Path, monkeypatch: pytest.MonkeyPatch, cap: str, refusal: str
) -> None:
    monkeypatch.setattr(cassette_file, cap, 200)

    with pytest.raises(CassetteError, match=refusal):
        load_cassette(recorded, TEST_ID)


# --- through the plugin: the verdict a CI replay gives ---------------------------------------------------


def test_an_edited_cassette_is_an_error_in_the_plugin_never_a_pass(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    name = suite.model("writer")
    provider.script(name, [Reply(tool_calls=[call("read_file", path="app.py")]), Reply.final("Done.")])
    suite.brief("notes")
    suite.write("def test_spec(spec_run):\n    assert spec_run.transcript\n")
    pytester.runpytest("--specbench-record-mode=once").assert_outcomes(passed=1)
    path = pytester.path / "cassettes" / "test_spec.writer-notes.jsonl"
    original = path.read_text()
    provider.stop()

    for change, expected in [
        (setter(0, ("model", "id"), "gpt"), "*ERROR*CassetteError: *header.model is*"),
        (
            setter(1, ("request", "messages"), [{"role": "user", "text": "x"}]),
            "*ERROR*messages[[]0[]]*differs*",
        ),
        (deleter(1, ("request", "tools")), "*ERROR*turn 1: tool names differ*"),
    ]:
        path.write_text(original)
        edit(path, change)
        result = pytester.runpytest("--specbench-record-mode=none", "-rE")

        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines([expected])
        assert "Traceback" not in result.stdout.str()


# --- fuzz: any edit replays as a CassetteError or as the run, within a time bound ------------------------

CASE_SECONDS = 10.0
FUZZ = settings(
    max_examples=80,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failing case is shown as it was found
)
HOSTILE: list[Any] = [None, "x", "", -1, 0, 1.5, math.nan, 1e300, True, [], {}, [1], [{}], {"a": 1}, 10**400]
DELETE = object()


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz-cassette")
    path = root / "test_spec.m-b.jsonl"
    drive(root / "rec", RecordMode.ALL, path)
    return path


def _cassette_edit(text: str, line: int, path: tuple[Any, ...], value: Any) -> str:
    lines = [json.loads(raw) for raw in text.splitlines()]
    target = lines[line % len(lines)]
    keys = list(path)
    while keys and isinstance(target, dict | list):
        key = keys.pop(0)
        container = target
        if isinstance(target, dict):
            if not target:
                break
            key = sorted(target)[key % len(target)]
        else:
            if not target:
                break
            key = key % len(target)
        if not keys or not isinstance(target[key], dict | list):
            if value is DELETE and isinstance(container, dict):
                del container[key]
            else:
                container[key] = value
            break
        target = target[key]
    return "".join(json.dumps(one) + "\n" for one in lines)


RAW_EDITS = st.sampled_from(["truncate", "garbage", "duplicate", "swap", "blank", "crlf"])


def _raw_edit(text: str, how: str, at: int) -> str:
    lines = text.splitlines(keepends=True)
    index = at % len(lines)
    if how == "truncate":
        return text[: at % len(text)]
    if how == "garbage":
        return "".join([*lines[:index], "{\x00not json\n", *lines[index:]])
    if how == "duplicate":
        return "".join([*lines[: index + 1], lines[index], *lines[index + 1 :]])
    if how == "swap":
        lines[index], lines[-1 - index] = lines[-1 - index], lines[index]
        return "".join(lines)
    if how == "blank":
        return "".join([*lines[:index], "\n", *lines[index:]])
    return text.replace("\n", "\r\n")


@FUZZ
@given(
    edit=st.one_of(
        st.tuples(
            st.just("field"),
            st.integers(0, 10),
            st.lists(st.integers(0, 10), min_size=1, max_size=5).map(tuple),
            st.sampled_from([*HOSTILE, DELETE]),
        ),
        st.tuples(st.just("raw"), RAW_EDITS, st.integers(0, 10_000)),
    )
)
def test_a_mutated_cassette_replays_as_an_error_or_the_run_never_a_crash(
    recording: Path, tmp_path_factory: pytest.TempPathFactory, edit: tuple[Any, ...]
) -> None:
    root = tmp_path_factory.mktemp("case")
    path = root / recording.name
    text = recording.read_text()
    if edit[0] == "field":
        _, line, keys, value = edit
        path.write_text(_cassette_edit(text, line, keys, value))
    else:
        path.write_text(_raw_edit(text, edit[1], edit[2]))
    started = time.monotonic()
    try:
        drive(root / "rep", RecordMode.NONE, path)
    except CassetteError as error:
        assert ("\n" not in str(error) and str(path) in str(error)) or "cassette drift" in str(error)
    assert time.monotonic() - started < CASE_SECONDS
