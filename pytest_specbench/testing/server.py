"""A scripted model provider for tests: a real HTTP server on 127.0.0.1.

It speaks OpenAI's Chat Completions (`POST /v1/chat/completions`) and Anthropic's
Messages API (`POST /v1/messages`), as JSON or as server-sent events, closely enough
that the real SDKs parse its answers; nothing in an SDK is patched.

    with FakeProvider() as provider:
        provider.script("fake-model", [
            Reply.tool("create_feature", title="Canvas"),
            Reply(faults=[Fault(status=503)], text="Done."),
        ])
        # point a ModelConfig at provider.openai_base_url or provider.anthropic_base_url

Which reply a request gets is stateless: step N answers a conversation that already
holds N assistant messages, so retries repeat their step and tests that use different
model names never see each other's replies. Only faults keep state: the first attempts
at a step fail, in order, then the reply comes through.
"""

from __future__ import annotations

import contextlib
import http
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Protocol, Self, TypeAlias

from pytest_specbench.models.types import (
    AssistantMessage,
    AssistantTurn,
    Message,
    StopReason,
    ToolCall,
    ToolSpec,
    Usage,
)

__all__ = [
    "EXHAUSTED",
    "Call",
    "FakeProvider",
    "Fault",
    "FaultKind",
    "Reply",
    "ScriptedClient",
    "Step",
    "call",
]

EXHAUSTED = "(script exhausted)"
"""The final text answered once a model's script has no step left."""

FaultKind: TypeAlias = Literal["status", "drop", "delay", "not_json", "cut_stream", "error_event"]


@dataclass(frozen=True, slots=True)
class Call:
    """One tool call in a scripted reply; make it with `call()`."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    raw: str | None = None
    """Argument text sent instead of `arguments`, e.g. invalid JSON."""

    @property
    def text(self) -> str:
        """The arguments as they go over the wire."""
        return self.raw if self.raw is not None else json.dumps(self.arguments)


def call(name: str, _raw: str | None = None, **args: Any) -> Call:
    """A tool call of `name` with keyword arguments, or with the raw argument text `_raw`."""
    return Call(name, args, _raw)


@dataclass(frozen=True, slots=True)
class Fault:
    """One failed attempt at a step, before its reply comes through.

    `status` (the default kind) answers with that HTTP status and an error body in the
    provider's format; `drop` closes the connection unanswered; `delay` waits `seconds`
    and then answers normally; `not_json` answers 200 with `body`, an HTML page; `cut_stream`
    sends part of the answer (half the events of a stream) and closes the connection;
    `error_event` starts a stream and puts an error event in it (Anthropic's mid-stream
    `overloaded_error`, an OpenAI error chunk); a JSON request gets the status fault instead.
    """

    status: int = 500
    kind: FaultKind = "status"
    headers: Mapping[str, str] | None = None
    """Response headers; a status fault sends `retry-after-ms: 1` unless given others, so
    the SDKs retry at once instead of backing off for half a second."""
    message: str = ""
    """The error message of a status or error_event fault; the status phrase when empty."""
    seconds: float = 0.0
    """How long a `delay` fault waits."""
    body: str = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    """What a `not_json` fault answers (as text/html unless `headers` say otherwise)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """What the model answers at one step of a script."""

    text: str = ""
    tool_calls: Sequence[Call] = ()
    input_tokens: int = 10
    output_tokens: int = 5
    stop_reason: str | None = None
    """`end_turn`, `tool_use` or `max_tokens` (sent in each provider's words) or any raw word;
    None for `tool_use` when there are tool calls and `end_turn` otherwise."""
    faults: Sequence[Fault] = ()
    """Failed attempts at this step before the reply comes through."""

    def __post_init__(self) -> None:
        # Tuples, so that a reply stays immutable when a list was passed.
        object.__setattr__(self, "tool_calls", tuple(self.tool_calls))
        object.__setattr__(self, "faults", tuple(self.faults))

    @classmethod
    def tool(cls, name: str, /, **args: Any) -> Reply:
        """A reply that calls one tool."""
        return cls(tool_calls=[call(name, **args)])

    @classmethod
    def final(cls, text: str) -> Reply:
        """A reply with text and no tool call: the model is done."""
        return cls(text=text)

    @property
    def stop(self) -> str:
        return self.stop_reason or ("tool_use" if self.tool_calls else "end_turn")


Step: TypeAlias = Reply | Callable[[dict[str, Any]], Reply]
"""A scripted reply, or a function of the request's JSON body that returns one."""


class FakeProvider:
    """An OpenAI- and Anthropic-speaking HTTP server that answers from scripts; see the module."""

    def __init__(self, *, require_key: str | None = None, strict_models: bool = False) -> None:
        """Args:
        require_key: answer 401 unless the request carries this API key.
        strict_models: answer 404 for a model without a script (else: `EXHAUSTED`).
        """
        self.require_key = require_key
        self.strict_models = strict_models
        self.requests: list[tuple[str, dict[str, Any]]] = []
        """Every request received, as (path, JSON body), in arrival order."""
        self._scripts: dict[str, tuple[Step, ...]] = {}
        self._attempts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None

    def script(self, model: str, steps: Sequence[Step]) -> None:
        """Answer requests for `model` with `steps`, step N for a conversation with N assistant messages."""
        with self._lock:
            self._scripts[model] = tuple(steps)
            self._attempts = {key: n for key, n in self._attempts.items() if key[0] != model}

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeProvider is not started")
        return self._server.server_address[1]

    @property
    def openai_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Listen on a free port of 127.0.0.1, serving from a daemon thread."""
        self._server = _Server(self)
        thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _answer(self, exchange: _Handler, path: str, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append((path, body))
        wire = _WIRES.get(path)
        if wire is None:
            exchange.send_json(404, {"error": {"message": f"no route for POST {path}"}})
            return
        model = str(body.get("model", ""))
        if self.require_key is not None and not wire.authorized(exchange, self.require_key):
            exchange.send_json(401, wire.error(401, "invalid API key"))
        elif self.strict_models and model not in self._scripts:
            exchange.send_json(404, wire.error(404, f"model '{model}' not found"))
        else:
            self._reply(exchange, wire, model, body)

    def _reply(self, exchange: _Handler, wire: _Wire, model: str, body: dict[str, Any]) -> None:
        step = sum(1 for message in body.get("messages", ()) if message.get("role") == "assistant")
        try:
            reply = self._step(model, step, body)
        except Exception as err:  # a broken callable step: tell the test instead of hanging up
            exchange.send_json(500, wire.error(500, f"script step {step} raised {err!r}"))
            return
        answer = _Answer(wire, model, step, body, reply)
        fault = self._fault(model, step, reply)
        if fault is not None and _fail(exchange, fault, answer):
            return
        if answer.stream:
            exchange.send_events(answer.events())
        else:
            exchange.send_json(200, answer.json())

    def _step(self, model: str, step: int, body: dict[str, Any]) -> Reply:
        steps = self._scripts.get(model, ())
        if step >= len(steps):
            return Reply.final(EXHAUSTED)
        scripted = steps[step]
        return scripted if isinstance(scripted, Reply) else scripted(body)

    def _fault(self, model: str, step: int, reply: Reply) -> Fault | None:
        with self._lock:
            attempt = self._attempts.get((model, step), 0)
            self._attempts[(model, step)] = attempt + 1
        return reply.faults[attempt] if attempt < len(reply.faults) else None


@dataclass(frozen=True, slots=True)
class _Answer:
    """A reply about to go out, in the wire format of the request it answers."""

    wire: _Wire
    model: str
    step: int
    request: dict[str, Any]
    reply: Reply

    @property
    def stream(self) -> bool:
        return bool(self.request.get("stream"))

    def json(self) -> dict[str, Any]:
        return self.wire.body(self.reply, self.model, self.step)

    def events(self) -> list[str]:
        return self.wire.events(self.reply, self.model, self.step, self.request)


def _fail(exchange: _Handler, fault: Fault, answer: _Answer) -> bool:
    """Play `fault`; False when the reply should still follow (a delay)."""
    if fault.kind == "delay":
        time.sleep(fault.seconds)
        return False
    message = fault.message or _PHRASES.get(fault.status, "Error")
    if fault.kind == "error_event" and answer.stream:
        exchange.send_events([answer.events()[0], answer.wire.error_event(fault.status, message)])
    elif fault.kind in ("status", "error_event"):
        headers = {"retry-after-ms": "1"} if fault.headers is None else fault.headers
        exchange.send_json(fault.status, answer.wire.error(fault.status, message), headers)
    elif fault.kind == "drop":
        exchange.close_connection = True
    elif fault.kind == "not_json":
        exchange.send_bytes(200, fault.body.encode(), {"content-type": "text/html", **(fault.headers or {})})
    elif answer.stream:
        exchange.send_events(answer.events(), cut=True)
    else:
        exchange.send_bytes(
            200, json.dumps(answer.json()).encode(), {"content-type": "application/json"}, cut=True
        )
    return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked event streams, as real servers
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; with Nagle's algorithm and delayed ACKs
        # every answer on a kept-alive connection would wait 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.track(self.connection, open_=False)
        super().finish()

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(data or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.send_json(400, {"error": {"message": "the request body is not a JSON object"}})
            return
        self.server.provider._answer(self, self.path, body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a test's output is no place for an access log."""

    def send_json(self, status: int, payload: object, headers: Mapping[str, str] | None = None) -> None:
        self.send_bytes(
            status, json.dumps(payload).encode(), {"content-type": "application/json", **(headers or {})}
        )

    def send_bytes(self, status: int, data: bytes, headers: Mapping[str, str], cut: bool = False) -> None:
        self.send_response(status)
        for name, value in {**headers, "content-length": str(len(data))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data[: len(data) // 2] if cut else data)
        self.close_connection = self.close_connection or cut

    def send_events(self, events: list[str], cut: bool = False) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for event in events[: len(events) // 2] if cut else events:
            data = event.encode()
            self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
        if cut:
            self.close_connection = True  # no last chunk: the client sees the body end early
        else:
            self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a delayed answer must not hold up stop()

    def __init__(self, provider: FakeProvider) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.provider = provider
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._lock:
            (self._open.add if open_ else self._open.discard)(connection)

    def close_connections(self) -> None:
        """Hang up on idle keep-alive connections, whose threads would otherwise wait for more."""
        with self._lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet about clients that hung up first (timeouts, dropped connections): tests cause those."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Wire(Protocol):
    """One provider's wire format."""

    def authorized(self, exchange: _Handler, key: str) -> bool: ...
    def error(self, status: int, message: str) -> dict[str, Any]: ...
    def error_event(self, status: int, message: str) -> str: ...
    def body(self, reply: Reply, model: str, step: int) -> dict[str, Any]: ...
    def events(self, reply: Reply, model: str, step: int, request: dict[str, Any]) -> list[str]: ...


def _bearer(exchange: _Handler) -> str | None:
    scheme, _, token = (exchange.headers.get("authorization") or "").partition(" ")
    return token if scheme.lower() == "bearer" else None


def _halves(text: str) -> list[str]:
    """Text in two pieces, so that a client has to put deltas back together."""
    middle = len(text) // 2
    return [piece for piece in (text[:middle], text[middle:]) if piece]


_PHRASES = {status.value: status.phrase for status in http.HTTPStatus} | {529: "Overloaded"}
_OPENAI_STOPS = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length"}
_OPENAI_ERRORS = {400: "invalid_request_error", 401: "invalid_api_key", 404: "invalid_request_error"}
_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class _OpenAIWire:
    def authorized(self, exchange: _Handler, key: str) -> bool:
        return _bearer(exchange) == key

    def error(self, status: int, message: str) -> dict[str, Any]:
        kind = _OPENAI_ERRORS.get(status, "rate_limit_error" if status == 429 else "server_error")
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}

    def error_event(self, status: int, message: str) -> str:
        return f"data: {json.dumps(self.error(status, message))}\n\n"

    def body(self, reply: Reply, model: str, step: int) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
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
        chunks += [self._chunk(model, step, {"content": piece}) for piece in _halves(reply.text)]
        for i, c in enumerate(reply.tool_calls):
            start = {"index": i, "id": f"call_{step}_{i}", "type": "function", "function": {"name": c.name}}
            chunks.append(self._chunk(model, step, {"tool_calls": [start]}))
            chunks += [
                self._chunk(model, step, {"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
                for piece in _halves(c.text)
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

    def _stop(self, reply: Reply) -> str:
        return _OPENAI_STOPS.get(reply.stop, reply.stop)

    def _usage(self, reply: Reply) -> dict[str, int]:
        total = reply.input_tokens + reply.output_tokens
        return {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": total,
        }


class _AnthropicWire:
    def authorized(self, exchange: _Handler, key: str) -> bool:
        # The SDK sends `Authorization: Bearer`; older clients send `x-api-key`.
        return key in (exchange.headers.get("x-api-key"), _bearer(exchange))

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
        usage = {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens}
        return {**self._message(model, step), "content": content, "stop_reason": reply.stop, "usage": usage}

    def events(self, reply: Reply, model: str, step: int, request: dict[str, Any]) -> list[str]:
        usage = {"input_tokens": reply.input_tokens, "output_tokens": 1}
        start = {**self._message(model, step), "content": [], "stop_reason": None, "usage": usage}
        events: list[tuple[str, dict[str, Any]]] = [("message_start", {"message": start}), ("ping", {})]
        blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        if self._has_text(reply):
            deltas = [{"type": "text_delta", "text": piece} for piece in _halves(reply.text)]
            blocks.append(({"type": "text", "text": ""}, deltas))
        for i, c in enumerate(reply.tool_calls):
            deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in _halves(c.text)]
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


_WIRES: dict[str, _Wire] = {"/v1/chat/completions": _OpenAIWire(), "/v1/messages": _AnthropicWire()}


class ScriptedClient:
    """An in-process `ModelClient` answering from a script: the loop's unit-test double.

    It takes the same `Reply` steps as `FakeProvider` (faults are ignored; there is no
    wire to fail), and picks the step the same stateless way: by the number of
    assistant turns already in the conversation.
    """

    def __init__(self, steps: Sequence[Reply]) -> None:
        self.steps = tuple(steps)
        self.requests: list[tuple[str, int, list[str]]] = []
        """(system prompt, messages sent, tool names offered) per request."""

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec]) -> AssistantTurn:
        """The scripted turn for this point of the conversation."""
        self.requests.append((system, len(messages), [t.name for t in tools]))
        step = sum(1 for m in messages if isinstance(m, AssistantMessage))
        reply = self.steps[step] if step < len(self.steps) else Reply.final(EXHAUSTED)
        return _as_turn(reply, step)


def _as_turn(reply: Reply, step: int) -> AssistantTurn:
    calls = tuple(_as_call(c, f"call_{step}_{i}") for i, c in enumerate(reply.tool_calls))
    stop: StopReason = "other"
    if reply.stop in ("end_turn", "tool_use", "max_tokens"):
        stop = reply.stop  # type: ignore[assignment]  # narrowed by the membership test
    return AssistantTurn(reply.text, calls, Usage(reply.input_tokens, reply.output_tokens), stop, reply.stop)


def _as_call(scripted: Call, call_id: str) -> ToolCall:
    text = scripted.text
    try:
        parsed = json.loads(text)
    except ValueError as err:
        return ToolCall(call_id, scripted.name, None, text, f"arguments are not valid JSON: {err}")
    if not isinstance(parsed, dict):
        return ToolCall(call_id, scripted.name, None, text, "arguments are not a JSON object")
    return ToolCall(call_id, scripted.name, parsed, text)
