"""Keeping API keys out of everything a session writes or shows.

A `Redactor` replaces two kinds of secret with `[REDACTED]`: the values of the
variables the config reads keys from (every model's `key_variable` that is set,
and secret-looking `env` values of external servers), and text shaped like a
credential (`sk-...`, `sk-ant-...`, `Bearer ...`, `AIza...`, `ghp_...`, long hex
or high-entropy base64). The shapes are deliberately narrow: spec ids (`F-0001`),
slugs, paths and UUIDs are never touched.

It is applied where text leaves the harness: to the model's turns before the
loop sees them, once, where the session opens the client (so a key the model
echoes never reaches a tool, a spec file or a snapshot), to tool results before
the model sees them, and to transcripts, results.json records, error messages
and server logs before they are written.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pytest_specbench._text import map_strings
from pytest_specbench.agent.loop import ToolOutcome, ToolSession
from pytest_specbench.config.settings import Config
from pytest_specbench.models.types import AssistantTurn, Message, ModelClient, ToolCall, ToolSpec

__all__ = ["REDACTED", "RedactingClient", "RedactingTools", "Redactor", "redact_data"]

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 8
"""Shorter configured values are not redacted: replacing 'abc' everywhere would mangle every text."""
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH(?!OR)", re.IGNORECASE)

# Vendor shapes: a fixed prefix and enough key characters that nothing else looks like one.
_SHAPES = [
    r"sk-ant-[\w-]{10,}",  # Anthropic
    r"sk-[\w-]{16,}",  # OpenAI (sk-proj-, sk-svcacct-), OpenRouter, DeepSeek, ...
    r"AIza[\w-]{30,}",  # Google
    r"gh[pousr]_[A-Za-z0-9]{20,}",  # GitHub tokens
    r"github_pat_\w{20,}",
    r"glpat-[\w-]{20,}",  # GitLab
    r"xox[abposr]-[\w-]{10,}",  # Slack
    r"hf_[A-Za-z0-9]{20,}",  # Hugging Face
    r"AKIA[0-9A-Z]{16}",  # AWS access key id
]
_VENDOR = re.compile(r"(?<![\w-])(?:" + "|".join(_SHAPES) + r")")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[\w.~+/-]{8,}=*")
_ASSIGNED = re.compile(
    r"(?i)\b([\w-]*(?:api[_-]?key|token|secret|password)[\"']?\s*[:=]\s*[\"']?)([\w.+/=-]{12,})"
)
_SHORTEST_SHAPE = 15
"""No shape matches fewer characters: "Bearer " and 8 more, or "xoxb-" and 10 more."""
# Cheap tests on the lowercased text that every match of the pattern next to them passes:
# a text without the hint skips that pattern (`_ASSIGNED` alone was 40 % of a pass).
_VENDOR_HINT = re.compile(r"sk-|aiza|gh[pousr]_|github_pat_|glpat-|xox[abposr]-|hf_|akia")
_BEARER_HINT = re.compile("bearer")
_ASSIGNED_HINT = re.compile(r"api[_-]?key|token|secret|password")
_FOLD = str.maketrans({"\u0131": "i", "\u017f": "s", "\u0307": None})
"""What `lower()` leaves of the non-ASCII letters IGNORECASE matches to ASCII ones: dotless i,
long s, and the combining dot that "\u0130".lower() adds after its i (Kelvin's K lowers to k)."""
_HEX = re.compile(r"(?<![\w-])[0-9a-fA-F]{32,}(?![\w-])")
_BASE64 = re.compile(r"(?<![\w/+-])[A-Za-z0-9+/]{40,}={0,2}(?![\w/+=-])")
_BASE64_MIN_ENTROPY = 4.3
"""Bits per character: random base64 scores about 5, identifiers and paths about 4 or less."""
_WORDS = re.compile(r"[A-Z]?[a-z]{2,}|[A-Z]{2,}(?![a-z])")
_MAX_WORDINESS = 0.7
"""Share of a token in word-like runs: CamelCase names and paths score 0.8 or more, random keys about 0.5."""


class Redactor:
    """Replaces secrets in text with `[REDACTED]`; call it on a string, or `.data()` on JSON-like data."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        """Redact these exact values (those under MIN_SECRET_LENGTH are ignored) and every key shape.

        Args:
            secrets: values known to be secret, such as the API keys read from the environment.
        """
        values = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        self._known = re.compile("|".join(map(re.escape, values))) if values else None

    @classmethod
    def from_config(cls, config: Config | None, environ: Mapping[str, str] | None = None) -> Redactor:
        """Every configured key variable that is set, and secret-named `env` values of external servers."""
        env = os.environ if environ is None else environ
        secrets: list[str] = []
        if config is not None:
            variables = {m.key_variable for m in config.models.values() if m.key_variable}
            secrets += [env[name] for name in sorted(variables) if env.get(name)]
            for brief in config.briefs.values():
                server_env = brief.server.env if brief.server else {}
                secrets += [value for name, value in server_env.items() if _SECRET_NAME.search(name)]
        return cls(secrets)

    def __call__(self, text: str) -> str:
        """`text` with every secret replaced."""
        if self._known is not None:
            text = self._known.sub(REDACTED, text)
        if len(text) < _SHORTEST_SHAPE:  # ids, tool names, short values: most of what a turn holds
            return text
        folded = _folded(text)
        if _VENDOR_HINT.search(folded):
            text = _VENDOR.sub(REDACTED, text)
        if _BEARER_HINT.search(folded):
            text = _BEARER.sub(rf"\g<1>{REDACTED}", text)
        if _ASSIGNED_HINT.search(folded):
            text = _ASSIGNED.sub(_assigned, text)
        text = _HEX.sub(_hex, text)
        return _BASE64.sub(_base64, text)

    def data(self, value: Any) -> Any:
        """A copy of JSON-like data (dicts, lists, strings, numbers) with every string redacted."""
        return redact_data(value, self)

    def turn(self, turn: AssistantTurn) -> AssistantTurn:
        """A model turn with its text and tool-call arguments redacted.

        Its reasoning is left as it came: it reaches no tool, and Anthropic's signature covers the
        exact text, so a changed thought would be refused. It is redacted where it is written
        (transcripts, cassettes, the report).
        """
        calls = tuple(self._call(call) for call in turn.tool_calls)
        return replace(turn, text=self(turn.text), tool_calls=calls)

    def _call(self, call: ToolCall) -> ToolCall:
        raw, name, call_id = self(call.raw_arguments), self(call.name), self(call.id)
        arguments = None if call.arguments is None else self.data(call.arguments)
        if arguments != call.arguments and raw == call.raw_arguments:
            raw = json.dumps(arguments)  # the key was spelled with JSON escapes, as in "sk\u002d..."
        if (raw, name, call_id, arguments) == (call.raw_arguments, call.name, call.id, call.arguments):
            return call
        return replace(call, id=call_id, name=name, raw_arguments=raw, arguments=arguments)


def redact_data(value: Any, redact: Callable[[str], str]) -> Any:
    """A copy of JSON-like data (dicts, lists, strings, numbers) with `redact` applied to every string."""
    return map_strings(value, redact)


def _folded(text: str) -> str:
    """`text` lowercased so that a hint matches wherever its pattern matches with IGNORECASE."""
    lowered = text.lower()
    return lowered if text.isascii() else lowered.translate(_FOLD)


def _assigned(match: re.Match[str]) -> str:
    value = match.group(2)
    looks_random = any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
    return match.group(1) + REDACTED if looks_random else match.group(0)


def _hex(match: re.Match[str]) -> str:
    token = match.group(0)
    mixed = any(c.isdigit() for c in token) and any(c.isalpha() for c in token)
    return REDACTED if mixed else token


def _base64(match: re.Match[str]) -> str:
    token = match.group(0).rstrip("=")
    classes = (str.isupper, str.islower, str.isdigit)
    if not all(any(test(c) for c in token) for test in classes) or _entropy(token) < _BASE64_MIN_ENTROPY:
        return match.group(0)
    wordiness = sum(len(word) for word in _WORDS.findall(token)) / len(token)
    return REDACTED if wordiness < _MAX_WORDINESS else match.group(0)


def _entropy(text: str) -> float:
    counts = Counter(text).values()
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts)


@dataclass(frozen=True, slots=True)
class RedactingClient:
    """A `ModelClient` whose turns come back redacted: what the model echoes of a key goes no further."""

    inner: ModelClient
    redact: Redactor

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec]) -> AssistantTurn:
        """The inner client's turn, redacted."""
        return self.redact.turn(await self.inner.generate(system, messages, tools))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass(frozen=True, slots=True)
class RedactingTools:
    """A `ToolSession` whose results are redacted: a key in the codebase never reaches the provider."""

    inner: ToolSession
    redact: Redactor

    async def list_tools(self) -> list[ToolSpec]:
        """The inner session's tools."""
        return await self.inner.list_tools()

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """The inner session's outcome, its content redacted."""
        outcome = await self.inner.call_tool(name, arguments)
        return replace(outcome, content=self.redact(outcome.content))

    def __getattr__(self, name: str) -> Any:
        # Whatever else the wrapped session offers (a scaffold's reminders) stays reachable.
        return getattr(self.inner, name)
