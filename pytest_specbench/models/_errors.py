"""What both adapters share: one-line `ProviderError`s, attempt counting, tool-call parsing.

The SDKs retry on their own; by the time an exception reaches an adapter it is final.
`ErrorContext.explain` turns it into one line that names the cause and the fix. It reads
the httpx2 exception in the cause chain and the HTTP status, never an SDK class, so the
same wording serves both SDKs.
"""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import httpx2

from .._text import shorten
from ..config.settings import ModelConfig, RunSettings
from ..errors import ContextOverflow, ProviderError
from .overflow import Overflow, overflow_in_body
from .types import ToolCall

__all__ = [
    "Attempts",
    "ErrorContext",
    "UnexpectedResponse",
    "counting_attempts",
    "http_client",
    "overflow_of",
    "resend_broken_streams",
    "tls_context",
    "tool_call",
]

NO_KEY = "not-needed"
"""Sent when a loopback server takes no key, so the SDK does not go looking for one."""

_MESSAGE_LIMIT = 200
_E = TypeVar("_E", bound=BaseException)
_R = TypeVar("_R")
_RETRIED_EVENTS = frozenset({"overloaded_error", "api_error", "rate_limit_error", "server_error"})
"""Error events inside a stream that a new request may not meet (not `invalid_request_error`)."""
_FIRST_BACKOFF_S = 0.5
"""As the SDKs' own first backoff."""


class UnexpectedResponse(Exception):
    """An answer an adapter cannot read (not JSON, no choices, an empty stream)."""


@dataclass(slots=True)
class Attempts:
    """HTTP requests sent during one `generate()` call, retries included."""

    requests: int = 0

    @property
    def retries(self) -> int:
        return max(self.requests - 1, 0)


# A context variable, not a field on the client: the SDK sends from the caller's task, so
# concurrent generate() calls on one client each count only their own requests.
_current: ContextVar[Attempts | None] = ContextVar("specbench_attempts", default=None)


@contextmanager
def counting_attempts() -> Iterator[Attempts]:
    """Count the HTTP requests the SDK sends inside this block."""
    attempts = Attempts()
    token = _current.set(attempts)
    try:
        yield attempts
    finally:
        _current.reset(token)


async def _count_request(request: httpx2.Request) -> None:
    attempts = _current.get()
    if attempts is not None:
        attempts.requests += 1


async def resend_broken_streams(
    send: Callable[[], Awaitable[_R]], attempts: Attempts, max_retries: int
) -> _R:
    """`send()`, sent again while its stream breaks off mid-answer and retries are left.

    The SDKs retry a request until its response headers arrive; a stream cut after them, or
    an error event inside it (Anthropic's mid-stream `overloaded_error`), comes here instead.
    It is sent again after the SDKs' backoff, within the same `max_retries`, and counted.
    """
    while True:
        try:
            return await send()
        except Exception as err:
            if attempts.retries >= max_retries or not _broke_off(err):
                raise
        await anyio.sleep(_FIRST_BACKOFF_S * 2**attempts.retries)


def _broke_off(err: Exception) -> bool:
    if overflow_of(err) is not None:
        return False  # the same request cannot fit the next time either
    if _find(err, httpx2.TransportError) is not None:
        return True
    body = getattr(err, "body", None)
    error = body.get("error", body) if isinstance(body, dict) else None
    return isinstance(error, dict) and error.get("type") in _RETRIED_EVENTS


def http_client(timeout_s: float) -> httpx2.AsyncClient:
    """The HTTP client given to an SDK: its request hook is how retries are counted."""
    return httpx2.AsyncClient(
        timeout=httpx2.Timeout(timeout_s),
        verify=tls_context(),
        follow_redirects=True,
        event_hooks={"request": [_count_request]},
    )


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi, or SSL_CERT_FILE/SSL_CERT_DIR as the process started).

    Built once per process and shared by every run's client: building it loads the CA bundle,
    20 ms of CPU per client (95 ms the first time), a fifth of a later run's CPU at `-n 8`.
    """
    return httpx2.create_ssl_context()


def tool_call(call_id: str, name: str, raw: str) -> ToolCall:
    """A ToolCall from the arguments' JSON text; text that is not a JSON object is kept, with why."""
    arguments, error = _parse_arguments(raw)
    return ToolCall(id=call_id, name=name, arguments=arguments, raw_arguments=raw, parse_error=error)


def _parse_arguments(raw: str) -> tuple[dict[str, Any] | None, str | None]:
    if not raw.strip():
        return {}, None  # some servers send "" for a call without arguments
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        return None, f"arguments are not valid JSON: {err.msg} at char {err.pos}"
    if not isinstance(value, dict):
        return None, f"arguments are not a JSON object (got {type(value).__name__})"
    return value, None


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """What a one-line error message needs to know about the client that failed."""

    model_id: str
    base_url: str
    key_variable: str | None
    request_timeout_s: float
    secret: str | None = None
    """The API key, scrubbed from every message should a server echo it; None when none is sent."""
    base_url_hint: str = "is base_url the API endpoint?"
    """The fix for an answer that cannot be read, which usually means a wrong base_url."""

    @classmethod
    def for_client(
        cls, model: ModelConfig, settings: RunSettings, base_url: object, api_key: str | None, hint: str
    ) -> ErrorContext:
        """The context of an adapter built for `model`; `base_url` is the SDK client's resolved one."""
        return cls(
            model_id=model.id,
            base_url=str(base_url).rstrip("/"),
            key_variable=model.key_variable,
            request_timeout_s=settings.request_timeout_s,
            secret=api_key,
            base_url_hint=hint,
        )

    def explain(self, err: Exception, retries: int) -> ProviderError:
        """A ProviderError naming the cause of `err` and what to do about it (ContextOverflow for a
        request that did not fit the context window)."""
        overflow = overflow_of(err)
        cause = self._cause(err, retries) if overflow is None else _overflow_cause(overflow)
        message = f"model {self.model_id!r}: {cause}"
        if self.secret:
            message = message.replace(self.secret, "***")
        if overflow is not None:
            return ContextOverflow(message, tokens=overflow.tokens, window=overflow.window)
        return ProviderError(message)

    def _cause(self, err: Exception, retries: int) -> str:
        after = _after(retries)
        transport = _find(err, httpx2.TransportError)
        if isinstance(transport, httpx2.ConnectError | httpx2.ConnectTimeout):
            return f"cannot connect to {self.base_url}{after} — is the server running there?"
        if isinstance(transport, httpx2.TimeoutException):
            return (
                f"request timed out after {self.request_timeout_s:g}s (request_timeout_s){after}"
                " — raise request_timeout_s if the model is just slow"
            )
        if transport is not None:
            return (
                f"{self.base_url} broke off the connection before a complete answer{after}"
                f" ({_one_line(f'{type(transport).__name__}: {transport}')}) — check the server's log"
            )
        response = getattr(err, "response", None)
        if isinstance(response, httpx2.Response) and response.status_code >= 400:
            return self._status(response, after)
        return self._unreadable(err, response, after)

    def _status(self, response: httpx2.Response, after: str) -> str:
        status = response.status_code
        said = _server_message(response)
        if status in (401, 403):
            if self.key_variable is None:
                fix = "set api_key_env in specbench.toml"
            else:
                fix = f"{'check' if self.secret else 'set'} ${self.key_variable}"
            return f"authentication failed (HTTP {status}: {said}) — {fix}"
        if status == 404:
            return (
                f"HTTP 404 from {response.request.url}: {said}"
                " — check `model` and `base_url` in specbench.toml"
            )
        return f"HTTP {status}{after}: {said}"

    def _unreadable(self, err: Exception, response: object, after: str) -> str:
        decode = _find(err, json.JSONDecodeError)
        if decode is not None or isinstance(err, UnexpectedResponse):
            detail = str(err) if isinstance(err, UnexpectedResponse) else f"not JSON: {decode}"
            return f"cannot read the answer from {self.base_url}: {_one_line(detail)} — {self.base_url_hint}"
        said = _message_in(getattr(err, "body", None))
        if said is not None or isinstance(response, httpx2.Response):
            # An error event inside a 200 stream, or a body the SDK could not validate.
            return f"the server reported an error inside its answer{after}: {_one_line(said or str(err))}"
        return _one_line(f"{type(err).__name__}: {err}")


def overflow_of(err: Exception) -> Overflow | None:
    """The context overflow `err` reports: an error status's body, or an error event in a stream."""
    response = getattr(err, "response", None)
    if isinstance(response, httpx2.Response) and response.status_code >= 400:
        try:
            return overflow_in_body(response.text)
        except httpx2.ResponseNotRead:
            pass
    body = getattr(err, "body", None)
    return overflow_in_body(body) if body is not None else None


def _overflow_cause(overflow: Overflow) -> str:
    return f"the request does not fit the context window ({overflow.numbers()}): {overflow.said}"


def _after(retries: int) -> str:
    if retries == 0:
        return ""
    return f" after {retries} {'retry' if retries == 1 else 'retries'}"


def _find(err: BaseException, kind: type[_E]) -> _E | None:
    """The first exception of `kind` along the cause chain of `err` (the SDKs wrap httpx2's)."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return None


def _server_message(response: httpx2.Response) -> str:
    try:
        text = response.text
    except httpx2.ResponseNotRead:
        return response.reason_phrase
    try:
        body: object = json.loads(text)
    except ValueError:
        return _one_line(text) or response.reason_phrase
    return _one_line(_message_in(body) or text) or response.reason_phrase


def _message_in(body: object) -> str | None:
    """`error.message` (OpenAI, Anthropic), `error` or `message`/`detail` (other servers)."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    for value in (error, body.get("message"), body.get("detail")):
        if isinstance(value, str):
            return value
    return None


def _one_line(text: str) -> str:
    return shorten(text, _MESSAGE_LIMIT)
