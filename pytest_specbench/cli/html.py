"""`specbench html RESULTS.json [--transcripts DIR] -o report.html`: the session's HTML report from a file.

The same page `--specbench-html` writes at the end of a session, so merged shards and old
runs render too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pytest_specbench.cli import UsageProblem
from pytest_specbench.report.html import write_html

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
    write_html(args.output, records, transcripts)
    print(f"specbench: wrote {args.output} ({len(records)} runs)")
    return 0


def read_records(path: Path) -> list[dict[str, Any]]:
    """results.json's records; anything else is a UsageProblem naming the file and the fix."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageProblem(
            f"{path}: cannot read it ({exc.strerror}); pass the results.json of a session"
        ) from None
    except ValueError as exc:
        raise UsageProblem(f"{path}: not JSON ({exc}); pass the results.json of a session") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) and "test_id" in r for r in data):
        raise UsageProblem(f"{path}: not a results.json (a list of records with test_id)")
    versions = {r.get("version") for r in data} - {1}
    if versions:
        raise UsageProblem(f"{path}: records of version {sorted(map(str, versions))}, this version reads 1")
    return data
