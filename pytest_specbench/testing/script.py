"""The script a fake model follows: replies, tool calls and faults, one step per model turn."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = ["EXHAUSTED", "Call", "Fault", "FaultKind", "ReasoningAs", "Reply", "Step", "call"]

EXHAUSTED = "(script exhausted)"
"""The final text answered once a model's script has no step left."""

FaultKind: TypeAlias = Literal["status", "drop", "delay", "not_json", "cut_stream", "error_event"]
ReasoningAs: TypeAlias = Literal["reasoning_content", "reasoning", "think"]
"""How the OpenAI wire sends a reply's reasoning: in `reasoning_content` (vLLM, LM Studio,
llama-server), in `reasoning` (Ollama, OpenRouter), or inline as `<think>…</think>` before the
content (a server without a reasoning parser; unclosed when the reply stops at max_tokens)."""


@dataclass(frozen=True, slots=True)
class Call:
    """One tool call in a scripted reply; make it with `call()`."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    raw: str | None = None
    """Argument text sent instead of `arguments`, e.g. invalid JSON."""

    @property
    def text(self) -> str:
        """The arguments as they go over the wire."""
        return self.raw if self.raw is not None else json.dumps(self.arguments)


def call(name: str, _raw: str | None = None, **args: Any) -> Call:
    """A tool call of `name` with keyword arguments, or with the raw argument text `_raw`."""
    return Call(name, args, _raw)


@dataclass(frozen=True, slots=True)
class Fault:
    """One failed attempt at a step, before its reply comes through.

    `status` (the default kind) answers with that HTTP status and an error body in the
    provider's format; `drop` closes the connection unanswered; `delay` waits `seconds`
    and then answers normally; `not_json` answers 200 with `body`, an HTML page; `cut_stream`
    sends part of the answer (half the events of a stream) and closes the connection;
    `error_event` starts a stream and puts an error event in it (Anthropic's mid-stream
    `overloaded_error`, an OpenAI error chunk); a JSON request gets the status fault instead.
    """

    status: int = 500
    kind: FaultKind = "status"
    headers: Mapping[str, str] | None = None
    """Response headers; a status fault sends `retry-after-ms: 1` unless given others, so
    the SDKs retry at once instead of backing off for half a second."""
    message: str = ""
    """The error message of a status or error_event fault; the status phrase when empty."""
    seconds: float = 0.0
    """How long a `delay` fault waits."""
    body: str = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    """What a `not_json` fault answers (as text/html unless `headers` say otherwise)."""
    error: Mapping[str, Any] | None = None
    """The whole JSON error body of a status fault, sent as it is (a real server's own words,
    e.g. llama-server's `exceed_context_size_error`); None for the wire's usual body."""


@dataclass(frozen=True, slots=True)
class Reply:
    """What the model answers at one step of a script."""

    text: str = ""
    tool_calls: Sequence[Call] = ()
    input_tokens: int = 10
    """Every prompt token, cached ones included (each wire splits them its own way)."""
    output_tokens: int = 5
    cache_read_tokens: int = 0
    """Prompt tokens reported as read from the prompt cache."""
    cache_creation_tokens: int = 0
    """Prompt tokens reported as written to the prompt cache (Anthropic's wire only)."""
    stop_reason: str | None = None
    """`end_turn`, `tool_use` or `max_tokens` (sent in each provider's words) or any raw word;
    None for `tool_use` when there are tool calls and `end_turn` otherwise."""
    faults: Sequence[Fault] = ()
    """Failed attempts at this step before the reply comes through."""
    reasoning: str = ""
    """What a thinking model thinks before its answer: a `thinking` block with a signature on the
    Anthropic wire, `reasoning_as` on the OpenAI wire."""
    reasoning_as: ReasoningAs = "reasoning_content"
    redacted_reasoning: str = ""
    """The data of an Anthropic `redacted_thinking` block, sent after the thinking block."""
    reasoning_tokens: int = 0
    """Output tokens reported as reasoning (`completion_tokens_details.reasoning_tokens`, OpenAI only:
    Anthropic counts thinking inside `output_tokens`)."""
    cleared_tool_uses: int = 0
    """Anthropic's context editing: tool results the API cleared before this answer, sent with
    `cleared_input_tokens` as `context_management.applied_edits` (Anthropic wire only)."""
    cleared_input_tokens: int = 0

    def __post_init__(self) -> None:
        # Tuples, so that a reply stays immutable when a list was passed.
        object.__setattr__(self, "tool_calls", tuple(self.tool_calls))
        object.__setattr__(self, "faults", tuple(self.faults))

    @classmethod
    def tool(cls, name: str, /, **args: Any) -> Reply:
        """A reply that calls one tool."""
        return cls(tool_calls=[call(name, **args)])

    @classmethod
    def final(cls, text: str) -> Reply:
        """A reply with text and no tool call: the model is done."""
        return cls(text=text)

    @property
    def stop(self) -> str:
        return self.stop_reason or ("tool_use" if self.tool_calls else "end_turn")


Step: TypeAlias = Reply | Callable[[dict[str, Any]], Reply]
"""A scripted reply, or a function of the request's JSON body that returns one."""
