"""FakeProvider's own rules, spoken to over plain HTTP (the SDK side is in tests/models)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from pytest_specbench import testing
from pytest_specbench.testing import EXHAUSTED, Call, FakeProvider, Fault, Reply, call

OPENAI = "/v1/chat/completions"
ANTHROPIC = "/v1/messages"


def post(
    provider: FakeProvider, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{provider.port}{path}",
        data=data,
        headers={"content-type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def conversation(model: str, assistant_turns: int) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "brief"}]
    for _ in range(assistant_turns):
        messages += [{"role": "assistant", "content": "..."}, {"role": "user", "content": "more"}]
    return {"model": model, "messages": messages}


def openai_text(body: dict[str, Any]) -> str:
    return str(body["choices"][0]["message"]["content"])


def test_the_step_is_the_number_of_assistant_messages(provider: FakeProvider) -> None:
    provider.script("m", [Reply.final("zero"), Reply.final("one")])

    answers = [openai_text(post(provider, OPENAI, conversation("m", n))[1]) for n in (1, 0, 0, 1, 2)]

    assert answers == ["one", "zero", "zero", "one", EXHAUSTED]


def test_models_have_their_own_scripts(provider: FakeProvider) -> None:
    provider.script("a", [Reply.final("from a")])
    provider.script("b", [Reply.final("from b")])

    assert openai_text(post(provider, OPENAI, conversation("b", 0))[1]) == "from b"
    assert openai_text(post(provider, OPENAI, conversation("a", 0))[1]) == "from a"
    assert openai_text(post(provider, OPENAI, conversation("c", 0))[1]) == EXHAUSTED


def test_a_callable_step_sees_the_request(provider: FakeProvider) -> None:
    provider.script("m", [lambda body: Reply.final(f"{len(body['messages'])} messages")])

    assert openai_text(post(provider, OPENAI, conversation("m", 0))[1]) == "1 messages"


def test_a_broken_callable_step_answers_500(provider: FakeProvider) -> None:
    provider.script("m", [lambda body: Reply.final(body["missing"])])

    status, body = post(provider, OPENAI, conversation("m", 0))

    assert status == 500
    assert body["error"]["message"] == "script step 0 raised KeyError('missing')"


def test_faults_come_first_then_the_reply(provider: FakeProvider) -> None:
    faults = [Fault(status=503, message="busy"), Fault(status=429, headers={"retry-after": "0"})]
    provider.script("m", [Reply(text="ok", faults=faults)])

    answers = [post(provider, ANTHROPIC, conversation("m", 0)) for _ in range(3)]

    assert [status for status, _ in answers] == [503, 429, 200]
    assert answers[0][1] == {"type": "error", "error": {"type": "api_error", "message": "busy"}}
    assert answers[1][1]["error"] == {"type": "rate_limit_error", "message": "Too Many Requests"}
    assert answers[2][1]["content"] == [{"type": "text", "text": "ok"}]


def test_error_event_fault_on_a_json_request_is_a_status_fault(provider: FakeProvider) -> None:
    provider.script("m", [Reply(faults=[Fault(status=529, kind="error_event")])])

    assert post(provider, ANTHROPIC, conversation("m", 0))[0] == 529


def test_faults_are_counted_per_step_and_reset_by_a_new_script(provider: FakeProvider) -> None:
    provider.script("m", [Reply(faults=[Fault(status=500)]), Reply(faults=[Fault(status=500)])])

    statuses = [post(provider, OPENAI, conversation("m", n))[0] for n in (0, 1, 0, 1)]
    provider.script("m", [Reply(faults=[Fault(status=500)])])
    statuses.append(post(provider, OPENAI, conversation("m", 0))[0])

    assert statuses == [500, 500, 200, 200, 500]


def test_every_request_is_recorded(provider: FakeProvider) -> None:
    post(provider, OPENAI, conversation("m", 0))
    post(provider, ANTHROPIC, conversation("m", 1))

    assert provider.requests == [(OPENAI, conversation("m", 0)), (ANTHROPIC, conversation("m", 1))]


def test_anthropic_tool_calls_and_raw_input(provider: FakeProvider) -> None:
    provider.script(
        "m", [Reply(tool_calls=[call("a", x=1), call("b", _raw='{"y": 2}'), call("c", _raw="{bad")])]
    )

    _, body = post(provider, ANTHROPIC, conversation("m", 0))

    assert [(block["name"], block["input"]) for block in body["content"]] == [
        ("a", {"x": 1}),
        ("b", {"y": 2}),
        ("c", "{bad"),
    ]
    assert body["stop_reason"] == "tool_use"


def test_openai_tool_calls_send_raw_arguments(provider: FakeProvider) -> None:
    provider.script("m", [Reply(tool_calls=[call("a", x=1), call("c", _raw="{bad")])])

    _, body = post(provider, OPENAI, conversation("m", 0))

    message = body["choices"][0]["message"]
    assert message["content"] is None
    assert [c["function"]["arguments"] for c in message["tool_calls"]] == ['{"x": 1}', "{bad"]
    assert body["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        (OPENAI, {"authorization": "Bearer sk-test"}, 200),
        (OPENAI, {"authorization": "Bearer sk-other"}, 401),
        (OPENAI, {}, 401),
        (ANTHROPIC, {"authorization": "Bearer sk-test"}, 200),
        (ANTHROPIC, {"x-api-key": "sk-test"}, 200),
        (ANTHROPIC, {"x-api-key": "sk-other"}, 401),
    ],
)
def test_require_key(path: str, headers: dict[str, str], status: int) -> None:
    with FakeProvider(require_key="sk-test") as provider:
        assert post(provider, path, conversation("m", 0), headers)[0] == status


def test_strict_models_answer_404_for_an_unscripted_model(provider: FakeProvider) -> None:
    provider.strict_models = True
    provider.script("known", [])

    assert post(provider, OPENAI, conversation("known", 0))[0] == 200
    status, body = post(provider, OPENAI, conversation("unknown", 0))
    assert (status, body["error"]["message"]) == (404, "model 'unknown' not found")


def test_unknown_path_answers_404(provider: FakeProvider) -> None:
    assert post(provider, "/v1/responses", {})[0] == 404


def test_replies_keep_tuples() -> None:
    reply = Reply(tool_calls=[call("a")], faults=[Fault()])

    assert (reply.tool_calls, reply.faults) == ((Call("a"),), (Fault(),))


def test_stopped_provider_refuses_connections() -> None:
    provider = FakeProvider().start()
    port = provider.port
    provider.stop()

    with pytest.raises(RuntimeError, match="not started"):
        _ = provider.port
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/messages", data=b"{}", timeout=5)


def test_public_names() -> None:
    assert set(testing.__all__) == {
        "EXHAUSTED",
        "Call",
        "FakeProvider",
        "Fault",
        "ReasoningAs",
        "FaultKind",
        "Reply",
        "ScriptedClient",
        "Step",
        "call",
    }


def test_reasoning_in_each_wire_shape(provider: FakeProvider) -> None:
    provider.script("m", [Reply(reasoning="Hmm.", text="Done.", reasoning_tokens=3)])
    _, openai = post(provider, OPENAI, conversation("m", 0))
    provider.script("m", [Reply(reasoning="Hmm.", reasoning_as="think", text="Done.")])
    _, inline = post(provider, OPENAI, conversation("m", 0))
    _, anthropic = post(provider, ANTHROPIC, conversation("m", 0))

    assert openai["choices"][0]["message"]["reasoning_content"] == "Hmm."
    assert openai["usage"]["completion_tokens_details"] == {"reasoning_tokens": 3}
    assert openai_text(inline) == "<think>\nHmm.\n</think>\n\nDone."
    thinking, text = anthropic["content"]
    assert (thinking["type"], thinking["thinking"], text["text"]) == ("thinking", "Hmm.", "Done.")
    assert thinking["signature"] == testing.wire.signature("Hmm.")


def test_anthropic_with_thinking_refuses_a_tool_turn_without_its_thinking_block(
    provider: FakeProvider,
) -> None:
    tool_turn = {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "a", "input": {}}]}
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]}
    body = {"model": "m", "max_tokens": 4096, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    body["messages"] = [{"role": "user", "content": "brief"}, tool_turn, result]

    status, error = post(provider, ANTHROPIC, body)
    without_thinking = post(provider, ANTHROPIC, {**body, "thinking": {"type": "disabled"}})[0]

    assert (status, error["type"], error["error"]["type"]) == (400, "error", "invalid_request_error")
    assert error["error"]["message"].startswith(
        "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`."
    )
    assert without_thinking == 200
