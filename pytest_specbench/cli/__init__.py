"""The `specbench` command (also `python -m pytest_specbench`): tools over results files.

Each subcommand is a module of this package with `add_parser(subparsers)`, which registers
its parser and sets `run` (a function of the parsed arguments returning the exit status)
with `set_defaults(run=...)`. A bad argument or unreadable input exits 2 with one line
on stderr naming what is wrong and the fix, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path

__all__ = ["main"]

# Modules of this package that add a subcommand; imported only when the command runs.
SUBCOMMANDS: tuple[str, ...] = ("compare", "html", "merge", "power")

Run = Callable[[argparse.Namespace], int]


class UsageProblem(Exception):
    """Bad input a subcommand found after parsing: printed as one line, exit status 2."""


def check_output(path: Path, option: str) -> None:
    """An output path must be a file to replace, or not be there yet: never a directory or a FIFO."""
    if path.exists() and not path.is_file():
        raise UsageProblem(f"{option} {path}: not a regular file; name the file to write")


def build_parser() -> argparse.ArgumentParser:
    """The `specbench` parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="specbench", description="Compare, merge and render pytest-specbench results."
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        import_module(f"pytest_specbench.cli.{name}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Run = args.run
    try:
        return run(args)
    except UsageProblem as problem:
        print(f"specbench: error: {problem}", file=sys.stderr)
        return 2
