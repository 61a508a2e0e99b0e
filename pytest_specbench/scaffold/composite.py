"""One ToolSession over the spec server and a scaffold's own MCP server.

The agent loop sees one tool list; each call goes to the session that listed the
tool, and a scaffold tool's outcome is marked `scaffold=True`, so the transcript and
the stats tell the scaffold's calls apart. A name both sides list is refused before
the run starts: routing it either way would change what one of them measures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pytest_specbench.agent.loop import ToolOutcome, ToolSession
from pytest_specbench.config.settings import BARE, ScaffoldConfig, ScaffoldTool
from pytest_specbench.errors import ServerError
from pytest_specbench.models.types import ToolSpec

__all__ = ["REMINDER_HEAD", "ScaffoldedTools", "open_scaffolded_tools", "scaffold_prompt"]

REMINDER_HEAD = "Reminder: your todo list as it stands."

_PROMPTS = {
    ScaffoldTool.TODO: "a todo list (todo_write, todo_read): list the work left, keep one item "
    "in_progress while you do it and mark it done when finished",
    ScaffoldTool.PLAN: "a plan (plan_write, plan_read): set out your approach as ordered steps before "
    "you start, and rewrite it when the approach changes",
    ScaffoldTool.NOTES: "a scratchpad (notes_write, notes_read): keep what you learn about the code "
    "so you need not read it twice",
}


def scaffold_prompt(config: ScaffoldConfig) -> str:
    """The paragraph added to the system prompt for a scaffold's tools ('' for bare)."""
    if not config.tools:
        return ""
    lines = [f"- {_PROMPTS[tool]}." for tool in config.tools]
    if config.remind:
        lines.append("- after each batch of tool results you are shown your todo list.")
    return "\n".join(["Besides the spec tools you have tools of your own to organise the work:", *lines])


class ScaffoldedTools:
    """The spec server's tools and a scaffold's behind one `ToolSession`, routed by tool name."""

    def __init__(
        self, spec: ToolSession, config: ScaffoldConfig = BARE, scaffold: ToolSession | None = None
    ) -> None:
        """Args:
        spec: The brief's MCP server.
        config: The scaffold; its id names it in errors, `remind` turns reminders on.
        scaffold: The scaffold's tool server; None offers only the spec server's tools.
        """
        self.spec = spec
        self.config = config
        self.scaffold = scaffold
        self._scaffold_names: frozenset[str] | None = None
        self.reminder: Callable[[], Awaitable[str]] | None = (
            self._todo_reminder if scaffold is not None and config.remind else None
        )
        """What the agent loop appends after each batch of tool results, or None for nothing."""

    async def list_tools(self) -> list[ToolSpec]:
        """The spec server's tools, then the scaffold's.

        Raises:
            ServerError: both offer a tool of the same name.
        """
        spec_tools = await self.spec.list_tools()
        scaffold_tools = await self.scaffold.list_tools() if self.scaffold is not None else []
        names = frozenset(tool.name for tool in scaffold_tools)
        clashes = sorted(names & {tool.name for tool in spec_tools})
        if clashes:
            raise ServerError(
                f"the MCP server offers {', '.join(clashes)}, which scaffold {self.config.id!r} also offers: "
                "rename the server's tool, or leave this brief out of scaffold runs "
                "(--specbench-scaffolds bare)"
            )
        self._scaffold_names = names
        return [*spec_tools, *scaffold_tools]

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Call the tool on the session that offers it."""
        if self.scaffold is None:
            return await self.spec.call_tool(name, arguments)
        if self._scaffold_names is None:
            await self.list_tools()  # routing needs the names; the loop normally listed them already
        if name not in (self._scaffold_names or ()):
            return await self.spec.call_tool(name, arguments)
        outcome = await self.scaffold.call_tool(name, arguments)
        return dataclasses.replace(outcome, scaffold=True)

    async def _todo_reminder(self) -> str:
        assert self.scaffold is not None
        outcome = await self.scaffold.call_tool("todo_read", {})
        return f"{REMINDER_HEAD}\n{outcome.content}"


@asynccontextmanager
async def open_scaffolded_tools(
    spec: ToolSession, config: ScaffoldConfig, directory: Path, timeout_s: float
) -> AsyncIterator[ScaffoldedTools]:
    """Start the scaffold's server in-process (none for bare) and yield it merged with `spec`.

    Args:
        spec: The brief's MCP server, already connected.
        config: The scaffold of this run.
        directory: Where the scaffold's state files go (`<workspace>/scaffold`).
        timeout_s: How long one scaffold call may take (tool_timeout_s).

    Raises:
        ServerError: the spec server and the scaffold offer a tool of the same name.
    """
    if not config.tools:
        yield ScaffoldedTools(spec, config)
        return
    from mcp import Client

    from pytest_specbench.agent.tools import MCPToolSession
    from pytest_specbench.scaffold.app import build_scaffold_server

    clash: ServerError | None = None
    async with Client(
        build_scaffold_server(config.tools, directory), read_timeout_seconds=timeout_s
    ) as client:
        tools = ScaffoldedTools(spec, config, MCPToolSession(client, timeout_s, None))
        try:
            await tools.list_tools()  # a name clash fails the setup, before any model request
        except ServerError as exc:
            clash = exc
        else:
            yield tools
    if clash is not None:
        raise clash  # out here it is itself, not wrapped in the client's exception group
