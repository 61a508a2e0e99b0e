"""Serving over stdio so that a line that is not JSON-RPC gets an answer.

mcp 2.3's stdio transport turns an unparsable line into an `Exception` on the read stream,
and the server's dispatcher, built without `on_stream_exception`, drops it: the client
hears nothing and waits for its timeout (python-sdk issue #2751, PR #2766). Until the SDK
answers itself, this relay between `stdio_server()` and the low-level server answers as the
SDK's HTTP transport does: -32700 for text that is not JSON (a lone `\\ud800` escape too),
-32600 for JSON that is not a JSON-RPC message.
"""

from __future__ import annotations

from typing import Any

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

__all__ = ["error_for", "run_stdio"]


def error_for(fault: Exception) -> JSONRPCError:
    """The JSON-RPC error answering a line the transport could not turn into a message."""
    errors = fault.errors() if isinstance(fault, ValidationError) else []
    if isinstance(fault, UnicodeError) or any(e["type"] == "json_invalid" for e in errors):
        detail = str(errors[0]["msg"]).removeprefix("Invalid JSON: ") if errors else "not UTF-8"
        return JSONRPCError(
            jsonrpc="2.0", id=None, error=ErrorData(code=PARSE_ERROR, message=f"Parse error: {detail}")
        )
    # pydantic keeps the parsed object as the input of a union failure: echo its id if it has one.
    raw: dict[str, Any] = next((e["input"] for e in errors if isinstance(e.get("input"), dict)), {})
    request_id = raw.get("id")
    if not isinstance(request_id, str | int) or isinstance(request_id, bool):
        request_id = None
    message = "Invalid Request: not a JSON-RPC 2.0 message"
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=INVALID_REQUEST, message=message))


async def run_stdio(server: MCPServer) -> None:
    """Serve `server` on stdin/stdout until stdin closes, answering unparsable lines."""
    lowlevel = server._lowlevel_server  # MCPServer.run_stdio_async reaches it the same way
    async with stdio_server() as (read_stream, write_stream):
        relay_send, relay_receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_relay, read_stream, relay_send, write_stream)
            await lowlevel.run(relay_receive, write_stream, lowlevel.create_initialization_options())
            tasks.cancel_scope.cancel()


async def _relay(
    incoming: ObjectReceiveStream[Any],
    onward: ObjectSendStream[SessionMessage | Exception],
    replies: ObjectSendStream[SessionMessage],
) -> None:
    async with onward:
        async for item in incoming:
            if not isinstance(item, Exception):
                await onward.send(item)
                continue
            try:
                await replies.send(SessionMessage(error_for(item)))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return
