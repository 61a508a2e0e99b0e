"""Runs that outgrow the window: the verdict, the first-request error, silent truncation, the
context strategies (mask, summary) and the context used per turn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest

from pytest_specbench.agent.context import (
    SUMMARY_HEADER,
    SUMMARY_REQUEST,
    ContextView,
    PromptWatch,
    masked_text,
    prompt_tokens,
)
from pytest_specbench.agent.loop import Limits, run_agent
from pytest_specbench.agent.stats import RunStats, context_fields
from pytest_specbench.agent.tools import RunPaths, Transport, open_tool_session
from pytest_specbench.agent.transcript import ContextEvent, StopEvent, Transcript
from pytest_specbench.config.settings import (
    FULL_CONTEXT,
    BriefConfig,
    ContextConfig,
    ContextStrategy,
    ModelConfig,
    Provider,
    RunSettings,
)
from pytest_specbench.errors import ContextOverflow, ContextTruncated
from pytest_specbench.models import (
    AssistantMessage,
    AssistantTurn,
    Message,
    ModelClient,
    ToolCall,
    ToolResult,
    ToolResultsMessage,
    ToolSpec,
    Usage,
    UserMessage,
    open_client,
)
from pytest_specbench.testing import FakeProvider, Fault, Reply, ScriptedClient, call

LLAMA_OVERFLOW = {
    "error": {
        "code": 400,
        "message": "the request exceeds the available context size, try increasing it",
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 16520,
        "n_ctx": 16384,
    }
}
MASK = ContextConfig("mask-1", ContextStrategy.MASK, keep_last=1)
SUMMARY = ContextConfig("summary", ContextStrategy.SUMMARY, summary_at=0.5)


def drive(
    tmp_path: Path,
    client: ModelClient,
    *,
    window: int | None = None,
    context: ContextConfig = FULL_CONTEXT,
    max_turns: int = 10,
) -> tuple[StopEvent | BaseException, Transcript]:
    """Run the loop against the reference server; how it ended (or what it raised) and the transcript."""
    codebase = tmp_path / "code"
    codebase.mkdir(parents=True)
    (codebase / "app.py").write_text("def main():\n    return 1\n" * 40)
    paths = RunPaths(tmp_path / "ws", tmp_path / "ws" / "specs", codebase)
    paths.workspace.mkdir()
    brief = BriefConfig(id="b", codebase=codebase, prompt="Specify it.")
    transcript = Transcript()
    limits = Limits(max_turns=max_turns, timeout_s=30, context_window=window)

    async def main() -> StopEvent:
        async with open_tool_session(brief, paths, Transport.MEMORY, timeout_s=10) as tools:
            return await run_agent(
                client, tools, system="sys", prompt="Specify it.", limits=limits, transcript=transcript,
                context=context,
            )  # fmt: skip

    try:
        return anyio.run(main), transcript
    except BaseException as err:  # the MCP client's task group wraps what the run raises
        while isinstance(err, BaseExceptionGroup) and len(err.exceptions) == 1:
            err = err.exceptions[0]
        return err, transcript


def over_the_wire(provider: FakeProvider, tmp_path: Path, steps: list[Reply], **kw: Any) -> Any:
    """`drive` through the OpenAI adapter and FakeProvider's wire, answering with `steps`."""
    provider.script("fake", steps)
    model = ModelConfig(id="m", provider=Provider.OPENAI, model="fake", base_url=provider.openai_base_url)
    return _drive_with_client(provider, tmp_path, model, **kw)


def _drive_with_client(provider: FakeProvider, tmp_path: Path, model: ModelConfig, **kw: Any) -> Any:
    holder: dict[str, Any] = {}

    class Lazy:
        """Opens the adapter inside the loop's own event loop, on its first request."""

        async def generate(
            self, system: str, messages: list[Message], tools: list[ToolSpec]
        ) -> AssistantTurn:
            if "client" not in holder:
                holder["cm"] = open_client(model, RunSettings(request_timeout_s=5, max_retries=2), None)
                holder["client"] = await holder["cm"].__aenter__()
            turn: AssistantTurn = await holder["client"].generate(system, messages, tools)
            return turn

    return drive(tmp_path, Lazy(), **kw)


READ = call("read_file", path="app.py")
FEATURE = call("create_feature", title="Main", description="The entry point.")


# --- the window runs out: a verdict, unless the first request does not fit -----------------


def test_an_overflow_mid_run_ends_the_run_like_a_limit(provider: FakeProvider, tmp_path: Path) -> None:
    steps = [
        Reply(tool_calls=[FEATURE], input_tokens=9_000),
        Reply(tool_calls=[READ], input_tokens=15_000),
        Reply(text="never", faults=[Fault(status=400, error=LLAMA_OVERFLOW)]),
    ]

    stop, transcript = over_the_wire(provider, tmp_path, steps)

    assert isinstance(stop, StopEvent), stop
    assert (stop.reason, stop.detail) == (
        "context_window",
        "context window exhausted at turn 3: 16,520 tokens > 16,384",
    )
    assert [c.name for c in transcript.tool_calls()] == ["create_feature", "read_file"]
    assert transcript.stop == stop
    assert (tmp_path / "ws" / "specs" / "features").is_dir()  # the partial tree is there to judge


def test_the_first_request_not_fitting_is_a_configuration_error(
    provider: FakeProvider, tmp_path: Path
) -> None:
    steps = [Reply(text="never", faults=[Fault(status=400, error=LLAMA_OVERFLOW)])]

    raised, transcript = over_the_wire(provider, tmp_path, steps)

    assert isinstance(raised, ContextOverflow)
    assert "16,520 tokens > 16,384" in str(raised)
    assert "the first request already does not fit" in str(raised)
    assert (raised.tokens, raised.window) == (16_520, 16_384)
    assert transcript.stop is not None and transcript.stop.reason == "error"


def test_anthropics_window_stop_reason_ends_the_run_with_the_configured_window(tmp_path: Path) -> None:
    client = ScriptedClient([
        Reply(tool_calls=[FEATURE], input_tokens=150_000),
        Reply(text="I was about to", input_tokens=199_000, output_tokens=1_000,
              stop_reason="model_context_window_exceeded"),
    ])  # fmt: skip

    stop, _ = drive(tmp_path, client, window=200_000)

    assert isinstance(stop, StopEvent)
    assert (stop.reason, stop.detail) == (
        "context_window",
        "context window exhausted at turn 2: 200,000 tokens > 200,000",
    )


def test_a_length_stop_at_the_window_is_the_window_not_max_tokens(tmp_path: Path) -> None:
    script = [
        Reply(tool_calls=[FEATURE], input_tokens=8_000),
        Reply(text="The feat", input_tokens=16_000, output_tokens=384, stop_reason="max_tokens"),
    ]

    at_window, _ = drive(tmp_path / "a", ScriptedClient(script), window=16_384)
    unknown, _ = drive(tmp_path / "b", ScriptedClient(script))

    assert isinstance(at_window, StopEvent) and at_window.reason == "context_window"
    assert "16,384 tokens > 16,384" in at_window.detail
    assert isinstance(unknown, StopEvent) and unknown.reason == "max_tokens"


# --- silent truncation ------------------------------------------------------------------------


def _growing(*tokens: int) -> list[Reply]:
    """A read per count, then a final answer whose prompt is a little larger than the last."""
    calls = [Reply(tool_calls=[READ], input_tokens=n) for n in tokens]
    return [*calls, Reply(text="Done.", input_tokens=tokens[-1] + 100)]


def test_a_prompt_that_falls_while_the_conversation_grows_is_an_error(tmp_path: Path) -> None:
    script = ScriptedClient(_growing(1_000, 1_500, 2_000, 1_400))

    raised, transcript = drive(tmp_path, script, window=4_096)

    assert isinstance(raised, ContextTruncated)
    assert str(raised).startswith(
        "context truncated by the server at turn 4: the prompt was 1,400 tokens after 2,000 at turn 3 "
        "(window 4,096)"
    )
    assert transcript.stop is not None and transcript.stop.reason == "error"


def test_a_prompt_that_stands_still_at_the_window_is_an_error(tmp_path: Path) -> None:
    raised, _ = drive(tmp_path, ScriptedClient(_growing(1_500, 1_950, 1_950)), window=2_048)

    assert isinstance(raised, ContextTruncated)
    assert "(window 2,048)" in str(raised)


@pytest.mark.parametrize(
    "script",
    [
        _growing(10, 10, 10, 10),  # scripted tests' constant counts: no window, so no plateau to judge
        _growing(3_000, 1_000, 1_200, 1_400),  # turn 1's count may be a cold cache's
        _growing(0, 0, 0),  # a server that reports no usage
        [  # a server that counts only the uncached prompt tokens, the cached ones apart
            Reply(tool_calls=[READ], input_tokens=1_000),
            Reply(tool_calls=[READ], input_tokens=1_500),
            Reply(tool_calls=[READ], input_tokens=300, cache_read_tokens=1_500),
            Reply(text="Done.", input_tokens=2_000),
        ],
    ],
    ids=["constant", "first-turns", "no-usage", "uncached-only"],
)
def test_no_truncation_is_seen_where_there_is_none(tmp_path: Path, script: list[Reply]) -> None:
    stop, _ = drive(tmp_path, ScriptedClient(script), window=100_000)

    assert isinstance(stop, StopEvent) and stop.reason == "final_answer", stop


def test_anthropic_cache_reads_count_as_prompt_tokens(provider: FakeProvider, tmp_path: Path) -> None:
    # Anthropic reports cached tokens apart from input_tokens: a prompt served from the cache
    # would look like a falling prompt if only input_tokens were compared.
    steps = [
        Reply(tool_calls=[READ], input_tokens=1_000, cache_creation_tokens=900),
        Reply(tool_calls=[READ], input_tokens=1_500, cache_read_tokens=900, cache_creation_tokens=500),
        Reply(tool_calls=[READ], input_tokens=2_000, cache_read_tokens=1_400),
        Reply(text="Done.", input_tokens=2_100, cache_read_tokens=2_000),
    ]
    provider.script("fake", steps)
    model = ModelConfig(
        id="m", provider=Provider.ANTHROPIC, model="fake", base_url=provider.anthropic_base_url
    )

    stop, transcript = _drive_with_client(provider, tmp_path, model, window=200_000)

    assert isinstance(stop, StopEvent) and stop.reason == "final_answer", stop
    assert [t.input_tokens for t in transcript.assistant_turns()][:3] == [1_000, 1_500, 2_000]


def test_without_a_window_nothing_is_judged(tmp_path: Path) -> None:
    # The test doubles' fixed counts (10 a turn, or a final answer's default after larger ones).
    script = [*_growing(100, 200, 300)[:-1], Reply.final("Done.")]

    stop, _ = drive(tmp_path, ScriptedClient(script))

    assert isinstance(stop, StopEvent) and stop.reason == "final_answer"


def test_prompt_tokens_add_cached_ones_only_where_a_server_left_them_out() -> None:
    assert prompt_tokens(Usage(2_000, 10, cache_read_input_tokens=1_500)) == 2_000  # OpenAI: included
    assert prompt_tokens(Usage(300, 10, cache_read_input_tokens=1_500)) == 1_800  # left out


def test_the_watch_starts_again_after_the_harness_shortened_the_prompt() -> None:
    watch = PromptWatch(window=8_192)
    for turn, tokens in enumerate((1_000, 2_000, 3_000), start=1):
        watch.check(turn, Usage(tokens))
    watch.rewritten()
    watch.check(4, Usage(800))  # masked: smaller, by the harness's own doing
    watch.check(5, Usage(900))
    with pytest.raises(ContextTruncated):
        watch.check(6, Usage(500))


# --- mask -------------------------------------------------------------------------------------


def _results(*names: str, size: int = 500) -> ToolResultsMessage:
    return ToolResultsMessage(tuple(ToolResult(f"c{n}{i}", n, "x" * size) for i, n in enumerate(names)))


def _turn(*names: str) -> AssistantMessage:
    return AssistantMessage(
        AssistantTurn("", tuple(ToolCall(f"c{n}{i}", n, {}, "{}") for i, n in enumerate(names)))
    )


SPECS = [
    ToolSpec("read_file", "", {}, read_only=True),
    ToolSpec("search_code", "", {}, read_only=True),
    ToolSpec("create_feature", "", {}),
]


def _contents(view: Sequence[Message]) -> list[str]:
    return [r.content[:1] for m in view if isinstance(m, ToolResultsMessage) for r in m.results]


def test_mask_drops_old_read_results_and_keeps_writes_and_the_last_calls() -> None:
    history: list[Message] = [UserMessage("brief")]
    for names in (("read_file",), ("create_feature",), ("search_code", "read_file"), ("read_file",)):
        history += [_turn(*names), _results(*names)]
    view = ContextView.of(ContextConfig("m", ContextStrategy.MASK, keep_last=2), SPECS, None)

    sent = view.messages(history)

    # Oldest first: read (masked), create (a write: kept), search (masked), read, read (the last 2).
    assert _contents(sent) == ["[", "x", "[", "x", "x"]
    assert view.masked == 2
    first = sent[2]
    assert isinstance(first, ToolResultsMessage)
    assert first.results[0].content == masked_text(ToolResult("", "read_file", "x" * 500))
    assert "500 characters of read_file output" in first.results[0].content
    assert history[2].results[0].content == "x" * 500  # type: ignore[union-attr]  # the history stays whole


def test_mask_reuses_its_copies_so_every_later_request_has_the_same_prefix() -> None:
    history: list[Message] = [UserMessage("brief"), _turn("read_file"), _results("read_file")]
    view = ContextView.of(MASK, SPECS, None)
    history += [_turn("read_file"), _results("read_file")]
    first = view.messages(history)
    history += [_turn("read_file"), _results("read_file")]
    second = view.messages(history)

    assert second[2] is first[2]  # the masked copy, built once
    assert second[0] is history[0] and second[1] is history[1]
    assert view.messages(history)[4] is second[4]


def test_short_results_are_not_worth_a_placeholder() -> None:
    history: list[Message] = [
        UserMessage("b"),
        _turn("read_file"),
        ToolResultsMessage((ToolResult("c", "read_file", "ok"),)),
    ]
    history += [_turn("read_file"), _results("read_file")]

    sent = ContextView.of(MASK, SPECS, None).messages(history)

    assert sent[2] is history[2]


def test_a_masked_run_sends_placeholders_and_records_the_change(
    provider: FakeProvider, tmp_path: Path
) -> None:
    steps = [Reply(tool_calls=[READ], input_tokens=n) for n in (100, 200)]
    steps += [Reply(tool_calls=[FEATURE], input_tokens=150), Reply(text="Done.", input_tokens=160)]
    provider.script("fake", steps)
    model = ModelConfig(id="m", provider=Provider.OPENAI, model="fake", base_url=provider.openai_base_url)

    stop, transcript = _drive_with_client(provider, tmp_path, model, context=MASK)

    assert isinstance(stop, StopEvent) and stop.reason == "final_answer"
    tool_messages = [m["content"] for m in provider.requests[-1][1]["messages"] if m["role"] == "tool"]
    assert [t.startswith("[") for t in tool_messages] == [True, True, False]
    assert "read_file output removed by the harness" in tool_messages[0]
    events = transcript.context_events()
    assert [(e.turn, e.strategy, e.masked) for e in events] == [(3, "mask", 1), (4, "mask", 2)]
    assert RunStats.from_transcript(transcript, 0).masked_results == 2


# --- summary ----------------------------------------------------------------------------------


@dataclass
class Sequenced:
    """Answers each request with the next turn, whatever the conversation (a summary resets it)."""

    turns: list[AssistantTurn]
    requests: list[list[Message]] = field(default_factory=list)

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec]) -> AssistantTurn:
        self.requests.append(list(messages))
        return self.turns[len(self.requests) - 1]


def _calls(name: str, n: int, **arguments: Any) -> tuple[ToolCall, ...]:
    import json

    return (ToolCall(f"{name}-{n}", name, arguments, json.dumps(arguments)),)


def test_summary_replaces_the_conversation_once_the_prompt_fills_its_share(tmp_path: Path) -> None:
    client = Sequenced([
        AssistantTurn("", _calls("read_file", 1, path="app.py"), Usage(300, 20), "tool_use"),
        AssistantTurn("", _calls("create_feature", 2, title="M", description="d"), Usage(600, 30),
                      "tool_use"),
        AssistantTurn("Read app.py; created F-0001 Main.", (), Usage(700, 40), "end_turn"),
        AssistantTurn("Done.", (), Usage(200, 5), "end_turn"),
    ])  # fmt: skip

    stop, transcript = drive(tmp_path, client, window=1_000, context=SUMMARY)

    assert isinstance(stop, StopEvent) and stop.reason == "final_answer", stop
    summary_request, after = client.requests[2], client.requests[3]
    assert isinstance(summary_request[-1], UserMessage) and summary_request[-1].text == SUMMARY_REQUEST
    assert len(summary_request) == 6  # the whole conversation, then the request
    (only,) = after
    assert isinstance(only, UserMessage)
    assert only.text.startswith("Specify it.") and SUMMARY_HEADER in only.text and "F-0001" in only.text
    (event,) = transcript.context_events()
    assert (event.turn, event.strategy, event.input_tokens, event.output_tokens) == (3, "summary", 700, 40)
    assert "600 prompt tokens, 60% of 1,000" in event.detail
    stats = RunStats.from_transcript(transcript, 0)
    assert (stats.turns, stats.summary_turns) == (3, 1)
    assert (stats.input_tokens, stats.output_tokens) == (300 + 600 + 700 + 200, 20 + 30 + 40 + 5)


def test_no_summary_without_a_window_or_below_the_share(tmp_path: Path) -> None:
    turns = [
        AssistantTurn("", _calls("read_file", 1, path="app.py"), Usage(300, 20), "tool_use"),
        AssistantTurn("Done.", (), Usage(400, 5), "end_turn"),
    ]
    client = Sequenced(list(turns))

    drive(tmp_path / "a", client, window=1_000, context=SUMMARY)
    drive(tmp_path / "b", Sequenced(list(turns)), context=SUMMARY)

    assert len(client.requests) == 2


# --- the context used per turn ---------------------------------------------------------------


def test_each_turn_records_the_window_and_the_stats_its_peak_and_end(tmp_path: Path) -> None:
    script = [Reply(tool_calls=[READ], input_tokens=1_000), Reply(tool_calls=[READ], input_tokens=4_000),
              Reply(text="Done.", input_tokens=3_990)]  # fmt: skip
    stop, transcript = drive(tmp_path, ScriptedClient(script), window=16_000)

    assert isinstance(stop, StopEvent) and stop.reason == "final_answer"
    assert {t.context_window for t in transcript.assistant_turns()} == {16_000}
    stats = RunStats.from_transcript(transcript, 0)
    assert (stats.context_window, stats.peak_context_tokens, stats.end_context_tokens) == (
        16_000,
        4_000,
        3_990,
    )
    assert (stats.peak_context_fraction, stats.end_context_fraction) == (0.25, 0.2494)
    assert context_fields(stats) == {
        "context_window": 16_000,
        "peak_context_tokens": 4_000,
        "end_context_tokens": 3_990,
        "peak_context_fraction": 0.25,
        "end_context_fraction": 0.2494,
        "summary_turns": 0,
        "masked_results": 0,
    }


def test_a_transcript_with_context_events_reads_back() -> None:
    transcript = Transcript([ContextEvent(3, "mask", "2 older results", masked=2)])

    assert Transcript.from_jsonl(transcript.to_jsonl()).events == transcript.events
