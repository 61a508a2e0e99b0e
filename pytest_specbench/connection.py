"""Connecting a run to its MCP server: the reference one or a team's own.

The reference server runs as a stdio subprocess by default (the transport a
real deployment uses); `memory` connects to it in-process, which is faster and
still goes through the SDK's client and server. An external server is a command
(stdio) or a Streamable HTTP URL from the brief.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import anyio

from pytest_specbench.agent import ToolOutcome
from pytest_specbench.errors import ServerError
from pytest_specbench.models.types import ToolSpec
from pytest_specbench.settings import BriefConfig, ServerConfig

if TYPE_CHECKING:
    from mcp import Client

__all__ = ["MCPToolSession", "RunPaths", "Transport", "open_tool_session"]

STDERR_TAIL_LINES = 15


class Transport(StrEnum):
    """How the reference server is reached."""

    STDIO = "stdio"
    """A subprocess over stdin/stdout, as a deployed MCP server runs."""
    MEMORY = "memory"
    """In-process through the SDK's memory transport: faster, same client and server code."""


@dataclass(frozen=True, slots=True)
class RunPaths:
    """Where one run keeps its files; all absolute, all under the test's tmp_path."""

    workspace: Path
    specs_dir: Path
    codebase: Path

    @property
    def server_log(self) -> Path:
        """The stdio server's stderr."""
        return self.workspace / "server.stderr.log"

    def expand(self, template: str) -> str:
        """Replace {workspace}, {specs_dir} and {codebase} in a config string."""
        return template.format(workspace=self.workspace, specs_dir=self.specs_dir, codebase=self.codebase)


class MCPToolSession:
    """A connected MCP client seen as the agent loop's `ToolSession`."""

    def __init__(self, client: Client, timeout_s: float, stderr: Path | None) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.stderr = stderr

    async def list_tools(self) -> list[ToolSpec]:
        """Every tool the server lists, across pages."""
        result = await self._guard("tools/list", self.client.list_tools())
        return [ToolSpec(t.name, t.description or "", dict(t.input_schema)) for t in result.tools]

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Call one tool; its text content is the result the model sees."""
        result = await self._guard(f"tool {name}", self.client.call_tool(name, arguments))
        return ToolOutcome(_text_of(result.content), is_error=bool(result.is_error))

    async def _guard(self, what: str, pending: Any) -> Any:
        try:
            with anyio.fail_after(self.timeout_s):
                return await pending
        except TimeoutError:
            raise ServerError(
                f"MCP server did not answer {what} within {self.timeout_s:g}s (tool_timeout_s){self._tail()}"
            ) from None
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError) as exc:
            raise ServerError(f"MCP server connection lost during {what}: {exc!r}{self._tail()}") from exc
        except Exception as exc:
            if type(exc).__name__ == "MCPError":
                raise ServerError(f"MCP server failed {what}: {exc}{self._tail()}") from exc
            raise

    def _tail(self) -> str:
        return stderr_tail(self.stderr)


def stderr_tail(path: Path | None, lines: int = STDERR_TAIL_LINES) -> str:
    """The last lines of a server's stderr, formatted to end an error message ('' if none)."""
    if path is None or not path.exists():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    if not text:
        return ""
    tail = " | ".join(text.splitlines()[-lines:])
    return f"; server stderr: {tail}"


def _text_of(content: list[Any]) -> str:
    parts = [
        block.text if getattr(block, "type", "") == "text" else f"[{block.type} content]" for block in content
    ]
    return "\n".join(parts)


@asynccontextmanager
async def open_tool_session(
    brief: BriefConfig, paths: RunPaths, transport: Transport, timeout_s: float
) -> AsyncIterator[MCPToolSession]:
    """Start or reach the brief's MCP server and yield a connected session.

    Raises:
        ServerError: the server could not be started or did not complete the handshake.
    """
    paths.specs_dir.mkdir(parents=True, exist_ok=True)
    with open(paths.server_log, "w", encoding="utf-8") as errlog:
        target = _target(brief, paths, transport, errlog)
        async with _connected(target, paths, timeout_s) as client:
            yield MCPToolSession(client, timeout_s, paths.server_log)


def _target(brief: BriefConfig, paths: RunPaths, transport: Transport, errlog: TextIO) -> Any:
    from mcp import StdioServerParameters
    from mcp.client.stdio import stdio_client

    if brief.server is not None:
        return _external_target(brief.server, paths, errlog)
    if transport is Transport.MEMORY:
        from pytest_specbench.server import build_server

        return build_server(paths.codebase, paths.specs_dir)
    from pytest_specbench.server import server_command

    argv = server_command(paths.codebase, paths.specs_dir)
    params = StdioServerParameters(command=argv[0], args=argv[1:], env={"PYTHONUNBUFFERED": "1"})
    return stdio_client(params, errlog=errlog)


def _external_target(server: ServerConfig, paths: RunPaths, errlog: TextIO) -> Any:
    from mcp import StdioServerParameters
    from mcp.client.stdio import stdio_client

    if server.url is not None:
        return paths.expand(server.url)
    argv = [paths.expand(part) for part in server.command]
    env = {key: paths.expand(value) for key, value in server.env.items()}
    return stdio_client(StdioServerParameters(command=argv[0], args=argv[1:], env=env), errlog=errlog)


@asynccontextmanager
async def _connected(target: Any, paths: RunPaths, timeout_s: float) -> AsyncIterator[Client]:
    from mcp import Client

    # The handshake is bounded by read_timeout_seconds: wrapping __aenter__ in a
    # cancel scope would break anyio's nesting, as the client opens task groups there.
    client = Client(target, read_timeout_seconds=timeout_s)
    try:
        await client.__aenter__()
    except Exception as exc:
        tail = stderr_tail(paths.server_log)
        raise ServerError(f"MCP server could not be started or reached: {_one_line(exc)}{tail}") from exc
    try:
        yield client
    finally:
        await client.__aexit__(*sys.exc_info())


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _one_line(exc.exceptions[0])
    return f"{type(exc).__name__}: {exc}".splitlines()[0]
