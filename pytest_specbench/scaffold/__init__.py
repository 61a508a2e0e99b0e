"""Scaffolding as an experimental axis: tools the harness gives the model besides the spec server.

A scaffold (`bare`, `full` or a `[scaffolds.<id>]` table) picks tool sets: a todo list,
a plan and a scratchpad, served by a small MCP server of their own (`app.py`) whose
state lives for one run and is written to `<workspace>/scaffold/`. `ScaffoldedTools`
merges those tools with the spec server's behind one `ToolSession`.

Importing this package does not import the MCP SDK; `build_scaffold_server` does when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pytest_specbench.scaffold.composite import ScaffoldedTools, open_scaffolded_tools, scaffold_prompt

if TYPE_CHECKING:
    from collections.abc import Iterable

    from mcp.server.mcpserver import MCPServer

    from pytest_specbench.config.settings import ScaffoldTool

__all__ = ["ScaffoldedTools", "build_scaffold_server", "open_scaffolded_tools", "scaffold_prompt"]


def build_scaffold_server(tools: Iterable[ScaffoldTool], directory: Path) -> MCPServer:
    """A scaffold MCP server offering `tools`, for an in-memory `mcp.Client`.

    Args:
        tools: The tool sets to offer (todo, plan, notes).
        directory: Where todo.json, plan.json and notes.md are written.
    """
    from pytest_specbench.scaffold.app import build_scaffold_server as build

    return build(tools, directory)
