"""`FakeProvider`: a scripted model provider for tests: a real HTTP server on 127.0.0.1.

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
import json
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from pytest_specbench.testing.anthropic import AnthropicWire
from pytest_specbench.testing.openai import OpenAIWire
from pytest_specbench.testing.script import EXHAUSTED, Fault, Reply, Step
from pytest_specbench.testing.wire import PHRASES, Wire

__all__ = ["FakeProvider"]


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
        self.request_headers: list[dict[str, str]] = []
        """The headers of each of `requests`, names lowercased."""
        self.documents: dict[str, object] = {}
        """JSON answered to `GET <path>`, as a local server describes itself (llama-server's `/props`,
        vLLM's `/v1/models`, ...); any other GET is a 404. GETs are not in `requests`."""
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
            self.request_headers.append({name.lower(): value for name, value in exchange.headers.items()})
        wire = _WIRES.get(path)
        if wire is None:
            exchange.send_json(404, {"error": {"message": f"no route for POST {path}"}})
            return
        model = str(body.get("model", ""))
        if self.require_key is not None and not wire.authorized(exchange, self.require_key):
            exchange.send_json(401, wire.error(401, "invalid API key"))
        elif refused := wire.refusal(body):
            exchange.send_json(400, wire.error(400, refused))
        elif self.strict_models and model not in self._scripts:
            exchange.send_json(404, wire.error(404, f"model '{model}' not found"))
        else:
            self._reply(exchange, wire, model, body)

    def _reply(self, exchange: _Handler, wire: Wire, model: str, body: dict[str, Any]) -> None:
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

    wire: Wire
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
    message = fault.message or PHRASES.get(fault.status, "Error")
    if fault.kind == "error_event" and answer.stream:
        exchange.send_events([answer.events()[0], answer.wire.error_event(fault.status, message)])
    elif fault.kind in ("status", "error_event"):
        headers = {"retry-after-ms": "1"} if fault.headers is None else fault.headers
        body = answer.wire.error(fault.status, message) if fault.error is None else fault.error
        exchange.send_json(fault.status, body, headers)
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

    def do_GET(self) -> None:
        document = self.server.provider.documents.get(self.path)
        if document is None:
            self.send_json(404, {"error": {"message": f"no document at GET {self.path}"}})
        else:
            self.send_json(200, document)

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


_WIRES: dict[str, Wire] = {"/v1/chat/completions": OpenAIWire(), "/v1/messages": AnthropicWire()}
