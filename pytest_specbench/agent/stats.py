"""Numbers about a run, derived from its transcript."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from pytest_specbench._record import ContextFields
from pytest_specbench.agent.context import prompt_tokens
from pytest_specbench.agent.transcript import AssistantEvent, ReasoningEvent, ToolCallEvent, Transcript
from pytest_specbench.models.types import Usage

__all__ = ["RunStats", "call_key", "context_fields", "identical_streaks"]


@dataclass(frozen=True, slots=True)
class RunStats:
    """What a run cost and how it went."""

    turns: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    tool_errors_by_kind: dict[str, int] = field(default_factory=dict)
    """Keyed by `invalid_json`, `unknown_tool`, `bad_arguments`, `tool_error`."""
    input_tokens: int = 0
    """Every prompt token, cached ones included."""
    output_tokens: int = 0
    seconds: float = 0.0
    retries: int = 0
    """Requests the SDKs retried after a provider fault."""
    max_identical_streak: int = 0
    """Longest run of the same tool with the same arguments, back to back."""
    scaffold_calls: int = 0
    truncated_turns: int = 0
    """Model turns cut off by `max_tokens` (stop reason `length` / `max_tokens`): a broken call or answer."""
    cache_read_input_tokens: int = 0
    """Prompt tokens the provider served from its cache (part of `input_tokens`)."""
    cache_creation_input_tokens: int = 0
    """Prompt tokens the provider wrote to its cache (part of `input_tokens`)."""
    reasoning_tokens: int = 0
    """Output tokens the provider counted as reasoning (part of `output_tokens`): OpenAI's
    `reasoning_tokens`; 0 for Anthropic, whose thinking is counted inside `output_tokens` only."""
    reasoning_turns: int = 0
    """Model turns that came with reasoning (its own field, a `<think>` block, or thinking blocks)."""
    context_window: int | None = None
    """The model's window in tokens, when known."""
    peak_context_tokens: int = 0
    """The largest prompt of the run, in tokens: how full the window got."""
    end_context_tokens: int = 0
    """The last turn's prompt, in tokens."""
    summary_turns: int = 0
    """Requests the `summary` context strategy made (their tokens are in the totals)."""
    masked_results: int = 0
    """Tool results the `mask` context strategy sent as placeholders, at the most."""

    @property
    def peak_context_fraction(self) -> float | None:
        """`peak_context_tokens` as a share of the window; None when the window is unknown."""
        return _share(self.peak_context_tokens, self.context_window)

    @property
    def end_context_fraction(self) -> float | None:
        """`end_context_tokens` as a share of the window; None when the window is unknown."""
        return _share(self.end_context_tokens, self.context_window)

    @classmethod
    def from_transcript(cls, transcript: Transcript, seconds: float) -> RunStats:
        """Count everything the transcript records."""
        turns, calls = transcript.assistant_turns(), transcript.tool_calls()
        errors = [c for c in calls if c.is_error]
        context = transcript.context_events()
        prompts = [_prompt(t) for t in turns]
        return cls(
            turns=len(turns),
            tool_calls=len(calls),
            tool_errors=len(errors),
            tool_errors_by_kind=dict(Counter(c.error_kind or "tool_error" for c in errors)),
            input_tokens=sum(t.input_tokens for t in turns) + sum(e.input_tokens for e in context),
            output_tokens=sum(t.output_tokens for t in turns) + sum(e.output_tokens for e in context),
            seconds=round(seconds, 3),
            retries=sum(t.retries for t in turns),
            max_identical_streak=max((n for _, _, n in identical_streaks(calls)), default=0),
            scaffold_calls=sum(1 for c in calls if c.scaffold),
            truncated_turns=sum(1 for t in turns if t.truncated),
            cache_read_input_tokens=sum(t.cache_read_input_tokens for t in turns),
            cache_creation_input_tokens=sum(t.cache_creation_input_tokens for t in turns),
            reasoning_tokens=sum(t.reasoning_tokens for t in turns),
            reasoning_turns=sum(1 for e in transcript.events if isinstance(e, ReasoningEvent)),
            context_window=next((t.context_window for t in reversed(turns) if t.context_window), None),
            peak_context_tokens=max(prompts, default=0),
            end_context_tokens=prompts[-1] if prompts else 0,
            summary_turns=sum(1 for e in context if e.strategy == "summary"),
            masked_results=max((e.masked for e in context), default=0),
        )


def context_fields(stats: RunStats) -> ContextFields:
    """How full the window got, as results.json record fields (beside `stats_fields`)."""
    return {
        "context_window": stats.context_window,
        "peak_context_tokens": stats.peak_context_tokens,
        "end_context_tokens": stats.end_context_tokens,
        "peak_context_fraction": stats.peak_context_fraction,
        "end_context_fraction": stats.end_context_fraction,
        "summary_turns": stats.summary_turns,
        "masked_results": stats.masked_results,
    }


def _prompt(turn: AssistantEvent) -> int:
    return prompt_tokens(Usage(turn.input_tokens, cache_read_input_tokens=turn.cache_read_input_tokens))


def _share(tokens: int, window: int | None) -> float | None:
    return round(tokens / window, 4) if window else None


def call_key(call: ToolCallEvent) -> str:
    """The tool and its arguments in canonical JSON, so key order and spacing don't matter."""
    try:
        arguments = json.dumps(json.loads(call.arguments), sort_keys=True, separators=(",", ":"))
    except ValueError:
        arguments = call.arguments
    return f"{call.name}({arguments})"


def identical_streaks(calls: list[ToolCallEvent]) -> list[tuple[ToolCallEvent, str, int]]:
    """Each maximal run of identical consecutive calls: its first call, its key and its length."""
    streaks: list[tuple[ToolCallEvent, str, int]] = []
    for call in calls:
        key = call_key(call)
        if streaks and streaks[-1][1] == key:
            first, _, count = streaks[-1]
            streaks[-1] = (first, key, count + 1)
        else:
            streaks.append((call, key, 1))
    return streaks
