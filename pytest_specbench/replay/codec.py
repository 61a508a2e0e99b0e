"""Neutral requests and answers as JSON, with the run's own values taken out.

A request is encoded once per message (the loop only ever appends), normalised
(the run's workspace, specs and codebase paths become `{workspace}`, `{specs_dir}`,
`{codebase}`; durations such as `0.42s` become `<duration>`) and redacted, so the
same conversation encodes to the same JSON on any machine, in any temp directory.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from pytest_specbench._text import map_strings
from pytest_specbench.config.settings import ModelConfig, RunSettings
from pytest_specbench.models.types import (
    AssistantMessage,
    AssistantTurn,
    Message,
    Reasoning,
    StopReason,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
    UserMessage,
)
from pytest_specbench.replay import fields

__all__ = [
    "Normaliser",
    "RequestCodec",
    "canonical",
    "map_text",
    "sampling_of",
    "turn_data",
    "turn_from_data",
]

_DURATION = re.compile(r"(?<![\w.])\d+\.\d+\s?(?:ms|s|sec|seconds)\b")
"""A measured duration (`0.42s`, `12.5 ms`); whole numbers (`60s`, a configured timeout) are kept."""
STOP_REASONS: frozenset[str] = frozenset({"end_turn", "tool_use", "max_tokens", "other"})
_THINKING_KEYS = ("thinking", "thinking_budget_tokens", "interleaved_thinking", "effort", "reasoning_effort")
"""The model keys that decide how much a thinking model thinks: part of what a cassette must match."""


_OPAQUE = frozenset({"signature", "redacted"})
"""Keys of a reasoning block that hold the provider's ciphertext, kept byte for byte."""


def map_text(data: Any, change: Callable[[str], str]) -> Any:
    """`map_strings`, except a reasoning block's signature and encrypted data.

    Those are opaque ciphertext (Anthropic's), which holds nothing to redact or normalise, looks
    like the long base64 the redactor takes for a credential, and is refused once changed.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("reasoning"), list):
        return map_strings(data, change)
    changed = map_strings({key: value for key, value in data.items() if key != "reasoning"}, change)
    changed["reasoning"] = [
        {key: value if key in _OPAQUE else map_strings(value, change) for key, value in part.items()}
        for part in data["reasoning"]
    ]
    return changed


def canonical(data: Any) -> bytes:
    """The one byte form of JSON data that hashes compare: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "backslashreplace"
    )


def sampling_of(model: ModelConfig, settings: RunSettings) -> dict[str, Any]:
    """What decides the model's answer besides the conversation: provider, model name, sampling."""
    sampling = {
        "provider": str(model.provider),
        "model": model.model,
        "temperature": settings.temperature,
        "max_tokens": model.max_tokens,
    }
    # Only when set: a cassette recorded before these keys existed keeps its hashes.
    extras = model.extra.given()
    return sampling | {key: extras[key] for key in _THINKING_KEYS if key in extras}


@dataclass(frozen=True, slots=True)
class Normaliser:
    """Swaps the run's paths for placeholders (and back), and blanks measured durations."""

    values: Mapping[str, str] = field(default_factory=dict)
    """Placeholder (`{workspace}`) → this run's absolute path."""

    @classmethod
    def of(cls, paths: Mapping[str, Path] | None) -> Normaliser:
        """From `{"workspace": path, ...}`; longest path first, so a nested one wins."""
        pairs = sorted(((f"{{{k}}}", str(v)) for k, v in (paths or {}).items()), key=lambda p: -len(p[1]))
        return cls(dict(pairs))

    def paths_out(self, text: str) -> str:
        """This run's paths replaced by their placeholders."""
        for placeholder, value in self.values.items():
            text = text.replace(value, placeholder)
        return text

    def paths_in(self, text: str) -> str:
        """The placeholders replaced by this run's paths (a recorded answer, made this run's)."""
        for placeholder, value in self.values.items():
            text = text.replace(placeholder, value)
        return text

    def request_text(self, text: str) -> str:
        """A request's text as compared: paths out, durations blanked."""
        return _DURATION.sub("<duration>", self.paths_out(text))


@dataclass(slots=True)
class RequestCodec:
    """Encodes the requests of one run, incrementally: each message once, in order."""

    normaliser: Normaliser
    redact: Callable[[str], str]
    messages: list[Any] = field(default_factory=list)
    """The encoded messages so far."""
    _sources: list[Message] = field(default_factory=list)
    _digest: Any = field(default_factory=hashlib.sha256)
    _meta_source: Any = None
    _meta: tuple[str, list[Any], bytes] = ("", [], b"")

    def clean(self, data: Any) -> Any:
        """`data` normalised and redacted, every string of it."""
        return map_text(data, lambda text: self.redact(self.normaliser.request_text(text)))

    def encode(self, messages: list[Message]) -> int:
        """Encode the messages not seen before; returns how many were already encoded.

        A message already encoded must be the same object: the loop only appends, and a
        conversation rewritten behind the cassette's back is re-encoded from there.
        """
        same = 0
        while same < min(len(messages), len(self._sources)) and messages[same] is self._sources[same]:
            same += 1
        if same < len(self._sources):
            self._rewind(same)
        for message in messages[same:]:
            encoded = self.clean(message_data(message))
            self.messages.append(encoded)
            self._sources.append(message)
            self._digest.update(canonical(encoded) + b"\n")
        return same

    def _rewind(self, keep: int) -> None:
        del self.messages[keep:], self._sources[keep:]
        self._digest = hashlib.sha256()
        for encoded in self.messages:
            self._digest.update(canonical(encoded) + b"\n")

    def request(
        self, sampling: Mapping[str, Any], system: str, tools: list[ToolSpec]
    ) -> tuple[str, list[Any], str]:
        """The system prompt and tools as compared, and the request's hash; call after `encode`.

        The hash is sha256 over the canonical settings, system prompt and tools, then over the
        sha256 of the messages in order. The first three rarely change within a run: they are
        cleaned and hashed again only when they do.
        """
        source = (dict(sampling), system, list(tools))
        if source != self._meta_source:
            clean_system, clean_tools = self.clean(system), self.clean([tool_data(t) for t in tools])
            digest = hashlib.sha256(canonical([source[0], clean_system, clean_tools])).digest()
            self._meta_source, self._meta = source, (clean_system, clean_tools, digest)
        clean_system, clean_tools, head = self._meta
        whole = hashlib.sha256(head + self._digest.digest()).hexdigest()
        return clean_system, clean_tools, f"sha256:{whole}"


def tool_data(spec: ToolSpec) -> dict[str, Any]:
    """A tool as the model is offered it."""
    return {"name": spec.name, "description": spec.description, "input_schema": spec.input_schema}


def message_data(message: Message) -> dict[str, Any]:
    """A message as the provider receives it (an assistant turn without its usage or stop reason)."""
    if isinstance(message, UserMessage):
        return {"role": "user", "text": message.text}
    if isinstance(message, AssistantMessage):
        turn = message.turn
        calls = [{"id": c.id, "name": c.name, "arguments": c.raw_arguments} for c in turn.tool_calls]
        data: dict[str, Any] = {"role": "assistant", "text": turn.text, "tool_calls": calls}
        if turn.reasoning:  # only then: a cassette recorded without reasoning keeps its hashes
            data["reasoning"] = [_reasoning_data(part) for part in turn.reasoning]
        return data
    data = {"role": "tool", "results": [_result_data(r) for r in message.results]}
    if message.reminder:
        data["reminder"] = message.reminder
    return data


def _result_data(result: ToolResult) -> dict[str, Any]:
    return {
        "call_id": result.call_id,
        "name": result.name,
        "content": result.content,
        "is_error": result.is_error,
    }


def _reasoning_data(part: Reasoning) -> dict[str, str]:
    data = {"text": part.text}
    if part.signature:
        data["signature"] = part.signature
    if part.redacted:
        data["redacted"] = part.redacted
    return data


_OPTIONAL_USAGE = ("cache_read_input_tokens", "cache_creation_input_tokens", "reasoning_tokens")
"""Token counts written only when not 0, so that older cassettes read back the same."""


def turn_data(turn: AssistantTurn) -> dict[str, Any]:
    """Everything of an answer the loop reads: text, reasoning, tool calls, usage, stop reason, retries."""
    usage = {"input_tokens": turn.usage.input_tokens, "output_tokens": turn.usage.output_tokens}
    usage |= {name: count for name in _OPTIONAL_USAGE if (count := getattr(turn.usage, name))}
    data: dict[str, Any] = {
        "text": turn.text,
        "tool_calls": [_call_data(c) for c in turn.tool_calls],
        "usage": usage,
        "stop_reason": turn.stop_reason,
        "raw_stop_reason": turn.raw_stop_reason,
        "retries": turn.retries,
    }
    if turn.reasoning:
        data["reasoning"] = [_reasoning_data(part) for part in turn.reasoning]
    if turn.context_edits:  # only then, as reasoning: older cassettes read back the same
        data["context_edits"] = turn.context_edits
    return data


def _call_data(call: ToolCall) -> dict[str, Any]:
    data: dict[str, Any] = {"id": call.id, "name": call.name, "arguments": call.arguments}
    data["raw_arguments"] = call.raw_arguments
    if call.parse_error is not None:
        data["parse_error"] = call.parse_error
    return data


_ANSWER_KEYS = frozenset(
    {"text", "tool_calls", "usage", "stop_reason", "raw_stop_reason", "retries", "reasoning", "context_edits"}
)
_USAGE_KEYS = frozenset({"input_tokens", "output_tokens", *_OPTIONAL_USAGE})
_CALL_KEYS = frozenset({"id", "name", "arguments", "raw_arguments", "parse_error"})
_REASONING_KEYS = frozenset({"text", "signature", "redacted"})


def turn_from_data(data: Any, where: str = "answer") -> AssistantTurn:
    """The answer `turn_data` wrote; raises TypeError or ValueError naming the field
    (`answer.usage.input_tokens`) when it is malformed."""
    if not isinstance(data, Mapping):
        raise TypeError(f"{where} must be an object, got {fields.shown(data)}")
    fields.known(data, _ANSWER_KEYS, where)
    stop = fields.text(data, "stop_reason", where)
    if stop not in STOP_REASONS:
        known = ", ".join(sorted(STOP_REASONS))
        raise ValueError(f"{where}.stop_reason is {fields.shown(stop)}, not one of {known}")
    usage = fields.obj(data, "usage", where)
    fields.known(usage, _USAGE_KEYS, f"{where}.usage")
    counts = {name: fields.count(usage, name, f"{where}.usage", 0) for name in _OPTIONAL_USAGE}
    calls = fields.items(data, "tool_calls", where)
    reasoning = fields.items(data, "reasoning", where, [])
    return AssistantTurn(
        text=fields.text(data, "text", where),
        tool_calls=tuple(_call_from_data(c, f"{where}.tool_calls[{i}]") for i, c in enumerate(calls)),
        usage=Usage(
            fields.count(usage, "input_tokens", f"{where}.usage"),
            fields.count(usage, "output_tokens", f"{where}.usage"),
            **counts,
        ),
        stop_reason=cast(StopReason, stop),
        raw_stop_reason=fields.text(data, "raw_stop_reason", where, ""),
        retries=fields.count(data, "retries", where, 0),
        reasoning=tuple(_reasoning_from_data(p, f"{where}.reasoning[{i}]") for i, p in enumerate(reasoning)),
        context_edits=fields.text(data, "context_edits", where, ""),
    )


def _reasoning_from_data(data: Mapping[str, Any], where: str) -> Reasoning:
    fields.known(data, _REASONING_KEYS, where)
    text, signature = fields.text(data, "text", where), fields.text(data, "signature", where, "")
    return Reasoning(text, signature, fields.text(data, "redacted", where, ""))


def _call_from_data(data: Mapping[str, Any], where: str) -> ToolCall:
    fields.known(data, _CALL_KEYS, where)
    if "arguments" not in data:
        raise ValueError(f"{where}.arguments is missing")
    arguments = None if data["arguments"] is None else fields.obj(data, "arguments", where)
    error = data.get("parse_error")
    return ToolCall(
        fields.text(data, "id", where),
        fields.text(data, "name", where),
        arguments,
        fields.text(data, "raw_arguments", where),
        None if error is None else fields.text(data, "parse_error", where),
    )
