"""`python -m pytest_specbench.server --codebase DIR --specs DIR [--http PORT]`: the reference server.

Over stdio by default; with `--http PORT`, over Streamable HTTP at
http://127.0.0.1:PORT/mcp, so it can stand in for a team's own URL server.

stdout carries the MCP protocol, so everything else (tool failures at INFO, crashes
with their traceback) goes to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pytest_specbench.server import build_server


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and serve until the client closes stdin (stdio) or the process ends (HTTP)."""
    parser = argparse.ArgumentParser(prog="python -m pytest_specbench.server", description=__doc__)
    parser.add_argument("--codebase", type=Path, required=True, help="directory the read tools may read")
    parser.add_argument("--specs", type=Path, required=True, help="directory the spec tree is written to")
    parser.add_argument("--http", type=int, metavar="PORT", help="serve Streamable HTTP on 127.0.0.1:PORT")
    args = parser.parse_args(argv)
    if not args.codebase.is_dir():
        parser.error(f"--codebase {args.codebase} is not a directory")
    # Configured before the server is built, so the SDK's own basicConfig call leaves it alone.
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="specbench-server %(levelname)s: %(message)s"
    )
    server = build_server(args.codebase, args.specs)
    if args.http is None:
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.http)


if __name__ == "__main__":
    main()
