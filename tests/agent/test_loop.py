"""The agent loop over the real reference server (in-memory transport) and a scripted model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from pytest_specbench.agent.loop import Limits, run_agent
from pytest_specbench.agent.stats import RunStats
from pytest_specbench.agent.tools import RunPaths, Transport, open_tool_session
from pytest_specbench.agent.transcript import StopEvent, Transcript
from pytest_specbench.config.settings import BriefConfig
from pytest_specbench.errors import ProviderError
from pytest_specbench.models.types import AssistantTurn, Message, ToolSpec
from pytest_specbench.testing import Reply, ScriptedClient, call

LIMITS = Limits(max_turns=10, timeout_s=30)


def drive(
    tmp_path: Path,
    client: Any,
    limits: Limits = LIMITS,
    reminder: Callable[[], Awaitable[str]] | None = None,
    transcript: Transcript | None = None,
) -> tuple[StopEvent, Transcript]:
    """Run the loop against a fresh reference server; return how it ended and the transcript."""
    codebase = tmp_path / "code"
    codebase.mkdir()
    (codebase / "app.py").write_text("def main():\n    return 1\n")
    paths = RunPaths(tmp_path / "ws", tmp_path / "ws" / "specs", codebase)
    paths.workspace.mkdir()
    brief = BriefConfig(id="b", codebase=codebase, prompt="Specify it.")
    record = transcript if transcript is not None else Transcript()

    async def main() -> StopEvent:
        async with open_tool_session(brief, paths, Transport.MEMORY, timeout_s=10) as tools:
            return await run_agent(
                client,
                tools,
                system="sys",
                prompt="Specify it.",
                limits=limits,
                transcript=record,
                reminder=reminder,
            )

    return anyio.run(main), record


def test_final_answer_ends_the_run_cleanly(tmp_path: Path) -> None:
    client = ScriptedClient(
        [Reply.tool("create_feature", title="Main", description="d"), Reply.final("Done.")]
    )

    stop, transcript = drive(tmp_path, client)

    assert (stop.reason, stop.detail) == ("final_answer", "final answer at turn 2")
    (created,) = transcript.tool_calls()
    assert created.result.startswith("Created feature F-0001") and not created.is_error
    assert transcript.final_text == "Done." and transcript.stop == stop
    assert [k.kind for k in transcript.events] == [
        "message",
        "message",
        "assistant",
        "tool_call",
        "assistant",
        "stop",
    ]


def test_model_mistakes_become_tool_errors_and_the_loop_goes_on(tmp_path: Path) -> None:
    broken = Reply(
        tool_calls=[
            call("create_feature", _raw='{"title": "unterminated'),
            call("no_such_tool", x=1),
            call(
                "create_requirement",
                feature_id="F-0042",
                title="t",
                description="d",
                acceptance_criteria=["a"],
            ),
            call("create_feature", title=3),
        ]
    )
    client = ScriptedClient([broken, Reply.final("Sorry.")])

    stop, transcript = drive(tmp_path, client)

    assert stop.reason == "final_answer"
    kinds = [c.error_kind for c in transcript.tool_calls()]
    assert kinds == ["invalid_json", "unknown_tool", "tool_error", "bad_arguments"]
    assert all(c.is_error for c in transcript.tool_calls())
    assert "Available tools:" in transcript.tool_calls()[1].result


def test_an_answer_cut_off_by_max_tokens_is_not_a_final_answer(tmp_path: Path) -> None:
    cut_call = Reply(tool_calls=[call("create_feature", _raw='{"title": "No')], stop_reason="max_tokens")
    client = ScriptedClient(
        [cut_call, Reply(text="I wrote the features: Notes, Sea", stop_reason="max_tokens")]
    )

    stop, transcript = drive(tmp_path, client)

    detail = 'turn 2 was cut off by max_tokens (stop reason "max_tokens") — no final answer'
    assert (stop.reason, stop.detail) == ("max_tokens", detail)
    assert [c.error_kind for c in transcript.tool_calls()] == ["invalid_json"]
    assert RunStats.from_transcript(transcript, 0).truncated_turns == 2


def test_an_answer_that_ends_normally_is_a_final_answer(tmp_path: Path) -> None:
    client = ScriptedClient([Reply(text="I wrote nothing: the code is empty.", stop_reason="end_turn")])

    stop, transcript = drive(tmp_path, client)

    assert (stop.reason, RunStats.from_transcript(transcript, 0).truncated_turns) == ("final_answer", 0)


def test_parallel_calls_run_in_order_and_results_go_back_matched(tmp_path: Path) -> None:
    features = [call("create_feature", title=f"F{i}", description="d") for i in range(3)]
    client = ScriptedClient([Reply(tool_calls=features), Reply.final("ok")])

    _, transcript = drive(tmp_path, client)

    assert [c.result.split()[2] for c in transcript.tool_calls()] == ["F-0001", "F-0002", "F-0003"]
    assert [c.call_id for c in transcript.tool_calls()] == ["call_0_0", "call_0_1", "call_0_2"]


@pytest.mark.parametrize(
    ("limits", "reason", "detail"),
    [
        (Limits(max_turns=3, timeout_s=30), "max_turns", "max_turns=3 reached without a final answer"),
        (Limits(max_turns=9, timeout_s=30, max_tool_calls=2), "max_tool_calls", "max_tool_calls=2 reached"),
        (
            Limits(max_turns=9, timeout_s=30, max_total_tokens=40),
            "max_total_tokens",
            "max_total_tokens=40 reached",
        ),
        (  # 10 tokens in and 5 out per turn at $1000/$2000 per million: $0.02 a turn
            Limits(max_turns=9, timeout_s=30, max_cost_usd=0.05, prices=(1000.0, 2000.0)),
            "max_cost_usd",
            "max_cost_usd=0.05 reached ($0.0600)",
        ),
    ],
)
def test_limits_stop_a_model_that_never_answers(
    tmp_path: Path, limits: Limits, reason: str, detail: str
) -> None:
    client = ScriptedClient([Reply.tool("list_files")] * 10)

    stop, transcript = drive(tmp_path, client, limits)

    assert (stop.reason, stop.detail) == (reason, detail)
    assert transcript.stop == stop


class SlowClient:
    """A model that takes longer than the run may."""

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec]) -> AssistantTurn:
        await anyio.sleep(5)
        raise AssertionError("the timeout should have cancelled this request")


def test_timeout_stops_the_run_mid_request(tmp_path: Path) -> None:
    stop, _ = drive(tmp_path, SlowClient(), Limits(max_turns=5, timeout_s=0.2))

    assert (stop.reason, stop.detail) == ("timeout", "timeout_s=0.2 reached during turn 0")


class FailingClient:
    """A provider that is down."""

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec]) -> AssistantTurn:
        raise ProviderError(
            "model 'x': cannot connect to http://127.0.0.1:9/v1 — is the server running there?"
        )


def test_infrastructure_error_propagates_and_closes_the_transcript(tmp_path: Path) -> None:
    transcript = Transcript()

    # The MCP client's task group wraps what its context raises; the plugin keeps the
    # session in its own portal task, so there the error arrives bare.
    with pytest.raises(BaseExceptionGroup) as raised:
        drive(tmp_path, FailingClient(), transcript=transcript)

    assert raised.group_contains(ProviderError, match="cannot connect")

    assert transcript.stop is not None
    assert transcript.stop.reason == "error" and "cannot connect" in transcript.stop.detail


def test_reminder_is_sent_after_tool_results(tmp_path: Path) -> None:
    seen: list[int] = []

    async def reminder() -> str:
        seen.append(1)
        return "todo: 1 pending"

    client = ScriptedClient([Reply.tool("list_files"), Reply.tool("list_files"), Reply.final("ok")])

    _, transcript = drive(tmp_path, client, reminder=reminder)

    assert len(seen) == 2
    shown = [e.text for e in transcript.events if e.kind == "message" and e.role == "user"]
    assert shown == ["Specify it.", "todo: 1 pending", "todo: 1 pending"]


def test_transcript_round_trips_through_jsonl(tmp_path: Path) -> None:
    client = ScriptedClient([Reply.tool("create_feature", title="A", description="d"), Reply.final("ok")])
    _, transcript = drive(tmp_path, client)

    text = transcript.to_jsonl(header={"test_id": "t"})

    assert text.splitlines()[0] == '{"kind": "header", "version": 1, "test_id": "t"}'
    assert Transcript.from_jsonl(text) == transcript
