"""Context overflow in each provider's own words: one classifier for every adapter and the loop.

A request that does not fit the model's window is refused (an HTTP error) or, by some servers,
answered with a stop reason that says so. Each is matched by its type or code first and by
its text second, and none is ever retried: the same request cannot fit the next time either.

    OpenAI     error.code = "context_length_exceeded" (Chat Completions and the Responses API),
               "This model's maximum context length is 128000 tokens. However, your messages
               resulted in 131072 tokens."
    Anthropic  "prompt is too long: 208310 tokens > 200000 maximum"; the older "input length and
               `max_tokens` exceed context limit: 197022 + 21333 > 200000"; and on a successful
               reply, stop_reason = "model_context_window_exceeded"
    llama.cpp  error.type = "exceed_context_size_error" with n_prompt_tokens and n_ctx; a reply
               whose finish_reason "length" came when prompt + completion reached n_ctx
    vLLM       "This model's maximum context length is 16384 tokens. However, you requested 122946
               tokens (...)", "... your request has 2104 input tokens (2000 > 4096 - 2104)",
               "... for a total of at least 128001 tokens"
    LM Studio  "Trying to keep the first 15857 tokens when context the overflows. However, the model
               is loaded with context length of only 4096 tokens", "Cannot truncate prompt with
               n_keep (15028) >= n_ctx (7424)", "Reached context length of 32000 tokens",
               "Input length 6491 exceeds context length 1500"
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..config.settings import ModelConfig, Provider
from .types import AssistantTurn

__all__ = [
    "WINDOW_STOP_REASONS",
    "Overflow",
    "context_window",
    "overflow_in_body",
    "overflow_in_reply",
    "overflow_in_text",
]

WINDOW_STOP_REASONS = frozenset({"model_context_window_exceeded"})
"""Stop reasons of a successful reply that mean the window, not max_tokens, ended it (Anthropic)."""

_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
_TYPES = frozenset({"exceed_context_size_error", "context_length_exceeded"})


@dataclass(frozen=True, slots=True)
class Overflow:
    """A request or a reply that outgrew the context window, with the numbers the provider gave."""

    tokens: int | None = None
    """The tokens the request needed (prompt, plus max_tokens where the provider counts it)."""
    window: int | None = None
    """The context window in tokens."""
    said: str = ""
    """The provider's words, one line."""

    def numbers(self) -> str:
        """`131,072 tokens > 128,000`, or as much of it as is known."""
        if self.tokens is not None and self.window is not None:
            return f"{self.tokens:,} tokens > {self.window:,}"
        if self.window is not None:
            return f"the window of {self.window:,} tokens"
        if self.tokens is not None:
            return f"{self.tokens:,} tokens"
        return "the provider gave no numbers"


def _ints(*groups: str | None) -> list[int]:
    return [int(g.replace(",", "")) for g in groups if g is not None]


# Each pattern gives (tokens, window); the order is most specific first.
_N = r"([\d,]+)"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"prompt is too long: {_N} tokens > {_N}", re.I), "tw"),
    (re.compile(rf"exceed context limit: {_N} \+ {_N} > {_N}", re.I), "ttw"),
    (re.compile(rf"context length is {_N} tokens.*?for a total of (?:at least )?{_N} tokens", re.I), "wt"),
    (re.compile(rf"context length is {_N} tokens.*?request has {_N} input tokens \({_N} >", re.I), "wtt"),
    (
        re.compile(rf"context length is {_N} tokens.*?(?:resulted in|requested|has) (?:about )?{_N}", re.I),
        "wt",
    ),
    (re.compile(rf"keep the first {_N} tokens.*?context length of only {_N}", re.I), "tw"),
    (re.compile(rf"n_keep \({_N}\) >= n_ctx \({_N}\)", re.I), "tw"),
    (re.compile(rf"input length {_N} exceeds context length {_N}", re.I), "tw"),
    (re.compile(rf"request \({_N} tokens\) exceeds the available context size \({_N} tokens\)", re.I), "tw"),
    (re.compile(rf"reached context length of {_N} tokens", re.I), "w"),
    (re.compile(rf"context length is {_N} tokens", re.I), "w"),
    (
        re.compile(r"exceeds the available context size|context[_ ]length[_ ]exceeded|context window", re.I),
        "",
    ),
)


def overflow_in_text(text: str) -> Overflow | None:
    """The overflow an error message describes, or None when it describes something else."""
    for pattern, roles in _PATTERNS:
        found = pattern.search(text)
        if found is None:
            continue
        values = _ints(*found.groups())
        tokens = sum(v for v, r in zip(values, roles, strict=True) if r == "t") if "t" in roles else None
        window = next((v for v, r in zip(values, roles, strict=True) if r == "w"), None)
        return Overflow(tokens, window, _one_line(text))
    return None


def overflow_in_body(body: object) -> Overflow | None:
    """The overflow an error body reports: its type or code first, its message second."""
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return overflow_in_text(str(body))
    if not isinstance(body, dict):
        return None
    error = body.get("error", body)
    if isinstance(error, str):
        return overflow_in_text(error)
    if not isinstance(error, dict):
        return None
    message = str(error.get("message") or body.get("message") or "")
    from_text = overflow_in_text(message)
    if error.get("type") == "exceed_context_size_error":
        tokens, window = _int_or_none(error.get("n_prompt_tokens")), _int_or_none(error.get("n_ctx"))
        if tokens is None and from_text is not None:
            tokens, window = from_text.tokens, from_text.window
        return Overflow(tokens, window, _one_line(message))
    if error.get("code") in _CODES or error.get("type") in _TYPES:
        return from_text or Overflow(said=_one_line(message))
    return from_text


def overflow_in_reply(turn: AssistantTurn, window: int | None) -> Overflow | None:
    """A successful reply that the window ended: Anthropic's stop reason, or llama.cpp's `length`
    when prompt and completion together reached the window (`window` known, else not judged)."""
    usage = turn.usage
    if turn.raw_stop_reason in WINDOW_STOP_REASONS:
        return Overflow(usage.input_tokens + usage.output_tokens or None, window, turn.raw_stop_reason)
    used = usage.input_tokens + usage.output_tokens
    if turn.stop_reason == "max_tokens" and window is not None and usage.input_tokens and used >= window:
        return Overflow(used, window, f'finish_reason "{turn.raw_stop_reason or "length"}" at the window')
    return None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 200 else line[:199] + "…"


def context_window(model: ModelConfig) -> int | None:
    """The model's window in tokens: its `context_window` key, else a llamacpp model's n_ctx
    (the plugin starts that server itself, so the number is known); None when neither says."""
    if model.context_window is not None:
        return model.context_window
    if model.provider is Provider.LLAMACPP:
        from .llamacpp import DEFAULT_N_CTX  # here: the module is for local models only

        return model.extra.n_ctx or DEFAULT_N_CTX
    return None
