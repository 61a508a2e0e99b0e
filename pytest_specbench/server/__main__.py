"""`python -m pytest_specbench.server --codebase DIR --specs DIR`: the reference server over stdio.

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
    """Parse the arguments and serve over stdio until the client closes stdin."""
    parser = argparse.ArgumentParser(prog="python -m pytest_specbench.server", description=__doc__)
    parser.add_argument("--codebase", type=Path, required=True, help="directory the read tools may read")
    parser.add_argument("--specs", type=Path, required=True, help="directory the spec tree is written to")
    args = parser.parse_args(argv)
    if not args.codebase.is_dir():
        parser.error(f"--codebase {args.codebase} is not a directory")
    # Configured before the server is built, so the SDK's own basicConfig call leaves it alone.
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="specbench-server %(levelname)s: %(message)s"
    )
    build_server(args.codebase, args.specs).run("stdio")


if __name__ == "__main__":
    main()
