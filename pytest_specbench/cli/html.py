"""`specbench html RESULTS.json [--transcripts DIR] -o report.html`: the session's HTML report from a file.

The same page `--specbench-html` writes at the end of a session, so merged shards and old
runs render too.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pytest_specbench._record import Record
from pytest_specbench.cli import UsageProblem, check_output
from pytest_specbench.errors import ResultsFileError
from pytest_specbench.report.html import write_html
from pytest_specbench.report.results import read_results

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    """Register `specbench html`."""
    parser = subparsers.add_parser(
        "html",
        help="render results.json (and its transcripts) as one self-contained HTML page",
        description="Render a results.json as the self-contained HTML report --specbench-html writes.",
    )
    parser.add_argument("results", type=Path, metavar="RESULTS.json")
    parser.add_argument(
        "--transcripts",
        type=Path,
        metavar="DIR",
        default=None,
        help="directory of <test_id>.jsonl transcripts (default: transcripts/ beside RESULTS.json, if any)",
    )
    parser.add_argument("-o", "--output", type=Path, metavar="PATH", default=Path("report.html"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Read the records, write the page, name it on stdout."""
    records = read_records(args.results)
    transcripts: Path | None = args.transcripts
    if transcripts is None and (args.results.parent / "transcripts").is_dir():
        transcripts = args.results.parent / "transcripts"
    if transcripts is not None and not transcripts.is_dir():
        raise UsageProblem(f"--transcripts {transcripts}: no such directory (the report's transcripts/)")
    check_output(args.output, "-o")
    write_html(args.output, records, transcripts)
    print(f"specbench: wrote {args.output} ({len(records)} runs)")
    return 0


def read_records(path: Path) -> list[Record]:
    """results.json's records, each checked, one per test (as `compare` and `merge` read them)."""
    try:
        return list(read_results(path).values())
    except ResultsFileError as exc:
        raise UsageProblem(str(exc)) from None
