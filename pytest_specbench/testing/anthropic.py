"""Anthropic's Messages wire format (`POST /v1/messages`), JSON and streamed.

With `thinking` on in the request it refuses, as the real API does (HTTP 400, its wording), a
temperature other than 1, a budget not under max_tokens, a tool-use turn sent back without its
thinking block, and a thinking block whose signature is not the one it was given with.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from pytest_specbench.testing.script import Call, Reply
from pytest_specbench.testing.wire import bearer, halves, signature

_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class AnthropicWire:
    def authorized(self, exchange: BaseHTTPRequestHandler, key: str) -> bool:
        # The SDK sends `Authorization: Bearer`; older clients send `x-api-key`.
        return key in (exchange.headers.get("x-api-key"), bearer(exchange))

    def error(self, status: int, message: str) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {"type": _ANTHROPIC_ERRORS.get(status, "api_error"), "message": message},
        }

    def error_event(self, status: int, message: str) -> str:
        return f"event: error\ndata: {json.dumps(self.error(status, message))}\n\n"

    def refusal(self, request: dict[str, Any]) -> str | None:
        thinking = request.get("thinking") or {}
        if thinking.get("type") not in ("enabled", "adaptive"):
            return None
        temperature = request.get("temperature", 1)
        if temperature != 1:
            return f"`temperature` may only be set to 1 when thinking is enabled. {_THINKING_DOCS}"
        budget = thinking.get("budget_tokens")
        if isinstance(budget, int) and budget >= int(request.get("max_tokens") or 0):
            return "`max_tokens` must be greater than `thinking.budget_tokens`"
        messages = request.get("messages") or []
        return _forged_signature(messages) or _thinking_missing(messages)

    def body(self, reply: Reply, model: str, step: int) -> dict[str, Any]:
        content = self._reasoning(reply)
        content += [{"type": "text", "text": reply.text}] if self._has_text(reply) else []
        content += [
            {"type": "tool_use", "id": f"toolu_{step}_{i}", "name": c.name, "input": self._input(c)}
            for i, c in enumerate(reply.tool_calls)
        ]
        usage = {**self._input_usage(reply), "output_tokens": reply.output_tokens}
        message = {
            **self._message(model, step),
            "content": content,
            "stop_reason": reply.stop,
            "usage": usage,
        }
        return {**message, **self._context_management(reply)}

    def events(self, reply: Reply, model: str, step: int, request: dict[str, Any]) -> list[str]:
        usage = {**self._input_usage(reply), "output_tokens": 1}
        start = {**self._message(model, step), "content": [], "stop_reason": None, "usage": usage}
        events: list[tuple[str, dict[str, Any]]] = [("message_start", {"message": start}), ("ping", {})]
        blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        if reply.reasoning:
            deltas = [{"type": "thinking_delta", "thinking": piece} for piece in halves(reply.reasoning)]
            deltas.append({"type": "signature_delta", "signature": signature(reply.reasoning)})
            blocks.append(({"type": "thinking", "thinking": "", "signature": ""}, deltas))
        if reply.redacted_reasoning:
            blocks.append(({"type": "redacted_thinking", "data": reply.redacted_reasoning}, []))
        if self._has_text(reply):
            deltas = [{"type": "text_delta", "text": piece} for piece in halves(reply.text)]
            blocks.append(({"type": "text", "text": ""}, deltas))
        for i, c in enumerate(reply.tool_calls):
            deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in halves(c.text)]
            blocks.append(
                ({"type": "tool_use", "id": f"toolu_{step}_{i}", "name": c.name, "input": {}}, deltas)
            )
        for index, (block, deltas) in enumerate(blocks):
            events.append(("content_block_start", {"index": index, "content_block": block}))
            events += [("content_block_delta", {"index": index, "delta": delta}) for delta in deltas]
            events.append(("content_block_stop", {"index": index}))
        delta = {
            "delta": {"stop_reason": reply.stop, "stop_sequence": None},
            "usage": {"output_tokens": reply.output_tokens},
            **self._context_management(reply),
        }
        events += [("message_delta", delta), ("message_stop", {})]
        return [f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n" for name, data in events]

    def _context_management(self, reply: Reply) -> dict[str, Any]:
        if not reply.cleared_tool_uses:
            return {}
        edit = {
            "type": "clear_tool_uses_20250919",
            "cleared_tool_uses": reply.cleared_tool_uses,
            "cleared_input_tokens": reply.cleared_input_tokens,
        }
        return {"context_management": {"applied_edits": [edit]}}

    def _message(self, model: str, step: int) -> dict[str, Any]:
        return {
            "id": f"msg_{step}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "stop_sequence": None,
        }

    def _input_usage(self, reply: Reply) -> dict[str, int]:
        # The Messages API counts cached prompt tokens apart from `input_tokens`, not within it.
        cached = reply.cache_read_tokens + reply.cache_creation_tokens
        return {
            "input_tokens": reply.input_tokens - cached,
            "cache_read_input_tokens": reply.cache_read_tokens,
            "cache_creation_input_tokens": reply.cache_creation_tokens,
        }

    def _has_text(self, reply: Reply) -> bool:
        thought = reply.reasoning or reply.redacted_reasoning
        return bool(reply.text) or not (reply.tool_calls or thought)

    def _reasoning(self, reply: Reply) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if reply.reasoning:
            blocks.append(
                {"type": "thinking", "thinking": reply.reasoning, "signature": signature(reply.reasoning)}
            )
        if reply.redacted_reasoning:
            blocks.append({"type": "redacted_thinking", "data": reply.redacted_reasoning})
        return blocks

    def _input(self, c: Call) -> object:
        """The arguments as a JSON value; raw text that is not JSON goes as a string."""
        if c.raw is None:
            return dict(c.arguments)
        try:
            return json.loads(c.raw)
        except ValueError:
            return c.raw


_THINKING_DOCS = (
    "Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
)


def _forged_signature(messages: list[dict[str, Any]]) -> str | None:
    """A thinking block sent back changed: its signature is not the one given with its text."""
    for i, message in enumerate(messages):
        for j, block in enumerate(_blocks(message)):
            if block.get("type") == "thinking" and block.get("signature") != signature(
                str(block.get("thinking"))
            ):
                return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
    return None


def _thinking_missing(messages: list[dict[str, Any]]) -> str | None:
    """The last assistant turn, when it called tools, must open with its thinking block."""
    last = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "assistant"), None)
    if last is None:
        return None
    blocks = _blocks(messages[last])
    if not any(block.get("type") == "tool_use" for block in blocks):
        return None
    first = blocks[0].get("type")
    if first in ("thinking", "redacted_thinking"):
        return None
    return (
        f"messages.{last}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{first}`. "
        "When `thinking` is enabled, a final `assistant` message must start with a thinking block "
        "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include "
        "thinking blocks from previous turns. To avoid this requirement, disable `thinking`. "
        + _THINKING_DOCS
    )


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [block for block in content or () if isinstance(block, dict)]
