"""`specbench merge A.json B.json … -o results.json`: the results of CI shards as one file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pytest_specbench._files import write_json_atomic
from pytest_specbench.cli import UsageProblem, check_output
from pytest_specbench.errors import ResultsFileError
from pytest_specbench.report.results import merge_results


def add_parser(subparsers: Any) -> None:
    """Register `merge`."""
    parser = subparsers.add_parser(
        "merge",
        help="merge the results.json of several shards into one",
        description="Join the results of shards that ran disjoint tests (a CI matrix of -k or "
        "--specbench-models selections); a test in two inputs, or a record of another results "
        "version, is an error.",
    )
    parser.add_argument("inputs", type=Path, nargs="+", metavar="RESULTS.json", help="the shards' results")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="PATH", help="where to write")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the merged records; 0 on success."""
    try:
        records = merge_results(args.inputs)
    except ResultsFileError as exc:
        raise UsageProblem(str(exc)) from None
    check_output(args.output, "-o")
    write_json_atomic(args.output, records)
    print(f"{len(records)} records from {len(args.inputs)} files → {args.output}")
    return 0
