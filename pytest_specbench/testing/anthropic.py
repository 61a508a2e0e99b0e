"""Anthropic's Messages wire format (`POST /v1/messages`), JSON and streamed."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from pytest_specbench.testing.script import Call, Reply
from pytest_specbench.testing.wire import bearer, halves

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

    def body(self, reply: Reply, model: str, step: int) -> dict[str, Any]:
        content: list[dict[str, Any]] = (
            [{"type": "text", "text": reply.text}] if self._has_text(reply) else []
        )
        content += [
            {"type": "tool_use", "id": f"toolu_{step}_{i}", "name": c.name, "input": self._input(c)}
            for i, c in enumerate(reply.tool_calls)
        ]
        usage = {**self._input_usage(reply), "output_tokens": reply.output_tokens}
        return {**self._message(model, step), "content": content, "stop_reason": reply.stop, "usage": usage}

    def events(self, reply: Reply, model: str, step: int, request: dict[str, Any]) -> list[str]:
        usage = {**self._input_usage(reply), "output_tokens": 1}
        start = {**self._message(model, step), "content": [], "stop_reason": None, "usage": usage}
        events: list[tuple[str, dict[str, Any]]] = [("message_start", {"message": start}), ("ping", {})]
        blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
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
        }
        events += [("message_delta", delta), ("message_stop", {})]
        return [f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n" for name, data in events]

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
        return bool(reply.text) or not reply.tool_calls

    def _input(self, c: Call) -> object:
        """The arguments as a JSON value; raw text that is not JSON goes as a string."""
        if c.raw is None:
            return dict(c.arguments)
        try:
            return json.loads(c.raw)
        except ValueError:
            return c.raw
