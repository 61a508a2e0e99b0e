"""Where a replayed request first differs from the recorded one, said in one line.

The order is the order of a request: model and sampling, system prompt, tools, then
every message so far. Both sides are already normalised and redacted (`codec.py`), so
an excerpt shown here holds no secret and no temp path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["first_difference"]

_BEFORE, _WIDTH = 20, 70
"""Characters shown before the first differing one, and in all, of each side of a difference."""
_LABELS = {
    "provider": "provider",
    "model": "model name",
    "temperature": "temperature",
    "max_tokens": "max_tokens",
    "thinking": "thinking",
    "thinking_budget_tokens": "thinking_budget_tokens",
    "interleaved_thinking": "interleaved_thinking",
    "effort": "effort",
    "reasoning_effort": "reasoning_effort",
}


def first_difference(
    recorded: Mapping[str, Any],
    now: Mapping[str, Any],
    *,
    recorded_messages: Sequence[Any],
    messages: Sequence[Any],
) -> str | None:
    """The first field in which the request `now` differs from `recorded`, or None.

    Args:
        recorded, now: `sampling`, `system` and `tools` of the two requests.
        recorded_messages, messages: the encoded messages of each request.
    """
    for key, label in _LABELS.items():
        before, after = recorded["sampling"].get(key), now["sampling"].get(key)
        if before != after:
            return f"{label} differs: recorded {json.dumps(before)}, now {json.dumps(after)}"
    if recorded["system"] != now["system"]:
        return "system prompt differs: " + _pair(recorded["system"], now["system"])
    return _tools(recorded["tools"], now["tools"]) or _messages(recorded_messages, messages)


def _tools(recorded: list[Any], now: list[Any]) -> str | None:
    names, current = [t["name"] for t in recorded], [t["name"] for t in now]
    if names != current:
        return f"tool names differ: recorded {', '.join(names)}; now {', '.join(current)}"
    for before, after in zip(recorded, now, strict=True):
        for key in ("description", "input_schema"):
            if before.get(key) != after.get(key):
                return f"tools[{before['name']}].{key} differs: " + _pair(before.get(key), after.get(key))
    return None


def _messages(recorded: Sequence[Any], now: Sequence[Any]) -> str | None:
    for index in range(min(len(recorded), len(now))):
        if recorded[index] != now[index]:
            return _message(index, recorded[index], now[index], recorded)
    if len(recorded) != len(now):
        return f"the request has {len(now)} messages, the recorded one {len(recorded)}"
    return None


def _message(index: int, before: dict[str, Any], after: dict[str, Any], history: Sequence[Any]) -> str:
    where = f"messages[{index}]"
    if before.get("role") != after.get("role"):
        return f"{where} differs: recorded a {before.get('role')} message, now a {after.get('role')} message"
    if before["role"] == "assistant":
        turn = sum(1 for m in history[: index + 1] if m.get("role") == "assistant")
        # The reasoning (and its signatures) is compared like the text: a thinking turn sent back
        # otherwise than recorded is drift.
        if before.get("reasoning") != after.get("reasoning"):
            return f"{where} (assistant turn {turn}) reasoning differs: " + _pair(
                before.get("reasoning", []), after.get("reasoning", [])
            )
        return f"{where} (assistant turn {turn}) differs: " + _pair(_strip_role(before), _strip_role(after))
    if before["role"] == "tool":
        return _tool_message(where, before, after)
    return f"{where} ({before['role']} message) differs: " + _pair(before.get("text"), after.get("text"))


def _tool_message(where: str, before: dict[str, Any], after: dict[str, Any]) -> str:
    old, new = before.get("results", []), after.get("results", [])
    if len(old) != len(new):
        return f"{where} (tool results) differs: recorded {len(old)} results, now {len(new)}"
    for one, other in zip(old, new, strict=True):
        if one != other:
            label = f"{where} (tool result of {one.get('name')})"
            if one.get("content") != other.get("content"):
                return f"{label} differs: " + _pair(one.get("content"), other.get("content"))
            return f"{label} differs: " + _pair(one, other)
    return f"{where} (reminder after the tool results) differs: " + _pair(
        before.get("reminder", ""), after.get("reminder", "")
    )


def _strip_role(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k != "role"}


def _pair(before: Any, after: Any) -> str:
    """Both sides clipped around their first difference: `recorded "…", now "…"`."""
    old, new = _text(before), _text(after)
    same = next(
        (i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new))
    )
    start = max(0, same - _BEFORE)
    return f"recorded {_clip(old, start)}, now {_clip(new, start)}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _clip(text: str, start: int) -> str:
    piece = text[start : start + _WIDTH]
    shown = ("…" if start else "") + piece + ("…" if start + _WIDTH < len(text) else "")
    return json.dumps(shown, ensure_ascii=False)
