"""`python -m pytest_specbench.server --codebase DIR --specs DIR [--http PORT]`: the reference server.

Over stdio by default; with `--http PORT`, over Streamable HTTP at
http://127.0.0.1:PORT/mcp, so it can stand in for a team's own URL server.

stdout carries the MCP protocol, so everything else (tool failures at INFO, crashes
with their traceback, the URL an HTTP server listens on) goes to stderr.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from pytest_specbench._files import is_system_tree
from pytest_specbench.server import build_server

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and serve until the client closes stdin (stdio) or the process ends (HTTP)."""
    parser = argparse.ArgumentParser(prog="python -m pytest_specbench.server", description=__doc__)
    parser.add_argument("--codebase", type=Path, required=True, help="directory the read tools may read")
    parser.add_argument("--specs", type=Path, required=True, help="directory the spec tree is written to")
    parser.add_argument("--http", type=int, metavar="PORT", help="serve Streamable HTTP on 127.0.0.1:PORT")
    args = parser.parse_args(argv)
    if not args.codebase.is_dir():
        parser.error(f"--codebase {args.codebase} is not a directory")
    for option, path in (("--codebase", args.codebase), ("--specs", args.specs)):
        if is_system_tree(path):
            parser.error(
                f"{option} {path} is the root or a system tree (/, /proc, /sys, /dev); name your own"
            )
    # Configured before the server is built, so the SDK's own basicConfig call leaves it alone.
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="specbench-server %(levelname)s: %(message)s"
    )
    try:
        server = build_server(args.codebase, args.specs)
    except OSError as exc:
        parser.error(f"--specs {args.specs} cannot be created: {exc.strerror or exc}")
    if args.http is None:
        from pytest_specbench.server.stdio import run_stdio

        anyio.run(run_stdio, server)
    else:
        _serve_http(server, args.http)


def _serve_http(server: MCPServer, port: int) -> None:
    """Serve on 127.0.0.1:`port`, printing the URL, so that `--http 0` says which port it picked."""
    import uvicorn

    sock = socket.create_server(("127.0.0.1", port))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    print(f"specbench-server: serving Streamable HTTP at {url}", file=sys.stderr, flush=True)
    config = uvicorn.Config(server.streamable_http_app(host="127.0.0.1"), log_level="warning")
    anyio.run(uvicorn.Server(config).serve, [sock])


if __name__ == "__main__":
    main()
