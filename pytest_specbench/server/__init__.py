"""The reference spec MCP server, run in-process or as `python -m pytest_specbench.server`.

Importing this package does not import the MCP SDK: `server_command` is all a
stdio run needs, and `build_server` imports the server only when called.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

__all__ = ["build_server", "server_command"]


def build_server(codebase: Path, specs_dir: Path) -> MCPServer:
    """The reference server of one run, for an in-memory `mcp.Client`.

    Args:
        codebase: The directory the read tools may read (and nothing outside it).
        specs_dir: Where the spec tree is written; created if missing, continued if not empty.
    """
    from pytest_specbench.server.app import build_server as build

    return build(codebase, specs_dir)


def server_command(codebase: Path, specs_dir: Path) -> list[str]:
    """The argv of the reference server as a stdio subprocess of this interpreter.

    Args:
        codebase: The directory the read tools may read.
        specs_dir: Where the spec tree is written.
    """
    # Absolute paths: the subprocess may start in another working directory.
    return [
        sys.executable,
        "-m",
        "pytest_specbench.server",
        "--codebase",
        str(codebase.resolve()),
        "--specs",
        str(specs_dir.resolve()),
    ]
