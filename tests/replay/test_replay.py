"""Record and replay over the real loop and reference server (in memory), with a scripted model."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from pytest_specbench.agent.loop import Limits, ToolOutcome, run_agent
from pytest_specbench.agent.tools import RunPaths, Transport, open_tool_session
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.config.settings import BriefConfig, ModelConfig, Provider, RunSettings
from pytest_specbench.errors import CassetteError
from pytest_specbench.models.types import ModelClient, ToolSpec
from pytest_specbench.redact import Redactor
from pytest_specbench.replay import cassette_path, load_cassette
from pytest_specbench.replay.clients import RecordingClient, ReplayingClient
from pytest_specbench.replay.codec import Normaliser, RequestCodec, sampling_of
from pytest_specbench.testing import Reply, ScriptedClient, call

MODEL = ModelConfig(id="m", provider=Provider.OPENAI, model="scripted")
SETTINGS = RunSettings()
SCRIPT = [
    Reply(tool_calls=[call("read_file", path="app.py")]),
    Reply(tool_calls=[call("create_feature", title="Main", description="The entry point.")]),
    Reply.final("Wrote 1 feature."),
]
KEY = "sk-proj-Zx81kQ2mVb7TnR4pLw9sYd3"


class Run:
    """One run directory (codebase + workspace) that a recording or a replay drives."""

    def __init__(self, root: Path, code: str = "def main():\n    return 1\n") -> None:
        codebase = root / "code"
        codebase.mkdir(parents=True)
        (codebase / "app.py").write_text(code)
        self.paths = RunPaths(root / "ws", root / "ws" / "specs", codebase)
        self.paths.workspace.mkdir()
        self.transcript = Transcript()

    def codec(self, redact: Callable[[str], str] | None = None) -> RequestCodec:
        return RequestCodec(Normaliser.of(dataclasses.asdict(self.paths)), redact or Redactor())

    def drive(
        self,
        client: ModelClient,
        system: str = "sys",
        max_turns: int = 10,
        tools_hook: Callable[[list[ToolSpec]], list[ToolSpec]] | None = None,
    ) -> None:
        brief = BriefConfig(id="b", codebase=self.paths.codebase, prompt="Specify it.")

        async def main() -> None:
            async with open_tool_session(brief, self.paths, Transport.MEMORY, timeout_s=10) as tools:
                session: Any = _Hooked(tools, tools_hook) if tools_hook else tools
                limits = Limits(max_turns=max_turns, timeout_s=30)
                await run_agent(
                    client,
                    session,
                    system=system,
                    prompt="Specify it.",
                    limits=limits,
                    transcript=self.transcript,
                )

        try:
            anyio.run(main)
        except BaseExceptionGroup as group:  # the MCP client's task group wraps what the run raises
            raise _leaf(group) from None


def _leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


@dataclasses.dataclass
class _Hooked:
    inner: Any
    hook: Callable[[list[ToolSpec]], list[ToolSpec]]

    async def list_tools(self) -> list[ToolSpec]:
        return self.hook(await self.inner.list_tools())

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        outcome: ToolOutcome = await self.inner.call_tool(name, arguments)
        return outcome


def record(tmp_path: Path, script: list[Reply] = SCRIPT, **drive: Any) -> Path:
    """Record `script` in a run of its own; returns the cassette."""
    run = Run(tmp_path / "recorded")
    path = cassette_path(tmp_path / "cassettes", "test_spec[m-b]")
    header = {"test_id": "test_spec[m-b]", "sample": 1, "sampling": sampling_of(MODEL, SETTINGS)}
    client = RecordingClient(ScriptedClient(script), path, header, run.codec())
    run.drive(client, **drive)
    client.finish()
    return path


def replay(
    tmp_path: Path, path: Path, model: ModelConfig = MODEL, code: str | None = None, **drive: Any
) -> Run:
    """Replay `path` in a fresh run directory (other paths than the recording's); finish included."""
    run = Run(tmp_path / "replayed", *([code] if code else []))
    client = ReplayingClient(load_cassette(path, "test_spec[m-b]"), sampling_of(model, SETTINGS), run.codec())
    run.drive(client, **drive)
    client.finish()
    return run


def test_replay_in_another_directory_reproduces_the_run(tmp_path: Path) -> None:
    path = record(tmp_path, system=f"Write under {tmp_path / 'recorded' / 'ws'}.")

    run = replay(tmp_path, path, system=f"Write under {tmp_path / 'replayed' / 'ws'}.")

    assert [t.text for t in run.transcript.assistant_turns()] == ["", "", "Wrote 1 feature."]
    assert [c.name for c in run.transcript.tool_calls()] == ["read_file", "create_feature"]
    assert list((run.paths.specs_dir / "features").iterdir())  # the server ran for real
    text = path.read_text()
    assert str(tmp_path) not in text and "{workspace}" in text


def test_cassette_is_json_lines_with_a_header_exchanges_and_an_end(tmp_path: Path) -> None:
    lines = [json.loads(line) for line in record(tmp_path).read_text().splitlines()]

    assert [line["kind"] for line in lines] == ["header", "exchange", "exchange", "exchange", "end"]
    assert lines[0]["version"] == 1 and lines[0]["test_id"] == "test_spec[m-b]"
    assert {"specbench_version", "recorded_at", "sampling"} <= set(lines[0])
    first, second = lines[1], lines[2]
    assert first["request"]["system"] == "sys" and first["request"]["messages_from"] == 0
    assert "system" not in second["request"] and second["request"]["messages_from"] == 1
    assert [m["role"] for m in second["request"]["messages"]] == ["assistant", "tool"]
    assert first["hash"].startswith("sha256:") and first["hash"] != second["hash"]
    assert first["answer"]["tool_calls"][0]["name"] == "read_file" and first["seconds"] >= 0
    assert lines[-1]["turns"] == 3


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"system": "other"}, 'cassette drift at turn 1: system prompt differs: recorded "sys", now "other"'),
        ({"model": dataclasses.replace(MODEL, model="scripted-2")}, "turn 1: model name differs"),
        ({"code": "def main():\n    return 2\n"}, "turn 2: messages[2] (tool result of read_file) differs"),
        ({"tools_hook": lambda specs: specs[:-1]}, "turn 1: tool names differ"),
        ({"max_turns": 2}, "turn 3: the run ended after turn 2; the recording goes on to turn 3"),
    ],
    ids=["system-prompt", "model-name", "tool-result", "tool-list", "missing-turn"],
)
def test_each_drift_cause_errors_with_turn_and_field(
    tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    path = record(tmp_path)

    with pytest.raises(CassetteError, match="re-record with --specbench-record-mode=all") as caught:
        replay(tmp_path, path, **change)

    assert expected in str(caught.value)


def test_a_changed_tool_schema_is_drift_naming_the_tool(tmp_path: Path) -> None:
    path = record(tmp_path)

    def widen(specs: list[ToolSpec]) -> list[ToolSpec]:
        schema = {**specs[0].input_schema, "title": "changed"}
        return [dataclasses.replace(specs[0], input_schema=schema), *specs[1:]]

    with pytest.raises(CassetteError, match=r"turn 1: tools\[\w+\]\.input_schema differs"):
        replay(tmp_path, path, tools_hook=widen)


def test_an_extra_turn_past_the_recording_is_drift(tmp_path: Path) -> None:
    path = record(tmp_path, script=SCRIPT[:2], max_turns=2)  # stopped by max_turns, no final answer

    with pytest.raises(
        CassetteError, match="turn 3: the run asks for turn 3; the recording ended after turn 2"
    ):
        replay(tmp_path, path, max_turns=5)


def test_a_tool_result_difference_is_shown_clipped_around_it(tmp_path: Path) -> None:
    path = record(tmp_path)

    with pytest.raises(CassetteError) as caught:
        replay(tmp_path, path, code="def main():\n    return 2\n")

    message = str(caught.value)
    assert 'recorded "…' in message and "return 1" in message and "return 2" in message
    assert len(message) < 400 and "\n" not in message


def test_a_key_echoed_by_the_model_never_lands_in_the_cassette(tmp_path: Path) -> None:
    echo = [Reply(text=f"my key is {KEY}", tool_calls=[call("read_file", path=KEY)]), Reply.final(KEY)]
    run = Run(tmp_path / "r")
    header = {"test_id": "t", "sample": 1, "sampling": sampling_of(MODEL, SETTINGS)}

    def recorded_with(redact: Callable[[str], str], name: str) -> str:
        client = RecordingClient(ScriptedClient(echo), tmp_path / name, header, run.codec(redact))
        run.drive(client)
        client.finish()
        return (tmp_path / name).read_text()

    assert KEY in recorded_with(lambda text: text, "off.jsonl")  # the test can see a leak
    redacted = recorded_with(Redactor([KEY]), "on.jsonl")
    assert KEY not in redacted and "[REDACTED]" in redacted


def test_a_failed_request_keeps_the_old_cassette(tmp_path: Path) -> None:
    path = record(tmp_path)
    before = path.read_text()

    class Broken:
        async def generate(self, *args: Any) -> Any:
            raise RuntimeError("provider gone")

    run = Run(tmp_path / "again")
    header = {"test_id": "test_spec[m-b]", "sample": 1, "sampling": sampling_of(MODEL, SETTINGS)}
    client = RecordingClient(Broken(), path, header, run.codec())
    with pytest.raises(RuntimeError):
        run.drive(client)
    client.finish()

    assert path.read_text() == before


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda lines: ["{not json", *lines[1:]], ":1: not JSON"),
        (lambda lines: [_sub(lines[0], '"version": 1', '"version": 9'), *lines[1:]], ":1: unknown cassette"),
        (lambda lines: [_sub(lines[0], "[m-b]", "[x-b]"), *lines[1:]], ":1: recorded for test_spec[x-b]"),
        (lambda lines: lines[:-2], ":3: truncated, no end line"),
        (lambda lines: [*lines[:2], _sub(lines[2], '"answer"', '"x"'), *lines[3:]], ":3: malformed exchange"),
        (lambda lines: [], "the cassette is empty"),
    ],
    ids=["not-json", "version", "wrong-test", "truncated", "malformed", "empty"],
)  # fmt: skip
def test_a_broken_cassette_names_file_and_line(
    tmp_path: Path, edit: Callable[[list[str]], list[str]], expected: str
) -> None:
    path = record(tmp_path)
    path.write_text("".join(line + "\n" for line in edit(path.read_text().splitlines())))

    with pytest.raises(CassetteError) as caught:
        load_cassette(path, "test_spec[m-b]")

    assert str(path) in str(caught.value) and expected in str(caught.value)


def _sub(line: str, old: str, new: str) -> str:
    assert old in line
    return line.replace(old, new)


def test_cassette_names_are_safe_readable_and_distinct(tmp_path: Path) -> None:
    assert cassette_path(tmp_path, "test_spec[gpt-todo-app]").name == "test_spec.gpt-todo-app.jsonl"
    assert (
        cassette_path(tmp_path, "test_spec[gpt-todo-app]", 3).name == "test_spec.gpt-todo-app.sample-3.jsonl"
    )
    assert cassette_path(tmp_path, "test_plain").name == "test_plain.jsonl"
    odd = {cassette_path(tmp_path, f"test_x[{i}]").name for i in ("a/b", "a b", "a_b", "../b")}
    assert len(odd) == 4 and all("/" not in n and " " not in n and not n.startswith(".") for n in odd)
    assert len(cassette_path(tmp_path, "t[" + "x" * 500 + "]").name) < 200


def test_normaliser_takes_out_paths_and_measured_durations() -> None:
    normaliser = Normaliser.of({"workspace": Path("/tmp/w"), "specs_dir": Path("/tmp/w/specs")})

    text = normaliser.request_text("wrote /tmp/w/specs/F-0001.md in 0.42s (limit 60s); log /tmp/w/log")

    assert text == "wrote {specs_dir}/F-0001.md in <duration> (limit 60s); log {workspace}/log"
    assert normaliser.paths_in("{specs_dir}/a") == "/tmp/w/specs/a"


THINKING = [
    dataclasses.replace(step, reasoning=f"Thought {n}.", reasoning_tokens=n, cache_read_tokens=n)
    for n, step in enumerate(SCRIPT, 1)
]


def test_a_thinking_run_replays_its_reasoning_and_token_counts(tmp_path: Path) -> None:
    path = record(tmp_path, script=THINKING)

    run = replay(tmp_path, path)

    thoughts = [run.transcript.reasoning(turn) for turn in (1, 2, 3)]
    assert [t.text if t else None for t in thoughts] == ["Thought 1.", "Thought 2.", "Thought 3."]
    turns = run.transcript.assistant_turns()
    assert [(t.reasoning_tokens, t.cache_read_input_tokens) for t in turns] == [(1, 1), (2, 2), (3, 3)]


def test_reasoning_sent_back_otherwise_than_recorded_is_drift(tmp_path: Path) -> None:
    path = record(tmp_path, script=THINKING)
    lines = path.read_text().splitlines()
    first = json.loads(lines[1])
    first["answer"]["reasoning"][0]["text"] = "Another thought."  # what turn 2 will send back
    path.write_text("\n".join([lines[0], json.dumps(first), *lines[2:]]) + "\n")

    with pytest.raises(CassetteError) as caught:
        replay(tmp_path, path)

    message = str(caught.value)
    assert "turn 2: messages[1] (assistant turn 1) reasoning differs" in message
    assert "Thought 1." in message and "Another thought." in message


def test_a_changed_thinking_budget_is_drift(tmp_path: Path) -> None:
    thinking = dataclasses.replace(MODEL, extra={"reasoning_effort": "low"})
    path = record(tmp_path)

    with pytest.raises(CassetteError, match='turn 1: reasoning_effort differs: recorded null, now "low"'):
        replay(tmp_path, path, model=thinking)
