"""OpenAIChatClient against FakeProvider's Chat Completions, as JSON and as a stream."""

from __future__ import annotations

import socket
import subprocess
import sys
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
FAST = RunSettings(request_timeout_s=2.0, max_retries=2, temperature=0.25)


@pytest.fixture(params=[False, True], ids=["json", "sse"])
def stream(request: pytest.FixtureRequest) -> bool:
    """Whether the client streams its answers."""
    return bool(request.param)


def model_for(fake: FakeProvider, stream: bool, **overrides: Any) -> ModelConfig:
    settings: dict[str, Any] = {
        "id": "local",
        "provider": Provider.OPENAI,
        "model": "qwen",
        "base_url": fake.openai_base_url,
        "api_key_env": "LMSTUDIO_API_KEY",
        "stream": stream,
        **overrides,
    }
    return ModelConfig(**settings)


def generate(
    model: ModelConfig,
    messages: Sequence[Message] = BRIEF,
    *,
    settings: RunSettings = FAST,
    api_key: str | None = None,
    tools: Sequence[ToolSpec] = TOOLS,
) -> AssistantTurn:
    async def main() -> AssistantTurn:
        async with open_client(model, settings, api_key) as client:
            return await client.generate(SYSTEM, list(messages), list(tools))

    return anyio.run(main)


def failure(model: ModelConfig, *, settings: RunSettings = FAST, api_key: str | None = None) -> str:
    with pytest.raises(ProviderError) as raised:
        generate(model, settings=settings, api_key=api_key)
    return str(raised.value)


def sent(provider: FakeProvider) -> dict[str, Any]:
    path, body = provider.requests[-1]
    assert path == "/v1/chat/completions"
    return body


# --- answers -------------------------------------------------------------------------


def test_cached_prompt_tokens_are_reported_apart(provider: FakeProvider, stream: bool) -> None:
    provider.script("qwen", [Reply(text="Done.", input_tokens=100, output_tokens=7, cache_read_tokens=80)])

    usage = generate(model_for(provider, stream)).usage

    assert usage == Usage(input_tokens=100, output_tokens=7, cache_read_input_tokens=80)


def test_text_reply(provider: FakeProvider, stream: bool) -> None:
    provider.script("qwen", [Reply(text="The canvas is specified.", input_tokens=120, output_tokens=7)])

    turn = generate(model_for(provider, stream))

    assert turn == AssistantTurn(
        text="The canvas is specified.",
        usage=turn.usage,
        stop_reason="end_turn",
        raw_stop_reason="stop",
    )
    assert (turn.usage.input_tokens, turn.usage.output_tokens) == (120, 7)
    assert turn.retries == 0


def test_one_tool_call(provider: FakeProvider, stream: bool) -> None:
    provider.script("qwen", [Reply.tool("create_feature", title="Canvas", description="Draw on it.")])

    turn = generate(model_for(provider, stream))

    assert turn.tool_calls == (
        ToolCall(
            id="call_0_0",
            name="create_feature",
            arguments={"title": "Canvas", "description": "Draw on it."},
            raw_arguments='{"title": "Canvas", "description": "Draw on it."}',
        ),
    )
    assert (turn.text, turn.stop_reason, turn.raw_stop_reason) == ("", "tool_use", "tool_calls")


def test_parallel_tool_calls_keep_their_order(provider: FakeProvider, stream: bool) -> None:
    calls = [call("create_feature", title=title) for title in ("Canvas", "Layers", "Export")]
    provider.script("qwen", [Reply(text="Three features.", tool_calls=calls)])

    turn = generate(model_for(provider, stream))

    assert turn.text == "Three features."
    assert [(c.id, c.arguments) for c in turn.tool_calls] == [
        ("call_0_0", {"title": "Canvas"}),
        ("call_0_1", {"title": "Layers"}),
        ("call_0_2", {"title": "Export"}),
    ]


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("oops", "arguments are not valid JSON: Expecting value at char 0"),
        ('{"title": "Can', "arguments are not valid JSON: Unterminated string starting at at char 10"),
        ("[1, 2]", "arguments are not a JSON object (got list)"),
    ],
    ids=["not-json", "truncated", "not-an-object"],
)
def test_arguments_that_are_not_an_object_are_kept_raw(
    provider: FakeProvider, stream: bool, raw: str, error: str
) -> None:
    provider.script("qwen", [Reply(tool_calls=[call("create_feature", _raw=raw)])])

    (tool_call,) = generate(model_for(provider, stream)).tool_calls

    assert (tool_call.arguments, tool_call.raw_arguments, tool_call.parse_error) == (None, raw, error)


@pytest.mark.parametrize(
    ("scripted", "stop_reason", "raw"),
    [("max_tokens", "max_tokens", "length"), ("content_filter", "other", "content_filter")],
)
def test_stop_reasons(
    provider: FakeProvider, stream: bool, scripted: str, stop_reason: str, raw: str
) -> None:
    provider.script("qwen", [Reply(text="Cut sh", stop_reason=scripted)])

    turn = generate(model_for(provider, stream))

    assert (turn.text, turn.stop_reason, turn.raw_stop_reason) == ("Cut sh", stop_reason, raw)


def test_an_exhausted_script_ends_the_conversation(provider: FakeProvider) -> None:
    assert generate(model_for(provider, False)).text == EXHAUSTED


# --- requests ------------------------------------------------------------------------


def test_request_carries_system_tools_and_settings(provider: FakeProvider, stream: bool) -> None:
    generate(model_for(provider, stream, max_tokens=333))

    body = sent(provider)
    assert body["model"] == "qwen"
    assert body["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Specify the canvas."},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "create_feature",
                "description": "Create a feature.",
                "parameters": TOOLS[0].input_schema,
            },
        }
    ]
    assert (body["temperature"], body["max_tokens"]) == (0.25, 333)
    assert body.get("stream", False) is stream
    assert body.get("stream_options") == ({"include_usage": True} if stream else None)


def test_no_tools_sends_no_tools_key(provider: FakeProvider) -> None:
    generate(model_for(provider, False), tools=[])

    assert "tools" not in sent(provider)


def test_conversation_is_sent_back(provider: FakeProvider, stream: bool) -> None:
    calls = (
        ToolCall("call_0_0", "create_feature", {"title": "Canvas"}, '{"title": "Canvas"}'),
        ToolCall("call_0_1", "create_feature", None, "{oops", parse_error="arguments are not valid JSON"),
    )
    conversation: list[Message] = [
        *BRIEF,
        AssistantMessage(AssistantTurn(text="", tool_calls=calls, stop_reason="tool_use")),
        ToolResultsMessage(
            (
                ToolResult("call_0_0", "create_feature", "created canvas"),
                ToolResult("call_0_1", "create_feature", "arguments are not valid JSON", is_error=True),
            ),
            reminder="3 turns left.",
        ),
        AssistantMessage(AssistantTurn(text="Done.")),
        UserMessage("Are you sure?"),
    ]

    generate(model_for(provider, stream), conversation)

    assert sent(provider)["messages"][2:] == [
        {
            "role": "assistant",
            "content": "",  # never left out: llama.cpp answers 500 to an assistant message without it
            "tool_calls": [
                {
                    "id": "call_0_0",
                    "type": "function",
                    "function": {"name": "create_feature", "arguments": '{"title": "Canvas"}'},
                },
                {
                    "id": "call_0_1",
                    "type": "function",
                    "function": {"name": "create_feature", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_0_0", "content": "created canvas"},
        {"role": "tool", "tool_call_id": "call_0_1", "content": "arguments are not valid JSON"},
        {"role": "user", "content": "3 turns left."},
        {"role": "assistant", "content": "Done."},
        {"role": "user", "content": "Are you sure?"},
    ]


def test_steps_follow_the_conversation(provider: FakeProvider) -> None:
    provider.script("qwen", [Reply.tool("create_feature", title="Canvas"), Reply.final("Done.")])
    model = model_for(provider, False)

    first = generate(model)
    results = ToolResultsMessage((ToolResult("call_0_0", "create_feature", "ok"),))
    second = generate(model, [*BRIEF, AssistantMessage(first), results])

    assert (first.stop_reason, second.text) == ("tool_use", "Done.")


def test_api_key_is_sent(stream: bool) -> None:
    with FakeProvider(require_key="sk-test") as provider:
        turn = generate(model_for(provider, stream), api_key="sk-test")

    assert turn.text == EXHAUSTED


def test_llamacpp_provider_speaks_chat_completions(provider: FakeProvider) -> None:
    provider.script("gemma", [Reply.final("Hi.")])

    turn = generate(model_for(provider, False, provider=Provider.LLAMACPP, model="gemma", api_key_env=None))

    assert turn.text == "Hi."


def test_importing_models_loads_no_sdk() -> None:
    code = "import sys, pytest_specbench.models; print(sorted({'openai', 'anthropic'} & set(sys.modules)))"

    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert loaded.strip() == "[]"


def test_llamacpp_without_base_url_is_refused() -> None:
    model = ModelConfig(id="local", provider=Provider.LLAMACPP, model="gemma")

    with pytest.raises(ValueError, match="needs the base_url"):
        generate(model)


# --- faults the SDK retries ----------------------------------------------------------


@pytest.mark.parametrize(
    "faults",
    [
        [Fault(status=503)],
        [Fault(status=429, headers={"retry-after-ms": "1"}), Fault(status=500)],
        [Fault(kind="drop")],
    ],
    ids=["503", "429-then-500", "dropped"],
)
def test_retried_faults_recover(provider: FakeProvider, stream: bool, faults: list[Fault]) -> None:
    provider.script("qwen", [Reply(text="Recovered.", faults=faults)])

    turn = generate(model_for(provider, stream))

    assert (turn.text, turn.retries) == ("Recovered.", len(faults))
    assert len(provider.requests) == len(faults) + 1


def test_slow_answer_is_retried_after_the_timeout(provider: FakeProvider, stream: bool) -> None:
    provider.script("qwen", [Reply(text="Finally.", faults=[Fault(kind="delay", seconds=1.0)])])

    turn = generate(model_for(provider, stream), settings=RunSettings(request_timeout_s=0.2, max_retries=1))

    assert (turn.text, turn.retries) == ("Finally.", 1)


def test_body_cut_short_is_retried(provider: FakeProvider) -> None:
    provider.script("qwen", [Reply(text="Whole.", faults=[Fault(kind="cut_stream")])])

    turn = generate(model_for(provider, False))

    assert (turn.text, turn.retries) == ("Whole.", 1)


# --- failures ------------------------------------------------------------------------


def test_wrong_key(stream: bool) -> None:
    with FakeProvider(require_key="sk-right") as provider:
        message = failure(model_for(provider, stream), api_key="sk-wrong")

    assert (
        message
        == "model 'local': authentication failed (HTTP 401: invalid API key) — check $LMSTUDIO_API_KEY"
    )


def test_missing_key(provider: FakeProvider) -> None:
    provider.require_key = "sk-right"

    message = failure(model_for(provider, False))

    assert message.endswith("authentication failed (HTTP 401: invalid API key) — set $LMSTUDIO_API_KEY")


def test_key_echoed_by_the_server_is_scrubbed(provider: FakeProvider) -> None:
    provider.script("qwen", [Reply(faults=[Fault(status=403, message="key sk-secret-123 is not allowed")])])

    message = failure(model_for(provider, False), api_key="sk-secret-123")

    assert "sk-secret-123" not in message
    assert "(HTTP 403: key *** is not allowed)" in message


def test_unknown_model(stream: bool) -> None:
    with FakeProvider(strict_models=True) as provider:
        message = failure(model_for(provider, stream, model="qwen-7b"))
        url = f"{provider.openai_base_url}/chat/completions"

    assert message == (
        f"model 'local': HTTP 404 from {url}: model 'qwen-7b' not found"
        " — check `model` and `base_url` in specbench.toml"
    )


def test_server_error_after_retries(provider: FakeProvider, stream: bool) -> None:
    provider.script("qwen", [Reply(faults=[Fault(status=503, message="model is loading")] * 3)])

    message = failure(model_for(provider, stream))

    assert message == "model 'local': HTTP 503 after 2 retries: model is loading"


def test_bad_request_is_not_retried(provider: FakeProvider) -> None:
    provider.script("qwen", [Reply(faults=[Fault(status=400, message="max_tokens must be at least 1")])])

    message = failure(model_for(provider, False))

    assert message == "model 'local': HTTP 400: max_tokens must be at least 1"
    assert len(provider.requests) == 1


def test_connection_refused(stream: bool) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = ModelConfig(
        "local", Provider.OPENAI, "qwen", base_url=f"http://127.0.0.1:{port}/v1", stream=stream
    )

    message = failure(model, settings=RunSettings(max_retries=0))

    assert (
        message
        == f"model 'local': cannot connect to http://127.0.0.1:{port}/v1 — is the server running there?"
    )


def test_timeout(provider: FakeProvider, stream: bool) -> None:
    provider.script("qwen", [Reply(faults=[Fault(kind="delay", seconds=1.0)])])

    message = failure(model_for(provider, stream), settings=RunSettings(request_timeout_s=0.2, max_retries=0))

    assert message == (
        "model 'local': request timed out after 0.2s (request_timeout_s)"
        " — raise request_timeout_s if the model is just slow"
    )


def test_dropped_connection(provider: FakeProvider, stream: bool) -> None:
    provider.script("qwen", [Reply(faults=[Fault(kind="drop")])])

    message = failure(model_for(provider, stream), settings=RunSettings(max_retries=0))

    assert message == (
        f"model 'local': {provider.openai_base_url} broke off the connection before a complete answer"
        " (RemoteProtocolError: Server disconnected without sending a response.) — check the server's log"
    )


def test_stream_cut_short(provider: FakeProvider) -> None:
    provider.script("qwen", [Reply(text="Never whole.", faults=[Fault(kind="cut_stream")] * 2)])

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
            "the streamed answer held no events (content-type text/html)",
        ),
        (
            Fault(kind="not_json", body="{oops", headers={"content-type": "application/json"}),
            "not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
            "the streamed answer held no events (content-type application/json)",
        ),
        (
            Fault(kind="not_json", body='{"object": "list"}', headers={"content-type": "application/json"}),
            "the answer has no `choices`",
            "the streamed answer held no events (content-type application/json)",
        ),
    ],
    ids=["html", "broken-json", "wrong-shape"],
)
def test_unreadable_answer(
    provider: FakeProvider, stream: bool, fault: Fault, json_cause: str, sse_cause: str
) -> None:
    provider.script("qwen", [Reply(faults=[fault])])

    message = failure(model_for(provider, stream))

    cause = sse_cause if stream else json_cause
    assert message == (
        f"model 'local': cannot read the answer from {provider.openai_base_url}: {cause}"
        " — is base_url the API endpoint (ending in /v1 for most servers)?"
    )


def test_error_inside_a_stream(provider: FakeProvider) -> None:
    provider.script(
        "qwen", [Reply(text="Never.", faults=[Fault(kind="error_event", message="out of memory")] * 2)]
    )

    message = failure(model_for(provider, True), settings=ONE_RETRY)

    assert message == (
        "model 'local': the server reported an error inside its answer after 1 retry: out of memory"
    )


def test_one_client_sends_each_conversation_as_it_now_is(provider: FakeProvider) -> None:
    """Past messages are encoded once per client: a new or edited conversation is encoded afresh."""
    provider.script("qwen", [Reply(text="ok")])
    bodies: list[list[str]] = []

    async def main() -> None:
        async with open_client(model_for(provider, False), FAST, None) as client:
            growing: list[Message] = [UserMessage("first")]
            for messages in (growing, [UserMessage("other")], growing):
                await client.generate("", messages, [])
                bodies.append([m["content"] for m in sent(provider)["messages"]])
                growing.append(UserMessage("more"))
            growing[0] = UserMessage("edited")
            await client.generate("", growing, [])
            bodies.append([m["content"] for m in sent(provider)["messages"]])

    anyio.run(main)

    assert bodies == [
        ["first"],
        ["other"],
        ["first", "more", "more"],
        ["edited", "more", "more", "more"],
    ]
