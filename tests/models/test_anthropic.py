"""AnthropicMessagesClient against FakeProvider's Messages API, as JSON and as a stream."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any

import anyio
import pytest

from pytest_specbench.config.settings import ModelConfig, Provider, RunSettings
from pytest_specbench.errors import ProviderError
from pytest_specbench.models import (
    AssistantMessage,
    AssistantTurn,
    Message,
    ToolCall,
    ToolResult,
    ToolResultsMessage,
    ToolSpec,
    Usage,
    UserMessage,
    open_client,
)
from pytest_specbench.models.anthropic import EMPTY_TURN
from pytest_specbench.testing import EXHAUSTED, FakeProvider, Fault, Reply, call

SYSTEM = "You write specs."
BRIEF: tuple[Message, ...] = (UserMessage("Specify the canvas."),)
TOOLS = (
    ToolSpec(
        "create_feature",
        "Create a feature.",
        {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]},
    ),
)
ONE_RETRY = RunSettings(request_timeout_s=2.0, max_retries=1)
FAST = RunSettings(request_timeout_s=2.0, max_retries=2)
HINT = "is base_url the API root (the SDK adds /v1/messages)?"


@pytest.fixture(params=[False, True], ids=["json", "sse"])
def stream(request: pytest.FixtureRequest) -> bool:
    """Whether the client streams its answers."""
    return bool(request.param)


def model_for(fake: FakeProvider, stream: bool, **overrides: Any) -> ModelConfig:
    settings: dict[str, Any] = {
        "id": "claude",
        "provider": Provider.ANTHROPIC,
        "model": "claude-test",
        "base_url": fake.anthropic_base_url,
        "stream": stream,
        **overrides,
    }
    return ModelConfig(**settings)


def generate(
    model: ModelConfig,
    messages: Sequence[Message] = BRIEF,
    *,
    settings: RunSettings = FAST,
    api_key: str | None = "sk-ant-test",
    tools: Sequence[ToolSpec] = TOOLS,
) -> AssistantTurn:
    async def main() -> AssistantTurn:
        async with open_client(model, settings, api_key) as client:
            return await client.generate(SYSTEM, list(messages), list(tools))

    return anyio.run(main)


def failure(model: ModelConfig, *, settings: RunSettings = FAST, api_key: str | None = "sk-ant-test") -> str:
    with pytest.raises(ProviderError) as raised:
        generate(model, settings=settings, api_key=api_key)
    return str(raised.value)


def sent(provider: FakeProvider) -> dict[str, Any]:
    path, body = provider.requests[-1]
    assert path == "/v1/messages"
    return body


# --- answers -------------------------------------------------------------------------


def test_text_reply(provider: FakeProvider, stream: bool) -> None:
    provider.script(
        "claude-test", [Reply(text="The canvas is specified.", input_tokens=120, output_tokens=7)]
    )

    turn = generate(model_for(provider, stream))

    assert (turn.text, turn.tool_calls, turn.stop_reason, turn.raw_stop_reason) == (
        "The canvas is specified.",
        (),
        "end_turn",
        "end_turn",
    )
    assert (turn.usage.input_tokens, turn.usage.output_tokens, turn.retries) == (120, 7, 0)


def test_cached_prompt_tokens_count_into_the_input(provider: FakeProvider, stream: bool) -> None:
    # On the wire: input_tokens 15 (uncached), cache_read 80, cache_creation 5.
    reply = Reply(
        text="Done.", input_tokens=100, output_tokens=7, cache_read_tokens=80, cache_creation_tokens=5
    )
    provider.script("claude-test", [reply])

    usage = generate(model_for(provider, stream)).usage

    assert usage == Usage(
        input_tokens=100, output_tokens=7, cache_read_input_tokens=80, cache_creation_input_tokens=5
    )


def test_one_tool_call(provider: FakeProvider, stream: bool) -> None:
    provider.script("claude-test", [Reply.tool("create_feature", title="Canvas", description="Draw on it.")])

    turn = generate(model_for(provider, stream))

    assert turn.tool_calls == (
        ToolCall(
            id="toolu_0_0",
            name="create_feature",
            arguments={"title": "Canvas", "description": "Draw on it."},
            raw_arguments='{"title": "Canvas", "description": "Draw on it."}',
        ),
    )
    assert (turn.text, turn.stop_reason, turn.raw_stop_reason) == ("", "tool_use", "tool_use")


def test_parallel_tool_calls_keep_their_order(provider: FakeProvider, stream: bool) -> None:
    calls = [call("create_feature", title=title) for title in ("Canvas", "Layers", "Export")]
    provider.script("claude-test", [Reply(text="Three features.", tool_calls=calls)])

    turn = generate(model_for(provider, stream))

    assert turn.text == "Three features."
    assert [(c.id, c.arguments) for c in turn.tool_calls] == [
        ("toolu_0_0", {"title": "Canvas"}),
        ("toolu_0_1", {"title": "Layers"}),
        ("toolu_0_2", {"title": "Export"}),
    ]


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("oops", "arguments are not valid JSON: Expecting value at char 0"),
        ("[1, 2]", "arguments are not a JSON object (got list)"),
    ],
    ids=["not-json", "not-an-object"],
)
def test_input_that_is_not_an_object_is_kept_raw(
    provider: FakeProvider, stream: bool, raw: str, error: str
) -> None:
    provider.script("claude-test", [Reply(tool_calls=[call("create_feature", _raw=raw)])])

    (tool_call,) = generate(model_for(provider, stream)).tool_calls

    assert (tool_call.arguments, tool_call.raw_arguments, tool_call.parse_error) == (None, raw, error)


def test_tool_call_without_arguments(provider: FakeProvider, stream: bool) -> None:
    provider.script("claude-test", [Reply.tool("list_features")])

    (tool_call,) = generate(model_for(provider, stream)).tool_calls

    assert (tool_call.arguments, tool_call.parse_error) == ({}, None)


@pytest.mark.parametrize(
    ("scripted", "stop_reason"), [("max_tokens", "max_tokens"), ("refusal", "other"), ("pause_turn", "other")]
)
def test_stop_reasons(provider: FakeProvider, stream: bool, scripted: str, stop_reason: str) -> None:
    provider.script("claude-test", [Reply(text="Cut sh", stop_reason=scripted)])

    turn = generate(model_for(provider, stream))

    assert (turn.text, turn.stop_reason, turn.raw_stop_reason) == ("Cut sh", stop_reason, scripted)


# --- requests ------------------------------------------------------------------------


def test_request_carries_system_tools_and_max_tokens(provider: FakeProvider, stream: bool) -> None:
    generate(model_for(provider, stream, max_tokens=333))

    body = sent(provider)
    assert (body["model"], body["system"], body["max_tokens"]) == ("claude-test", SYSTEM, 333)
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Specify the canvas."}]}
    ]
    assert body["tools"] == [
        {"name": "create_feature", "description": "Create a feature.", "input_schema": TOOLS[0].input_schema}
    ]
    assert body.get("stream", False) is stream


@pytest.mark.parametrize("temperature", [0.0, 0.7])
def test_request_carries_the_temperature(provider: FakeProvider, stream: bool, temperature: float) -> None:
    # 0.0 too: the SDK has no parameter for it, and a dropped 0.0 would sample at the server's default.
    generate(
        model_for(provider, stream), settings=RunSettings(request_timeout_s=2.0, temperature=temperature)
    )

    assert sent(provider)["temperature"] == temperature


def test_no_system_and_no_tools_are_left_out(provider: FakeProvider) -> None:
    async def main() -> None:
        async with open_client(model_for(provider, False), FAST, None) as client:
            await client.generate("", list(BRIEF), [])

    anyio.run(main)

    assert not {"system", "tools"} & set(sent(provider))


def test_conversation_is_sent_back(provider: FakeProvider, stream: bool) -> None:
    calls = (
        ToolCall("toolu_0_0", "create_feature", {"title": "Canvas"}, '{"title": "Canvas"}'),
        ToolCall("toolu_0_1", "create_feature", None, "{oops", parse_error="arguments are not valid JSON"),
    )
    conversation: list[Message] = [
        *BRIEF,
        AssistantMessage(AssistantTurn(text="Two features.", tool_calls=calls, stop_reason="tool_use")),
        ToolResultsMessage(
            (
                ToolResult("toolu_0_0", "create_feature", "created canvas"),
                ToolResult("toolu_0_1", "create_feature", "arguments are not valid JSON", is_error=True),
            ),
            reminder="3 turns left.",
        ),
        UserMessage("Also think about export."),
        AssistantMessage(AssistantTurn(text="")),
        UserMessage("Are you done?"),
    ]

    generate(model_for(provider, stream), conversation)

    assert sent(provider)["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Two features."},
                {
                    "type": "tool_use",
                    "id": "toolu_0_0",
                    "name": "create_feature",
                    "input": {"title": "Canvas"},
                },
                {"type": "tool_use", "id": "toolu_0_1", "name": "create_feature", "input": {}},
            ],
        },
        {
            "role": "user",  # results, reminder and the next user message: one turn
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_0_0",
                    "is_error": False,
                    "content": "created canvas",
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_0_1",
                    "is_error": True,
                    "content": "arguments are not valid JSON",
                },
                {"type": "text", "text": "3 turns left."},
                {"type": "text", "text": "Also think about export."},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": EMPTY_TURN}]},
        {"role": "user", "content": [{"type": "text", "text": "Are you done?"}]},
    ]


def test_empty_tool_result_has_no_content(provider: FakeProvider) -> None:
    turn = AssistantTurn(text="", tool_calls=(ToolCall("toolu_0_0", "list_features", {}, "{}"),))
    results = ToolResultsMessage((ToolResult("toolu_0_0", "list_features", ""),))

    generate(model_for(provider, False), [*BRIEF, AssistantMessage(turn), results])

    assert sent(provider)["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_0_0", "is_error": False}
    ]


def test_steps_follow_the_conversation(provider: FakeProvider) -> None:
    provider.script("claude-test", [Reply.tool("create_feature", title="Canvas"), Reply.final("Done.")])
    model = model_for(provider, True)

    first = generate(model)
    results = ToolResultsMessage((ToolResult("toolu_0_0", "create_feature", "ok"),))
    second = generate(model, [*BRIEF, AssistantMessage(first), results])

    assert (first.stop_reason, second.text) == ("tool_use", "Done.")


def test_api_key_is_sent(stream: bool) -> None:
    with FakeProvider(require_key="sk-ant-test") as provider:
        assert generate(model_for(provider, stream)).text == EXHAUSTED


# --- faults the SDK retries ----------------------------------------------------------


@pytest.mark.parametrize(
    "faults",
    [
        [Fault(status=529, message="Overloaded")],
        [Fault(status=429, headers={"retry-after-ms": "1"}), Fault(status=500)],
        [Fault(kind="drop")],
    ],
    ids=["529", "429-then-500", "dropped"],
)
def test_retried_faults_recover(provider: FakeProvider, stream: bool, faults: list[Fault]) -> None:
    provider.script("claude-test", [Reply(text="Recovered.", faults=faults)])

    turn = generate(model_for(provider, stream))

    assert (turn.text, turn.retries) == ("Recovered.", len(faults))
    assert len(provider.requests) == len(faults) + 1


def test_slow_answer_is_retried_after_the_timeout(provider: FakeProvider, stream: bool) -> None:
    provider.script("claude-test", [Reply(text="Finally.", faults=[Fault(kind="delay", seconds=1.0)])])

    turn = generate(model_for(provider, stream), settings=RunSettings(request_timeout_s=0.2, max_retries=1))

    assert (turn.text, turn.retries) == ("Finally.", 1)


# --- failures ------------------------------------------------------------------------


def test_wrong_key(stream: bool) -> None:
    with FakeProvider(require_key="sk-ant-right") as provider:
        message = failure(model_for(provider, stream))

    assert (
        message
        == "model 'claude': authentication failed (HTTP 401: invalid API key) — check $ANTHROPIC_API_KEY"
    )


def test_unknown_model(stream: bool) -> None:
    with FakeProvider(strict_models=True) as provider:
        message = failure(model_for(provider, stream, model="claude-nope"))
        url = f"{provider.anthropic_base_url}/v1/messages"

    assert message == (
        f"model 'claude': HTTP 404 from {url}: model 'claude-nope' not found"
        " — check `model` and `base_url` in specbench.toml"
    )


def test_overloaded_after_retries(provider: FakeProvider, stream: bool) -> None:
    provider.script("claude-test", [Reply(faults=[Fault(status=529, message="Overloaded")] * 2)])

    message = failure(model_for(provider, stream), settings=RunSettings(max_retries=1))

    assert message == "model 'claude': HTTP 529 after 1 retry: Overloaded"


def test_connection_refused(stream: bool) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = ModelConfig(
        "claude", Provider.ANTHROPIC, "claude-test", base_url=f"http://127.0.0.1:{port}", stream=stream
    )

    message = failure(model, settings=RunSettings(max_retries=0))

    assert (
        message == f"model 'claude': cannot connect to http://127.0.0.1:{port} — is the server running there?"
    )


def test_timeout(provider: FakeProvider, stream: bool) -> None:
    provider.script("claude-test", [Reply(faults=[Fault(kind="delay", seconds=1.0)])])

    message = failure(model_for(provider, stream), settings=RunSettings(request_timeout_s=0.2, max_retries=0))

    assert message == (
        "model 'claude': request timed out after 0.2s (request_timeout_s)"
        " — raise request_timeout_s if the model is just slow"
    )


def test_dropped_connection(provider: FakeProvider, stream: bool) -> None:
    provider.script("claude-test", [Reply(faults=[Fault(kind="drop")])])

    message = failure(model_for(provider, stream), settings=RunSettings(max_retries=0))

    assert message == (
        f"model 'claude': {provider.anthropic_base_url} broke off the connection before a complete answer"
        " (RemoteProtocolError: Server disconnected without sending a response.) — check the server's log"
    )


def test_stream_cut_short(provider: FakeProvider) -> None:
    provider.script("claude-test", [Reply(text="Never whole.", faults=[Fault(kind="cut_stream")] * 2)])

    message = failure(model_for(provider, True), settings=ONE_RETRY)

    assert "broke off the connection before a complete answer after 1 retry" in message
    assert "incomplete chunked read" in message
    assert len(provider.requests) == 2


@pytest.mark.parametrize(
    ("fault", "json_cause", "sse_cause"),
    [
        (
            Fault(kind="not_json"),
            "not JSON: '<html><body><h1>502 Bad Gateway</h1></body></html>'",
            "the streamed answer held no message_start event (content-type text/html)",
        ),
        (
            Fault(kind="not_json", body='{"type": "message"}', headers={"content-type": "application/json"}),
            "the answer has no `content`",
            "the streamed answer held no message_start event (content-type application/json)",
        ),
    ],
    ids=["html", "wrong-shape"],
)
def test_unreadable_answer(
    provider: FakeProvider, stream: bool, fault: Fault, json_cause: str, sse_cause: str
) -> None:
    provider.script("claude-test", [Reply(faults=[fault])])

    message = failure(model_for(provider, stream))

    cause = sse_cause if stream else json_cause
    assert (
        message
        == f"model 'claude': cannot read the answer from {provider.anthropic_base_url}: {cause} — {HINT}"
    )


def test_error_inside_a_stream(provider: FakeProvider) -> None:
    provider.script(
        "claude-test",
        [Reply(text="Never.", faults=[Fault(status=529, kind="error_event", message="Overloaded")] * 2)],
    )

    message = failure(model_for(provider, True), settings=ONE_RETRY)

    assert message == (
        "model 'claude': the server reported an error inside its answer after 1 retry: Overloaded"
    )
