"""OpenAI's Chat Completions wire format (`POST /v1/chat/completions`), JSON and streamed."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from pytest_specbench.testing.script import Reply
from pytest_specbench.testing.wire import bearer, halves

_OPENAI_STOPS = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length"}
_OPENAI_ERRORS = {400: "invalid_request_error", 401: "invalid_api_key", 404: "invalid_request_error"}


class OpenAIWire:
    def authorized(self, exchange: BaseHTTPRequestHandler, key: str) -> bool:
        return bearer(exchange) == key

    def error(self, status: int, message: str) -> dict[str, Any]:
        kind = _OPENAI_ERRORS.get(status, "rate_limit_error" if status == 429 else "server_error")
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}

    def error_event(self, status: int, message: str) -> str:
        return f"data: {json.dumps(self.error(status, message))}\n\n"

    def refusal(self, request: dict[str, Any]) -> str | None:
        return None

    def body(self, reply: Reply, model: str, step: int) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self._content(reply) or None}
        if reply.reasoning and reply.reasoning_as != "think":
            message[reply.reasoning_as] = reply.reasoning
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{step}_{i}",
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.text},
                }
                for i, c in enumerate(reply.tool_calls)
            ]
        choice = {"index": 0, "message": message, "finish_reason": self._stop(reply), "logprobs": None}
        return {
            **self._envelope(model, step, "chat.completion"),
            "choices": [choice],
            "usage": self._usage(reply),
        }

    def events(self, reply: Reply, model: str, step: int, request: dict[str, Any]) -> list[str]:
        chunks = [self._chunk(model, step, {"role": "assistant", "content": ""})]
        if reply.reasoning and reply.reasoning_as != "think":
            field = reply.reasoning_as
            chunks += [self._chunk(model, step, {field: piece}) for piece in halves(reply.reasoning)]
        # Inline thoughts in pieces: the `<think>` tags may arrive split across chunks.
        chunks += [self._chunk(model, step, {"content": piece}) for piece in halves(self._content(reply))]
        for i, c in enumerate(reply.tool_calls):
            start = {"index": i, "id": f"call_{step}_{i}", "type": "function", "function": {"name": c.name}}
            chunks.append(self._chunk(model, step, {"tool_calls": [start]}))
            chunks += [
                self._chunk(model, step, {"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
                for piece in halves(c.text)
            ]
        chunks.append(self._chunk(model, step, {}, self._stop(reply)))
        if (request.get("stream_options") or {}).get("include_usage"):
            envelope = self._envelope(model, step, "chat.completion.chunk")
            chunks.append({**envelope, "choices": [], "usage": self._usage(reply)})
        return [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks] + ["data: [DONE]\n\n"]

    def _chunk(
        self, model: str, step: int, delta: dict[str, Any], finish: str | None = None
    ) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return {**self._envelope(model, step, "chat.completion.chunk"), "choices": [choice]}

    def _envelope(self, model: str, step: int, kind: str) -> dict[str, Any]:
        return {"id": f"chatcmpl-{step}", "object": kind, "created": 0, "model": model}

    def _content(self, reply: Reply) -> str:
        if not reply.reasoning or reply.reasoning_as != "think":
            return reply.text
        if reply.stop == "max_tokens" and not reply.text:
            return f"<think>\n{reply.reasoning}"  # cut off mid-thought: never closed
        return f"<think>\n{reply.reasoning}\n</think>\n\n{reply.text}"

    def _stop(self, reply: Reply) -> str:
        return _OPENAI_STOPS.get(reply.stop, reply.stop)

    def _usage(self, reply: Reply) -> dict[str, Any]:
        total = reply.input_tokens + reply.output_tokens
        return {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": total,
            "prompt_tokens_details": {"cached_tokens": reply.cache_read_tokens},
            "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
        }
