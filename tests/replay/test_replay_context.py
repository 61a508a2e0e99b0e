"""A run under a context strategy records what the model was sent, and replays it exactly."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import anyio
import pytest

from pytest_specbench.agent.loop import Limits, run_agent
from pytest_specbench.agent.tools import RunPaths, Transport, open_tool_session
from pytest_specbench.agent.transcript import AssistantEvent, ContextEvent, ToolCallEvent, Transcript
from pytest_specbench.config.settings import (
    FULL_CONTEXT,
    BriefConfig,
    ContextConfig,
    ContextStrategy,
    ModelConfig,
    Provider,
    RunSettings,
)
from pytest_specbench.errors import CassetteError
from pytest_specbench.models.types import ModelClient
from pytest_specbench.redact import Redactor
from pytest_specbench.replay import cassette_path, load_cassette
from pytest_specbench.replay.clients import RecordingClient, ReplayingClient
from pytest_specbench.replay.codec import Normaliser, RequestCodec, sampling_of
from pytest_specbench.testing import Reply, ScriptedClient, call

MODEL = ModelConfig(id="m", provider=Provider.OPENAI, model="scripted")
TEST_ID = "test_spec[m-b-mask]"
MASK = ContextConfig("mask-1", ContextStrategy.MASK, keep_last=1)
SCRIPT = [
    Reply(tool_calls=[call("read_file", path="app.py")], input_tokens=100),
    Reply(tool_calls=[call("search_code", pattern="main")], input_tokens=200),
    Reply(
        tool_calls=[call("create_feature", title="Main", description="The entry point.")], input_tokens=150
    ),
    Reply(text="Wrote 1 feature.", input_tokens=170),
]


def _run(root: Path, client: ModelClient, context: ContextConfig) -> tuple[Transcript, RunPaths]:
    codebase = root / "code"
    codebase.mkdir(parents=True)
    (codebase / "app.py").write_text("def main():\n    return 1\n" * 30)
    paths = RunPaths(root / "ws", root / "ws" / "specs", codebase)
    paths.workspace.mkdir()
    brief = BriefConfig(id="b", codebase=codebase, prompt="Specify it.")
    transcript = Transcript()

    async def main() -> None:
        async with open_tool_session(brief, paths, Transport.MEMORY, timeout_s=10) as tools:
            limits = Limits(max_turns=10, timeout_s=30)
            await run_agent(
                client, tools, system="sys", prompt="Specify it.", limits=limits, transcript=transcript,
                context=context,
            )  # fmt: skip

    anyio.run(main)
    return transcript, paths


def _codec(root: Path) -> RequestCodec:
    paths = RunPaths(root / "ws", root / "ws" / "specs", root / "code")
    return RequestCodec(Normaliser.of(dataclasses.asdict(paths)), Redactor())


def _record(tmp_path: Path) -> tuple[Path, Transcript]:
    root = tmp_path / "recorded"
    path = cassette_path(tmp_path / "cassettes", TEST_ID)
    header = {"test_id": TEST_ID, "sample": 1, "sampling": sampling_of(MODEL, RunSettings())}
    client = RecordingClient(ScriptedClient(SCRIPT), path, header, _codec(root))
    transcript, _ = _run(root, client, MASK)
    client.finish()
    return path, transcript


def _replay(tmp_path: Path, path: Path, context: ContextConfig) -> Transcript:
    root = tmp_path / "replayed"
    cassette = load_cassette(path, TEST_ID)
    client = ReplayingClient(cassette, sampling_of(MODEL, RunSettings()), _codec(root))
    try:
        transcript, _ = _run(root, client, context)
    except BaseExceptionGroup as group:
        error: BaseException = group
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        raise error from None
    client.finish()
    return transcript


def test_the_cassette_holds_the_masked_request_as_sent(tmp_path: Path) -> None:
    path, _ = _record(tmp_path)

    exchanges = [
        json.loads(line)["request"] for line in path.read_text().splitlines() if '"exchange"' in line
    ]
    # Turn 3 is sent again from the masked read on: a rewrite of what turn 2 sent, not an append.
    assert [e["messages_from"] for e in exchanges] == [0, 1, 2, 4]
    rewritten = exchanges[2]["messages"][0]
    assert rewritten["role"] == "tool"
    assert "read_file output removed by the harness" in rewritten["results"][0]["content"]


def test_a_masked_run_replays_exactly(tmp_path: Path) -> None:
    path, recorded = _record(tmp_path)

    replayed = _replay(tmp_path, path, MASK)

    def strip(t: Transcript) -> list[object]:
        kept = [e for e in t.events if not isinstance(e, ToolCallEvent)]  # results hold the run's paths
        return [
            dataclasses.replace(e, seconds=0.0) if isinstance(e, AssistantEvent | ContextEvent) else e
            for e in kept
        ]

    assert strip(replayed) == strip(recorded)
    assert [e.masked for e in replayed.context_events()] == [1, 2]


def test_replaying_a_masked_run_without_the_mask_is_drift(tmp_path: Path) -> None:
    path, _ = _record(tmp_path)

    with pytest.raises(CassetteError, match="cassette drift at turn 3"):
        _replay(tmp_path, path, FULL_CONTEXT)
