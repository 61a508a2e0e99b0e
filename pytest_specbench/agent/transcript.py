"""The record of one run: a list of typed events, persisted as versioned JSON Lines."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = [
    "TRANSCRIPT_VERSION",
    "TRUNCATED_STOPS",
    "AssistantEvent",
    "ContextEvent",
    "Event",
    "MessageEvent",
    "ReasoningEvent",
    "StopEvent",
    "StopReason",
    "ToolCallEvent",
    "ToolErrorKind",
    "Transcript",
]

TRANSCRIPT_VERSION = 1

StopReason: TypeAlias = Literal[
    "final_answer",
    "max_tokens",
    "max_turns",
    "timeout",
    "max_tool_calls",
    "max_total_tokens",
    "max_cost_usd",
    "loop",
    "context_window",
    "error",
]
"""Why the loop ended; only `final_answer` is a clean termination (`max_tokens`: an answer cut off,
`context_window`: the run's own conversation outgrew the model's window)."""

TRUNCATED_STOPS = frozenset({"length", "max_tokens"})
"""A turn's stop reason when the token limit cut it off: OpenAI's word, then Anthropic's."""

ToolErrorKind: TypeAlias = Literal["invalid_json", "unknown_tool", "bad_arguments", "tool_error"]


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """The system prompt or the brief, as sent."""

    role: Literal["system", "user"]
    text: str
    kind: Literal["message"] = "message"


@dataclass(frozen=True, slots=True)
class AssistantEvent:
    """One model turn."""

    turn: int
    """1-based request number."""
    text: str
    tool_calls: tuple[dict[str, Any], ...]
    """`{id, name, arguments}` with arguments as the raw JSON text the model sent."""
    input_tokens: int
    """Every prompt token, cached ones included."""
    output_tokens: int
    stop_reason: str
    seconds: float
    retries: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    reasoning_tokens: int = 0
    """Output tokens the provider counted as reasoning (part of `output_tokens`; 0 where it counts
    none apart, as Anthropic)."""
    context_window: int | None = None
    """The model's window in tokens, when known: `input_tokens` of it is the context this turn used."""
    kind: Literal["assistant"] = "assistant"

    @property
    def truncated(self) -> bool:
        """The turn was cut off by the model's `max_tokens`, whatever it held by then."""
        return self.stop_reason in TRUNCATED_STOPS


@dataclass(frozen=True, slots=True)
class ReasoningEvent:
    """What a thinking model thought before one turn's answer; just before that turn's `assistant` event.

    Never an answer: the checks read `AssistantEvent.text`, which holds none of it.
    """

    turn: int
    text: str
    """The readable reasoning of the turn, blocks joined by a blank line."""
    redacted_blocks: int = 0
    """Blocks the provider sent encrypted (Anthropic's `redacted_thinking`), which have no text."""
    kind: Literal["reasoning"] = "reasoning"


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    """One tool call and its result."""

    turn: int
    call_id: str
    name: str
    arguments: str
    """Raw JSON text of the arguments, as the model sent them."""
    result: str
    is_error: bool
    seconds: float
    error_kind: ToolErrorKind | None = None
    scaffold: bool = False
    """The tool belongs to the scaffold (todo, plan, notes), not the spec server."""
    kind: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class ContextEvent:
    """The harness changed what the model is sent from this turn on (a context strategy at work)."""

    turn: int
    """The turn whose request first carries the change."""
    strategy: str
    """`mask`, `summary`, or `native` (what the provider's own context editing cleared)."""
    detail: str
    input_tokens: int = 0
    """The summary request's prompt tokens (0 for a mask): counted in the run's tokens."""
    output_tokens: int = 0
    seconds: float = 0.0
    masked: int = 0
    """mask: how many tool results the request carries as placeholders."""
    kind: Literal["context"] = "context"


@dataclass(frozen=True, slots=True)
class StopEvent:
    """How the run ended."""

    reason: StopReason
    detail: str
    kind: Literal["stop"] = "stop"


Event: TypeAlias = MessageEvent | ReasoningEvent | AssistantEvent | ToolCallEvent | ContextEvent | StopEvent


@dataclass(slots=True)
class Transcript:
    """Events in order; the loop appends, so a run that errors keeps what happened so far."""

    events: list[Event] = field(default_factory=list)
    listeners: list[Callable[[Event], None]] = field(default_factory=list, repr=False, compare=False)
    """Called with every event as it is appended (live progress); never persisted."""

    def append(self, event: Event) -> None:
        """Add one event and tell the listeners."""
        self.events.append(event)
        for listener in self.listeners:
            listener(event)

    def assistant_turns(self) -> list[AssistantEvent]:
        """Every model turn, in order."""
        return [e for e in self.events if isinstance(e, AssistantEvent)]

    def reasoning(self, turn: int) -> ReasoningEvent | None:
        """The reasoning of one turn, if the model reasoned before it."""
        return next((e for e in self.events if isinstance(e, ReasoningEvent) and e.turn == turn), None)

    def context_events(self) -> list[ContextEvent]:
        """Every change a context strategy made, in order."""
        return [e for e in self.events if isinstance(e, ContextEvent)]

    def tool_calls(self) -> list[ToolCallEvent]:
        """Every tool call, in order."""
        return [e for e in self.events if isinstance(e, ToolCallEvent)]

    @property
    def stop(self) -> StopEvent | None:
        """The stop event, once the loop has ended."""
        last = self.events[-1] if self.events else None
        return last if isinstance(last, StopEvent) else None

    @property
    def final_text(self) -> str:
        """The text of the last model turn ('' if there was none)."""
        turns = self.assistant_turns()
        return turns[-1].text if turns else ""

    def to_jsonl(
        self, redact: Callable[[str], str] = lambda s: s, header: dict[str, Any] | None = None
    ) -> str:
        """One JSON object per line, a versioned header first; `redact` sees every line."""
        lines = [json.dumps({"kind": "header", "version": TRANSCRIPT_VERSION, **(header or {})})]
        lines += [json.dumps(dataclasses.asdict(e), ensure_ascii=False) for e in self.events]
        return "".join(redact(line) + "\n" for line in lines)

    @classmethod
    def from_jsonl(cls, text: str) -> Transcript:
        """Read back what `to_jsonl` wrote."""
        return cls(list(_parse_events(text)))


_EVENT_TYPES: dict[str, type[Any]] = {
    "message": MessageEvent,
    "reasoning": ReasoningEvent,
    "assistant": AssistantEvent,
    "tool_call": ToolCallEvent,
    "context": ContextEvent,
    "stop": StopEvent,
}


def _parse_events(text: str) -> Iterator[Event]:
    for line in text.splitlines():
        data = json.loads(line)
        kind = data.pop("kind")
        if kind == "header":
            if data.get("version") != TRANSCRIPT_VERSION:
                raise ValueError(f"transcript version {data.get('version')} is not {TRANSCRIPT_VERSION}")
            continue
        if "tool_calls" in data:
            data["tool_calls"] = tuple(data["tool_calls"])
        yield _EVENT_TYPES[kind](**data)
