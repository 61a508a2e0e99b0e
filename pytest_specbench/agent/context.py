"""What the model is sent of a long run: the context strategies, and the watch on the window.

The loop keeps the whole conversation; a `ContextView` decides what of it each request carries,
the same for every provider:

- `full` sends all of it (the default);
- `mask` replaces the results of read-only tools older than the last `keep_last` calls by a
  one-line placeholder. Results of tools that write stay whole, so the ids they returned
  survive. A masked message is built once and reused, so the prefix of every later request
  stays the same (a provider's prompt cache, the adapters' encoders and the cassette's codec
  all key on it);
- `summary`, once a prompt fills `summary_at` of the window, asks the same model for a summary
  of the run so far (`SUMMARY_REQUEST`) and continues from the brief and that summary; the
  summary request is a model turn whose tokens count (`ContextEvent`).

`PromptWatch` catches a server that drops part of the conversation to fit its window without
saying so (Ollama's default): the conversation only grows, so the prompt tokens it reports may
not fall, or stand still at the window, while it does. It judges only where the window is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from pytest_specbench.config.settings import ContextConfig, ContextStrategy
from pytest_specbench.errors import ContextTruncated
from pytest_specbench.models.types import (
    Message,
    ToolResult,
    ToolResultsMessage,
    ToolSpec,
    Usage,
    UserMessage,
)

__all__ = ["SUMMARY_HEADER", "SUMMARY_REQUEST", "ContextView", "PromptWatch", "masked_text", "prompt_tokens"]

SUMMARY_REQUEST = (
    "The conversation is about to outgrow your context window. Do not call a tool now. Write a "
    "summary of the work so far that lets you carry on from it alone: what you have read of the "
    "codebase and learned from it, every spec item you created (with its id and title), what is "
    "left to do and what you were about to do next."
)
"""Sent, after the conversation so far, to ask the model for its summary."""
SUMMARY_HEADER = "Your summary of the work so far (the earlier conversation was replaced by it):"
"""Put between the brief and the summary in the request that continues the run."""


def masked_text(result: ToolResult) -> str:
    """The placeholder of a masked result: the same text every turn, so the prompt's prefix holds."""
    return (
        f"[{len(result.content):,} characters of {result.name} output removed by the harness to save "
        "context; call the tool again if you need them]"
    )


@dataclass(slots=True)
class ContextView:
    """What of the conversation each request carries, under one `ContextConfig`."""

    config: ContextConfig
    read_only: frozenset[str] = frozenset()
    """Names of the tools whose results `mask` may drop (MCP's readOnlyHint)."""
    window: int | None = None
    summary: UserMessage | None = None
    """The brief and the summary, which replace `history[:summary_from]`."""
    summary_from: int = 0
    gave_up: bool = False
    """The model gave no summary when asked: the conversation goes on whole."""
    masked: int = 0
    """How many results the last `messages()` sent as placeholders."""
    _masked: dict[int, tuple[ToolResultsMessage, int, ToolResultsMessage, int]] = field(default_factory=dict)
    """index → (source, results old enough, masked copy, results masked): built once, then reused."""

    @classmethod
    def of(cls, config: ContextConfig, specs: list[ToolSpec], window: int | None) -> ContextView:
        """The view of a run offered `specs`, in a window of `window` tokens (None: unknown)."""
        return cls(config, frozenset(s.name for s in specs if s.read_only), window)

    def messages(self, history: list[Message]) -> list[Message]:
        """The messages to send; `history` itself under `full`, so nothing is copied."""
        if self.summary is not None:
            history = [self.summary, *history[self.summary_from :]]
        if self.config.strategy is ContextStrategy.MASK:
            return self._mask(history)
        return history

    def wants_summary(self, last_prompt: int) -> bool:
        """Whether the last prompt filled the share of the window that calls for a summary."""
        if self.config.strategy is not ContextStrategy.SUMMARY or not self.window or self.gave_up:
            return False
        return last_prompt >= self.config.summary_at * self.window

    def summarised(self, history: list[Message], brief: str, text: str) -> None:
        """Continue from the brief and `text` in place of everything in `history` so far."""
        self.summary = UserMessage(f"{brief}\n\n{SUMMARY_HEADER}\n\n{text}")
        self.summary_from = len(history)

    def _mask(self, history: list[Message]) -> list[Message]:
        keep, seen, masked = self.config.keep_last, 0, 0
        view = list(history)
        for index in range(len(history) - 1, -1, -1):
            message = history[index]
            if not isinstance(message, ToolResultsMessage):
                continue
            # Within one batch, the later results are the more recent calls.
            old = max(0, len(message.results) - max(0, keep - seen))
            seen += len(message.results)
            if old:
                view[index], count = self._masked_copy(index, message, old)
                masked += count
        self.masked = masked
        return view

    def _masked_copy(
        self, index: int, message: ToolResultsMessage, old: int
    ) -> tuple[ToolResultsMessage, int]:
        cached = self._masked.get(index)
        if cached is not None and cached[0] is message and cached[1] == old:
            return cached[2], cached[3]
        drop = [i < old and self._maskable(r) for i, r in enumerate(message.results)]
        results = tuple(
            replace(r, content=masked_text(r)) if d else r for d, r in zip(drop, message.results, strict=True)
        )
        copy = replace(message, results=results) if any(drop) else message
        self._masked[index] = (message, old, copy, sum(drop))
        return copy, sum(drop)

    def _maskable(self, result: ToolResult) -> bool:
        return result.name in self.read_only and len(result.content) > len(masked_text(result))


def prompt_tokens(usage: Usage) -> int:
    """Every prompt token of a request, cached ones included.

    `Usage.input_tokens` already counts them; a server that reports only the uncached ones
    (older llama-server, Ollama with its cache) shows fewer prompt tokens than cached ones,
    and then the two are added.
    """
    if usage.input_tokens < usage.cache_read_input_tokens:
        return usage.input_tokens + usage.cache_read_input_tokens
    return usage.input_tokens


_PLATEAU = 0.9
"""A prompt that stops growing at this share of the window or above is being cut to fit it."""
_TOLERANCE = 0.01
"""A fall smaller than this share of the last prompt is noise (templates that drop reasoning)."""


@dataclass(slots=True)
class PromptWatch:
    """Catches a server that drops part of a growing conversation without saying so."""

    window: int | None = None
    last: int = 0
    last_turn: int = 0

    def rewritten(self) -> None:
        """The harness itself shortened the conversation: the next prompt starts a new baseline."""
        self.last, self.last_turn = 0, 0

    def check(self, turn: int, usage: Usage) -> None:
        """Raise ContextTruncated when this turn's prompt is smaller than the last one's, or
        stands still at the window, though the conversation only grew since.

        Judged only where the window is known (configured, or read from the server): it is what
        tells a server cutting the conversation from one that counts oddly, or a test double's
        fixed counts. Turn 1 only sets the baseline (a cold cache may count it apart), so a
        comparison starts at the second prompt the harness did not shorten.
        """
        now = prompt_tokens(usage)
        if now == 0 or self.window is None:
            return  # a server that reports no usage, or no window to judge against
        last, last_turn = self.last, self.last_turn
        self.last, self.last_turn = now, turn
        if not last or last_turn == 1:
            return
        fell = now < last * (1 - _TOLERANCE)
        stuck = now <= last and now >= _PLATEAU * self.window
        if fell or stuck:
            raise ContextTruncated(self._message(turn, now, last, last_turn))

    def _message(self, turn: int, now: int, last: int, last_turn: int) -> str:
        return (
            f"context truncated by the server at turn {turn}: the prompt was {now:,} tokens after "
            f"{last:,} at turn {last_turn} (window {self.window or 0:,}), though the conversation only grew "
            "— the server drops messages to fit its window; give it a larger one (Ollama: num_ctx)"
        )
