"""Connecting a run to its MCP server: the reference one or a team's own.

The reference server runs in-process by default (`memory`: still the SDK's client
and server, over its memory transport). A run then pays no subprocess start, which
was most of its CPU (importing `mcp` afresh, ~0.6 CPU-s) and ate parallel runs.
`stdio` runs it as a subprocess, the transport a real deployment uses. An external
server is always a process or a URL, a command (stdio) or a Streamable HTTP URL
from the brief, with every fault and isolation guard.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import string
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import anyio
import anyio.lowlevel

from pytest_specbench._files import TreeTooLarge, copy_tree, is_system_tree, write_text_atomic
from pytest_specbench._text import clip
from pytest_specbench.agent.loop import ToolOutcome
from pytest_specbench.config.settings import BriefConfig, ServerConfig
from pytest_specbench.errors import InfrastructureError, ServerError
from pytest_specbench.models.types import ToolSpec

if TYPE_CHECKING:
    from mcp import Client

__all__ = ["MCPToolSession", "RunPaths", "StrayOutput", "Transport", "open_tool_session", "stderr_tail"]

STDERR_TAIL_LINES = 15
STDERR_TAIL_BYTES = 64 * 1024
"""Only the end of the server's stderr is read, however much it wrote."""
STDERR_TAIL_CHARS = 1500
STRAY_GRACE_S = 2.0
"""How long a pending request may still take once the server has written a stray line on stdout."""
CONNECTION_CLOSED = -32000
"""The JSON-RPC code the MCP SDK gives pending requests when the transport closes."""
INVALID_PARAMS = -32602
"""The JSON-RPC code of arguments a server refuses as a protocol error."""
REQUEST_TIMEOUT = -32001
"""The code of a request that got no answer within read_timeout_seconds."""
_T = TypeVar("_T")


def _unchanged(text: str) -> str:
    return text


class Transport(StrEnum):
    """How the reference server is reached."""

    STDIO = "stdio"
    """A subprocess over stdin/stdout, as a deployed MCP server runs."""
    MEMORY = "memory"
    """In-process through the SDK's memory transport (the default): no process to start, same client
    and server code."""


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

    @classmethod
    def create(cls, brief: BriefConfig, root: Path) -> RunPaths:
        """Make `root/workspace` and copy the brief's codebase to `root/codebase`.

        A copy per run, so that nothing a run does (a server that lets the model write into
        the codebase) reaches what the next run reads.
        """
        workspace = root / "workspace"
        workspace.mkdir()
        # The paths first: a specs_dir they refuse costs no copy of the codebase.
        paths = cls.for_brief(dataclasses.replace(brief, codebase=root / "codebase"), workspace)
        limit = brief.max_codebase_mib * 1024 * 1024
        try:
            copy_tree(brief.codebase, paths.codebase, brief.max_codebase_files, limit)
        except TreeTooLarge as over:  # counted at load; it has grown since
            raise InfrastructureError(
                f"brief {brief.id!r}: codebase {brief.codebase} now holds more than {over}, the limit of "
                "each run's copy — remove what does not belong to it, or raise max_codebase_files / "
                "max_codebase_mib"
            ) from None
        return paths

    @classmethod
    def for_brief(cls, brief: BriefConfig, workspace: Path) -> RunPaths:
        """The paths of a run in `workspace`; an external server's `specs_dir` is where its tree is read."""
        paths = cls(workspace=workspace, specs_dir=workspace / "specs", codebase=brief.codebase)
        if brief.server is None:
            return paths
        specs_dir = Path(paths.expand(brief.server.specs_dir)).resolve()
        if is_system_tree(specs_dir):  # `{workspace}/../..` can climb to `/`: snapshotting it never ends
            raise ServerError(
                f"brief {brief.id!r}: server.specs_dir {brief.server.specs_dir!r} is {specs_dir}, "
                "the root or a system tree (/, /proc, /sys, /dev) — point it under {workspace}"
            )
        _check_specs_dir(brief, specs_dir, workspace.parent.resolve())
        return cls(workspace, specs_dir, brief.codebase)

    def expand(self, template: str) -> str:
        """Replace {workspace}, {specs_dir} and {codebase} in a config string."""
        return template.format(workspace=self.workspace, specs_dir=self.specs_dir, codebase=self.codebase)


def _check_specs_dir(brief: BriefConfig, specs_dir: Path, run_dir: Path) -> None:
    """A specs_dir holding the run's own directory would snapshot every run's files, this one's
    included; one written with a placeholder must stay in the run's directory (it is per run)."""
    template = brief.server.specs_dir if brief.server is not None else ""
    per_run = any(name for _, name, _, _ in string.Formatter().parse(template))
    if run_dir.is_relative_to(specs_dir) or (per_run and not specs_dir.is_relative_to(run_dir)):
        where = "holds" if run_dir.is_relative_to(specs_dir) else "is outside"
        raise ServerError(
            f"brief {brief.id!r}: server.specs_dir {template!r} is {specs_dir}, which {where} the run's "
            f'directory {run_dir} — point it under {{workspace}}, e.g. "{{workspace}}/specs"'
        )


class MCPToolSession:
    """A connected MCP client seen as the agent loop's `ToolSession`.

    Every request is bounded by `timeout_s`, and every way the server can fail ends in a
    one-line `ServerError` that names the cause and ends with the server's stderr tail.
    """

    def __init__(
        self,
        client: Client,
        timeout_s: float,
        stderr: Path | None,
        *,
        redact: Callable[[str], str] = _unchanged,
        stray: StrayOutput | None = None,
        label: str = "MCP server",
    ) -> None:
        self.client = client
        self.label = label
        """How errors name the server: `MCP server`, or `MCP server at <url>`."""
        self.timeout_s = timeout_s
        self.stderr = stderr
        self.redact = redact
        self.stray = stray or StrayOutput()

    async def list_tools(self) -> list[ToolSpec]:
        """Every tool the server lists, across pages."""
        result = await self._guard("tools/list", self.client.list_tools)
        return [
            ToolSpec(t.name, t.description or "", dict(t.input_schema), read_only=_read_only(t.annotations))
            for t in result.tools
        ]

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Call one tool; its text content is the result the model sees."""
        return await self._guard(f"tool {name}", lambda: self._call(name, arguments))

    async def _call(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        from mcp.shared.exceptions import MCPError

        try:
            result = await self.client.call_tool(name, arguments)
        except MCPError as exc:
            if exc.code != INVALID_PARAMS:
                raise
            # Refused as a protocol error rather than as an error result: still the model's
            # mistake, so the model sees it (worded so that it counts as bad_arguments).
            return ToolOutcome(f"Error: {exc.message} (the server's validation error)", is_error=True)
        return ToolOutcome(_text_of(result.content), is_error=bool(result.is_error))

    async def _guard(self, what: str, request: Callable[[], Awaitable[_T]]) -> _T:
        from mcp.shared.exceptions import MCPError
        from pydantic import ValidationError

        try:
            with anyio.fail_after(self.timeout_s) as scope, self.stray.watching(scope):
                return await request()
        except TimeoutError:
            if self.stray.line is not None:
                problem = f"sent {self.stray.line!r}, which is not JSON-RPC, instead of answering {what}"
                raise self._error(f"{problem} (a stdio server must log to stderr, not stdout)") from None
            if self.stray.fault is not None:
                raise self._error(f"failed {what}: its transport reported {self.stray.fault}") from None
            raise self._error(f"did not answer {what} within {self.timeout_s:g}s (tool_timeout_s)") from None
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                raise self._error(f"closed the connection during {what} (it exited or crashed)") from exc
            raise self._error(f"failed {what}: {_one_line(exc)}") from exc
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError) as exc:
            raise self._error(f"connection lost during {what}: {_one_line(exc)}") from exc
        except ValidationError as exc:
            raise self._error(
                f"answered {what} with a result that breaks the MCP schema: {_one_line(exc)}"
            ) from exc

    def _error(self, problem: str) -> ServerError:
        return ServerError(self.redact(f"{self.label} {problem}{stderr_tail(self.stderr)}"))


class StrayOutput:
    """What the transport reports outside any request: lines that are not JSON-RPC, or faults.

    A stray line (a banner, a print on stdout) is tolerated; but once one arrives, a pending
    request gets only STRAY_GRACE_S more to be answered, since its answer was probably that line.
    """

    def __init__(self) -> None:
        self.line: str | None = None
        """The last stray line, clipped."""
        self.fault: str | None = None
        """The last other fault the transport reported (an HTTP server's), on one line."""
        self._pending: set[anyio.CancelScope] = set()

    async def __call__(self, message: object) -> None:
        """The client's message handler: notes stray lines and faults, ignores everything else."""
        if isinstance(message, Exception):
            self._note(message)
        await anyio.lowlevel.checkpoint()

    @contextmanager
    def watching(self, scope: anyio.CancelScope) -> Iterator[None]:
        """Shorten `scope`'s deadline if a stray line or fault arrives while it is open."""
        self._pending.add(scope)
        try:
            yield
        finally:
            self._pending.discard(scope)

    def _note(self, fault: Exception) -> None:
        line = _unparsed_line(fault)
        if line is not None and not line.strip():
            return  # a blank line is harmless
        if line is not None:
            self.line = clip(line.strip(), 200)
        else:
            self.fault = _one_line(fault)
        soon = anyio.current_time() + STRAY_GRACE_S
        for scope in self._pending:
            scope.deadline = min(scope.deadline, soon)


def stderr_tail(path: Path | None, lines: int = STDERR_TAIL_LINES) -> str:
    """The last lines of a server's stderr, formatted to end an error message ('' if none)."""
    if path is None or not path.exists():
        return ""
    with path.open("rb") as handle:
        handle.seek(max(path.stat().st_size - STDERR_TAIL_BYTES, 0))
        text = handle.read().decode("utf-8", errors="replace").strip()
    if not text:
        return ""
    tail = " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())
    return f"; server stderr: {clip(tail, STDERR_TAIL_CHARS)}"


def _text_of(content: list[Any]) -> str:
    parts = [
        block.text if getattr(block, "type", "") == "text" else f"[{block.type} content]" for block in content
    ]
    return "\n".join(parts)


@asynccontextmanager
async def open_tool_session(
    brief: BriefConfig,
    paths: RunPaths,
    transport: Transport,
    timeout_s: float,
    *,
    redact: Callable[[str], str] = _unchanged,
) -> AsyncIterator[MCPToolSession]:
    """Start or reach the brief's MCP server and yield a connected session.

    On exit a stdio server is stopped (stdin closed, then SIGTERM and SIGKILL to its
    process group, by the SDK) and its stderr log is redacted in place.

    Args:
        brief: names an external server, or none for the reference server.
        paths: the run's directories; the server's stderr goes to `paths.server_log`.
        transport: how the reference server runs.
        timeout_s: the bound on the handshake and on every request (tool_timeout_s).
        redact: applied to error messages and to the stderr log.

    Raises:
        ServerError: the server could not be started or did not complete the handshake.
    """
    paths.specs_dir.mkdir(parents=True, exist_ok=True)
    stray = StrayOutput()
    try:
        with open(paths.server_log, "w", encoding="utf-8") as errlog:
            target = _target(brief, paths, transport, errlog)
            label = f"MCP server at {target}" if isinstance(target, str) else "MCP server"
            async with _connected(target, paths, timeout_s, stray, redact, label) as client:
                log = paths.server_log
                yield MCPToolSession(client, timeout_s, log, redact=redact, stray=stray, label=label)
    finally:
        _redact_file(paths.server_log, redact)


def _target(brief: BriefConfig, paths: RunPaths, transport: Transport, errlog: TextIO) -> Any:
    if brief.server is not None:
        return _external_target(brief, brief.server, paths, errlog)
    if transport is Transport.MEMORY:
        from pytest_specbench.server import build_server

        return build_server(paths.codebase, paths.specs_dir)
    from pytest_specbench.server import server_command

    return _stdio(server_command(paths.codebase, paths.specs_dir), {"PYTHONUNBUFFERED": "1"}, errlog)


def _external_target(brief: BriefConfig, server: ServerConfig, paths: RunPaths, errlog: TextIO) -> Any:
    if server.url is not None:
        return paths.expand(server.url)
    argv = [paths.expand(part) for part in server.command]
    env = {key: paths.expand(value) for key, value in server.env.items()}
    _check_program(argv[0], env.get("PATH"), brief.id)
    return _stdio(argv, env, errlog)


def _check_program(program: str, path: str | None, brief_id: str) -> None:
    """Name a missing program now: once exec'd by the orphan guard, it would be a bare traceback."""
    if shutil.which(program, path=path) is None:
        raise ServerError(
            f"MCP server command not found: {json.dumps(program)} (brief {brief_id!r}, server.command[0])"
            " — is it installed and on PATH?"
        )


# Run as `python -I -c ORPHAN_GUARD <pid> <argv...>`: arm the kernel's parent-death signal, then
# exec the server. The client stops its server at the end of a run, but a client killed first
# (an xdist worker torn down after Ctrl-C) cannot; SIGKILL then reaches a server that ignores a
# closed stdin and SIGTERM. The signal survives the exec; off Linux the server just runs.
ORPHAN_GUARD = """\
import ctypes, os, signal, sys
parent, argv = int(sys.argv[1]), sys.argv[2:]
if sys.platform.startswith("linux"):
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        sys.exit("the MCP client exited before its server started")
os.execvp(argv[0], argv)
"""


class _StrayLineLog(logging.Filter):
    """Drops the SDK's traceback for a stdout line that is not JSON-RPC: `StrayOutput` reports the
    line in the run's one-line error, and pytest would show the traceback as a captured log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to parse JSONRPC message")


_STRAY_LINE_LOG = _StrayLineLog()


def _stdio(argv: list[str], env: dict[str, str], errlog: TextIO) -> Any:
    """A stdio transport to `argv`, which dies with this process however this process ends."""
    from mcp import StdioServerParameters
    from mcp.client.stdio import stdio_client

    logging.getLogger("mcp.client.stdio").addFilter(_STRAY_LINE_LOG)  # once: a set of filters

    guarded = ["-I", "-c", ORPHAN_GUARD, str(os.getpid()), *argv]
    return stdio_client(StdioServerParameters(command=sys.executable, args=guarded, env=env), errlog=errlog)


@asynccontextmanager
async def _connected(
    target: Any,
    paths: RunPaths,
    timeout_s: float,
    stray: StrayOutput,
    redact: Callable[[str], str],
    label: str = "MCP server",
) -> AsyncIterator[Client]:
    from mcp import Client

    # The handshake is bounded by read_timeout_seconds: wrapping __aenter__ in a
    # cancel scope would break anyio's nesting, as the client opens task groups there.
    client = Client(target, read_timeout_seconds=timeout_s, message_handler=stray)
    try:
        await client.__aenter__()
    except Exception as exc:
        cause = _startup_cause(exc, timeout_s) + (
            f" (it wrote {stray.line!r} on stdout)" if stray.line else ""
        )
        message = f"{label} could not be started or reached: {cause}{stderr_tail(paths.server_log)}"
        raise ServerError(redact(message)) from None  # one line: the cause is in the message
    try:
        yield client
    finally:
        await client.__aexit__(*sys.exc_info())


def _startup_cause(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _startup_cause(exc.exceptions[0], timeout_s)
    code = getattr(exc, "code", None)
    if code == CONNECTION_CLOSED:
        return "it exited before the handshake"
    if code == REQUEST_TIMEOUT:
        return f"no answer to the handshake within {timeout_s:g}s (tool_timeout_s)"
    return _one_line(exc)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _one_line(exc.exceptions[0])
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def _unparsed_line(fault: Exception) -> str | None:
    """The text the SDK could not parse as JSON-RPC (pydantic keeps it as the error's input)."""
    errors = getattr(fault, "errors", None)
    try:
        line = errors()[0].get("input") if callable(errors) else None
    except (IndexError, TypeError, AttributeError):
        return None
    return line if isinstance(line, str) else None


def _redact_file(path: Path, redact: Callable[[str], str]) -> None:
    """Rewrite a log with its secrets redacted, line by line and atomically."""
    if redact is _unchanged or not path.is_file():
        return
    with path.open(encoding="utf-8", errors="replace") as log:
        redacted = "".join(redact(line) for line in log)
    write_text_atomic(path, redacted)


def _read_only(annotations: object) -> bool:
    return bool(getattr(annotations, "read_only_hint", None) or getattr(annotations, "readOnlyHint", None))
