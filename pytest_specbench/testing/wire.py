"""What every provider wire format of `FakeProvider` offers, and helpers they share."""

from __future__ import annotations

import base64
import hashlib
import http
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol

from pytest_specbench.testing.script import Reply

__all__ = ["PHRASES", "Wire", "bearer", "halves", "signature"]


class Wire(Protocol):
    """One provider's wire format."""

    def authorized(self, exchange: BaseHTTPRequestHandler, key: str) -> bool: ...
    def error(self, status: int, message: str) -> dict[str, Any]: ...
    def error_event(self, status: int, message: str) -> str: ...
    def body(self, reply: Reply, model: str, step: int) -> dict[str, Any]: ...
    def events(self, reply: Reply, model: str, step: int, request: dict[str, Any]) -> list[str]: ...
    def refusal(self, request: dict[str, Any]) -> str | None:
        """The message of the HTTP 400 the real API answers this request with, or None."""
        ...


def bearer(exchange: BaseHTTPRequestHandler) -> str | None:
    scheme, _, token = (exchange.headers.get("authorization") or "").partition(" ")
    return token if scheme.lower() == "bearer" else None


def signature(thinking: str) -> str:
    """The signature the fake gives a thinking block: opaque base64, as the real one, and checkable."""
    return base64.b64encode(hashlib.sha256(b"fake-thinking:" + thinking.encode()).digest() * 2).decode()


def halves(text: str) -> list[str]:
    """Text in two pieces, so that a client has to put deltas back together."""
    middle = len(text) // 2
    return [piece for piece in (text[:middle], text[middle:]) if piece]


PHRASES = {status.value: status.phrase for status in http.HTTPStatus} | {529: "Overloaded"}


PHRASES = {status.value: status.phrase for status in http.HTTPStatus} | {529: "Overloaded"}
