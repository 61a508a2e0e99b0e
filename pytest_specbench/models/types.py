"""Provider-neutral messages, tool schemas and assistant turns.

Adapters convert these to and from one provider's wire format; the agent loop and
everything after it only ever see these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

__all__ = [
    "AssistantMessage",
    "AssistantTurn",
    "Message",
    "ModelClient",
    "Reasoning",
    "StopReason",
    "ToolCall",
    "ToolResult",
    "ToolResultsMessage",
    "ToolSpec",
    "Usage",
    "UserMessage",
]

StopReason: TypeAlias = Literal["end_turn", "tool_use", "max_tokens", "other"]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call, as the MCP server lists it."""

    name: str
    description: str
    input_schema: dict[str, Any]
    """JSON Schema of the arguments object."""
    read_only: bool = False
    """The server says the tool changes nothing (MCP's readOnlyHint): its old results may be masked."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call the model asked for."""

    id: str
    """The provider's call id; results are matched back by it."""
    name: str
    arguments: dict[str, Any] | None
    """Parsed arguments, or None when `raw_arguments` is not a JSON object."""
    raw_arguments: str
    """The arguments exactly as the model sent them (a JSON text)."""
    parse_error: str | None = None
    """Why `raw_arguments` could not be used, if it could not."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one model request."""

    input_tokens: int = 0
    """Every prompt token, cached or not (Anthropic's `input_tokens` counts only the uncached ones)."""
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    """Prompt tokens served from the provider's prompt cache; part of `input_tokens`."""
    cache_creation_input_tokens: int = 0
    """Prompt tokens written to the provider's prompt cache (Anthropic); part of `input_tokens`."""
    reasoning_tokens: int = 0
    """Output tokens spent on reasoning, where the provider counts them apart; part of
    `output_tokens`. OpenAI reports them (`completion_tokens_details.reasoning_tokens`);
    Anthropic does not: Claude's thinking is inside its `output_tokens`, and this stays 0."""


@dataclass(frozen=True, slots=True)
class Reasoning:
    """One block of the model's reasoning, kept apart from its answer and its tool calls.

    Reasoning is never an answer: the checks read `AssistantTurn.text` only.
    """

    text: str
    """The thought as the model wrote it ('' for a redacted block)."""
    signature: str = ""
    """Anthropic's opaque check of a `thinking` block, sent back unchanged with it; '' elsewhere."""
    redacted: str = ""
    """The encrypted `data` of an Anthropic `redacted_thinking` block, sent back unchanged; '' elsewhere."""


@dataclass(frozen=True, slots=True)
class AssistantTurn:
    """What the model answered to one request."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    stop_reason: StopReason = "end_turn"
    raw_stop_reason: str = ""
    """The provider's own word for why it stopped (`stop`, `tool_calls`, `end_turn`, ...)."""
    retries: int = 0
    """How many times the SDK retried the request before this answer came."""
    reasoning: tuple[Reasoning, ...] = ()
    """The reasoning before the answer (a thinking model's), in the order it came; `text` excludes it."""
    context_edits: str = ""
    """What the provider's own context editing removed from this request, in words ('' if nothing)."""

    @property
    def reasoning_text(self) -> str:
        """The readable reasoning, blocks joined by a blank line ('' when there is none)."""
        return "\n\n".join(part.text for part in self.reasoning if part.text)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The outcome of one tool call, fed back to the model."""

    call_id: str
    name: str
    content: str
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class UserMessage:
    """Text from the user (the brief)."""

    text: str
    role: Literal["user"] = "user"


@dataclass(frozen=True, slots=True)
class AssistantMessage:
    """A turn the model produced, replayed to it on the next request."""

    turn: AssistantTurn
    role: Literal["assistant"] = "assistant"


@dataclass(frozen=True, slots=True)
class ToolResultsMessage:
    """The results of every tool call of the previous assistant turn, in call order."""

    results: tuple[ToolResult, ...]
    reminder: str = ""
    """Extra text appended after the results (scaffold reminders); empty for none."""
    role: Literal["tool"] = "tool"


Message: TypeAlias = UserMessage | AssistantMessage | ToolResultsMessage


@runtime_checkable
class ModelClient(Protocol):
    """The one seam between the agent loop and a model provider.

    An adapter converts formats and nothing else: retries and timeouts are the
    SDK's (configured when the client is built), limits and the transcript are the
    loop's. A recording or replay client wraps any other by implementing this too.
    """

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec]) -> AssistantTurn:
        """Send the conversation and return the model's next turn.

        Raises:
            ProviderError: the request failed after the SDK's own retries.
        """
        ...
