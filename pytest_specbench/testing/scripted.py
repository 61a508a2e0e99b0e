"""`ScriptedClient`: the same script as `FakeProvider`, as an in-process `ModelClient`."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pytest_specbench.models.types import (
    AssistantMessage,
    AssistantTurn,
    Message,
    Reasoning,
    StopReason,
    ToolCall,
    ToolSpec,
    Usage,
)
from pytest_specbench.testing.script import EXHAUSTED, Call, Reply

__all__ = ["ScriptedClient"]


class ScriptedClient:
    """An in-process `ModelClient` answering from a script: the loop's unit-test double.

    It takes the same `Reply` steps as `FakeProvider` (faults are ignored; there is no
    wire to fail), and picks the step the same stateless way: by the number of
    assistant turns already in the conversation.
    """

    def __init__(self, steps: Sequence[Reply]) -> None:
        self.steps = tuple(steps)
        self.requests: list[tuple[str, int, list[str]]] = []
        """(system prompt, messages sent, tool names offered) per request."""
        self._counted: tuple[list[Message], int, int] | None = None
        """The last conversation seen, how many of its messages were counted, and their assistant turns."""

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec]) -> AssistantTurn:
        """The scripted turn for this point of the conversation."""
        self.requests.append((system, len(messages), [t.name for t in tools]))
        step = self._assistant_turns(messages)
        reply = self.steps[step] if step < len(self.steps) else Reply.final(EXHAUSTED)
        return _as_turn(reply, step)

    def _assistant_turns(self, messages: list[Message]) -> int:
        # The loop appends to one list: count only what is new, or a long run costs O(n²) here.
        seen, counted, step = self._counted or (messages, 0, 0)
        if seen is not messages or counted > len(messages):
            counted, step = 0, 0
        step += sum(1 for m in messages[counted:] if isinstance(m, AssistantMessage))
        self._counted = (messages, len(messages), step)
        return step


def _as_turn(reply: Reply, step: int) -> AssistantTurn:
    calls = tuple(_as_call(c, f"call_{step}_{i}") for i, c in enumerate(reply.tool_calls))
    stop: StopReason = "other"
    if reply.stop in ("end_turn", "tool_use", "max_tokens"):
        stop = reply.stop  # type: ignore[assignment]  # narrowed by the membership test
    usage = Usage(
        reply.input_tokens,
        reply.output_tokens,
        reply.cache_read_tokens,
        reply.cache_creation_tokens,
        reply.reasoning_tokens,
    )
    reasoning: tuple[Reasoning, ...] = (Reasoning(reply.reasoning),) if reply.reasoning else ()
    reasoning += (Reasoning("", redacted=reply.redacted_reasoning),) if reply.redacted_reasoning else ()
    return AssistantTurn(reply.text, calls, usage, stop, reply.stop, reasoning=reasoning)


def _as_call(scripted: Call, call_id: str) -> ToolCall:
    text = scripted.text
    try:
        parsed = json.loads(text)
    except ValueError as err:
        return ToolCall(call_id, scripted.name, None, text, f"arguments are not valid JSON: {err}")
    if not isinstance(parsed, dict):
        return ToolCall(call_id, scripted.name, None, text, "arguments are not a JSON object")
    return ToolCall(call_id, scripted.name, parsed, text)
