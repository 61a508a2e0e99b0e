"""Thinking models through both adapters, against FakeProvider, as JSON and as a stream.

Reasoning comes back apart from the answer (its own field, a `<think>` block, Anthropic's
thinking blocks), is counted where the provider counts it, and goes back where the API wants it.
"""

from __future__ import annotations

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
    Reasoning,
    ToolCall,
    ToolResult,
    ToolResultsMessage,
    ToolSpec,
    UserMessage,
    open_client,
)
from pytest_specbench.testing import FakeProvider, Reply, call
from pytest_specbench.testing.wire import signature

FAST = RunSettings(request_timeout_s=2.0, max_retries=0)
NO_TEMPERATURE = RunSettings(request_timeout_s=2.0, max_retries=0, temperature=None)
BRIEF: tuple[Message, ...] = (UserMessage("Specify the canvas."),)
TOOLS = (ToolSpec("create_feature", "Create a feature.", {"type": "object", "properties": {}}),)
THOUGHT = "The brief wants a canvas. I should create one feature first."


@pytest.fixture(params=[False, True], ids=["json", "sse"])
def stream(request: pytest.FixtureRequest) -> bool:
    """Whether the client streams its answers."""
    return bool(request.param)


def model(fake: FakeProvider, protocol: Provider, stream: bool, **extra: Any) -> ModelConfig:
    base_url = fake.openai_base_url if protocol is Provider.OPENAI else fake.anthropic_base_url
    return ModelConfig("m", protocol, "thinker", base_url=base_url, stream=stream, extra=extra)


def generate(
    config: ModelConfig, messages: Sequence[Message] = BRIEF, settings: RunSettings = FAST
) -> AssistantTurn:
    async def main() -> AssistantTurn:
        async with open_client(config, settings, "sk-test") as client:
            return await client.generate("You write specs.", list(messages), list(TOOLS))

    return anyio.run(main)


def last_body(fake: FakeProvider) -> dict[str, Any]:
    return fake.requests[-1][1]


# --- Chat Completions -----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_openai_reasoning_in_its_own_field_is_kept_apart(
    provider: FakeProvider, stream: bool, field: Any
) -> None:
    provider.script(
        "thinker", [Reply(reasoning=THOUGHT, reasoning_as=field, text="Done.", reasoning_tokens=42)]
    )

    turn = generate(model(provider, Provider.OPENAI, stream))

    assert (turn.text, turn.reasoning_text) == ("Done.", THOUGHT)
    assert turn.usage.reasoning_tokens == 42 and turn.usage.output_tokens == 5


def test_openai_think_tags_are_split_out_of_the_content(provider: FakeProvider, stream: bool) -> None:
    provider.script("thinker", [Reply(reasoning=THOUGHT, reasoning_as="think", text="Wrote 1 feature.")])

    turn = generate(model(provider, Provider.OPENAI, stream))

    assert (turn.text, turn.reasoning_text) == ("Wrote 1 feature.", THOUGHT)


def test_openai_unclosed_think_cut_off_by_max_tokens_is_all_reasoning(
    provider: FakeProvider, stream: bool
) -> None:
    provider.script("thinker", [Reply(reasoning=THOUGHT, reasoning_as="think", stop_reason="max_tokens")])

    turn = generate(model(provider, Provider.OPENAI, stream))

    assert (turn.text, turn.reasoning_text, turn.stop_reason) == ("", THOUGHT, "max_tokens")


def test_openai_reasoning_is_not_sent_back(provider: FakeProvider) -> None:
    thinking = AssistantTurn("", (), reasoning=(Reasoning(THOUGHT),))
    history = [*BRIEF, AssistantMessage(thinking), UserMessage("Go on.")]

    generate(model(provider, Provider.OPENAI, False), history)

    sent = last_body(provider)["messages"]
    assert THOUGHT not in str(sent) and sent[2] == {"role": "assistant", "content": ""}


def test_openai_reasoning_effort_is_sent_and_an_unset_temperature_is_not(provider: FakeProvider) -> None:
    generate(model(provider, Provider.OPENAI, False, reasoning_effort="high"), settings=NO_TEMPERATURE)

    body = last_body(provider)
    assert body["reasoning_effort"] == "high" and "temperature" not in body


# --- Messages API ---------------------------------------------------------------------------------


def test_anthropic_thinking_comes_back_with_its_signature(provider: FakeProvider, stream: bool) -> None:
    provider.script("thinker", [Reply(reasoning=THOUGHT, redacted_reasoning="EnCrYpTeD==", text="Done.")])

    turn = generate(
        model(provider, Provider.ANTHROPIC, stream, thinking_budget_tokens=2048), settings=NO_TEMPERATURE
    )

    assert turn.text == "Done."
    assert turn.reasoning == (
        Reasoning(THOUGHT, signature=signature(THOUGHT)),
        Reasoning("", redacted="EnCrYpTeD=="),
    )
    assert turn.usage.reasoning_tokens == 0  # Claude's thinking is inside output_tokens only
    body = last_body(provider)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048} and "temperature" not in body


def test_anthropic_adaptive_thinking_and_effort_are_sent(provider: FakeProvider) -> None:
    generate(
        model(provider, Provider.ANTHROPIC, False, thinking="adaptive", effort="low"), settings=NO_TEMPERATURE
    )

    body = last_body(provider)
    assert (body["thinking"], body["output_config"]) == ({"type": "adaptive"}, {"effort": "low"})


def test_anthropic_thinking_goes_back_first_and_unchanged(provider: FakeProvider, stream: bool) -> None:
    provider.script(
        "thinker",
        [
            Reply(reasoning=THOUGHT, redacted_reasoning="EnCrYpTeD==", tool_calls=[call("create_feature")]),
            Reply(reasoning="Now answer.", text="Done."),
        ],
    )
    config = model(provider, Provider.ANTHROPIC, stream, thinking_budget_tokens=2048)
    first = generate(config, settings=NO_TEMPERATURE)
    results = ToolResultsMessage((ToolResult(first.tool_calls[0].id, "create_feature", "Created F-0001."),))

    second = generate(config, [*BRIEF, AssistantMessage(first), results], NO_TEMPERATURE)

    assert second.text == "Done."
    assistant = last_body(provider)["messages"][1]["content"]
    assert [block["type"] for block in assistant] == ["thinking", "redacted_thinking", "tool_use"]
    assert assistant[0] == {"type": "thinking", "thinking": THOUGHT, "signature": signature(THOUGHT)}


def test_fake_anthropic_refuses_a_tool_turn_without_its_thinking_block(provider: FakeProvider) -> None:
    provider.script("thinker", [Reply(text="Never.")])
    config = model(provider, Provider.ANTHROPIC, False, thinking_budget_tokens=2048)
    lost = AssistantTurn("", (call_of("toolu_1"),))  # the turn as an adapter that drops thinking sends it
    results = ToolResultsMessage((ToolResult("toolu_1", "create_feature", "Created F-0001."),))

    with pytest.raises(ProviderError) as raised:
        generate(config, [*BRIEF, AssistantMessage(lost), results], NO_TEMPERATURE)

    assert (
        "HTTP 400: messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, "
        "but found `tool_use`" in str(raised.value)
    )


def test_fake_anthropic_refuses_a_changed_thought(provider: FakeProvider) -> None:
    config = model(provider, Provider.ANTHROPIC, False, thinking_budget_tokens=2048)
    edited = AssistantTurn(
        "", (call_of("toolu_1"),), reasoning=(Reasoning("Edited.", signature=signature(THOUGHT)),)
    )
    results = ToolResultsMessage((ToolResult("toolu_1", "create_feature", "ok"),))

    with pytest.raises(
        ProviderError, match=r"messages\.1\.content\.0: Invalid `signature` in `thinking` block"
    ):
        generate(config, [*BRIEF, AssistantMessage(edited), results], NO_TEMPERATURE)


def test_fake_anthropic_refuses_a_temperature_with_thinking(provider: FakeProvider) -> None:
    config = model(provider, Provider.ANTHROPIC, False, thinking_budget_tokens=2048)

    with pytest.raises(ProviderError, match="`temperature` may only be set to 1 when thinking is enabled"):
        generate(config, settings=RunSettings(request_timeout_s=2.0, max_retries=0, temperature=0.0))


def call_of(call_id: str) -> ToolCall:
    return ToolCall(call_id, "create_feature", {}, "{}")


def test_anthropic_interleaved_thinking_sends_the_beta_header(provider: FakeProvider) -> None:
    provider.script("thinker", [Reply(reasoning=THOUGHT, text="Done.")])
    config = model(
        provider, Provider.ANTHROPIC, False, thinking_budget_tokens=2048, interleaved_thinking=True
    )

    generate(config, settings=NO_TEMPERATURE)

    assert provider.request_headers[-1]["anthropic-beta"] == "interleaved-thinking-2025-05-14"
