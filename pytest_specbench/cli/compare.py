"""`specbench compare OLD.json NEW.json`: per test, old → new, and the gate's verdict."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pytest_specbench._text import markdown_table
from pytest_specbench.cli import UsageProblem
from pytest_specbench.errors import ResultsFileError
from pytest_specbench.report.compare import COLUMNS, compare_results, text_table
from pytest_specbench.report.results import read_results
from pytest_specbench.verdicts.regression import GATE_DEFAULTS

FORMATS = ("text", "markdown", "json")


def add_parser(subparsers: Any) -> None:
    """Register `compare`."""
    parser = subparsers.add_parser(
        "compare",
        help="compare two results.json files test by test; exit 1 on a regression",
        description="Per test: outcome, features, requirements, recall, tokens, cost and seconds, old → new; "
        "checks newly failing or passing; and the gate's verdict, by the rules of no_regression "
        "(tolerances from each new record's gate, overridden by the options below).",
    )
    parser.add_argument("old", type=Path, metavar="OLD.json", help="the accepted results (the baseline)")
    parser.add_argument("new", type=Path, metavar="NEW.json", help="the results to judge")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    for key in GATE_DEFAULTS:
        parser.add_argument(
            f"--{key.replace('_', '-')}", dest=key, type=_fraction, metavar="FRACTION", help=f"override {key}"
        )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the comparison; 1 when any test regressed, else 0."""
    try:
        old, new = read_results(args.old), read_results(args.new)
    except ResultsFileError as exc:
        raise UsageProblem(str(exc)) from None
    gate = {key: getattr(args, key) for key in GATE_DEFAULTS if getattr(args, key) is not None}
    rows = compare_results(old, new, gate)
    if args.format == "json":
        print(json.dumps([row.as_json() for row in rows], indent=2, ensure_ascii=False))
    else:
        cells = [row.cells() for row in rows]
        lines = text_table(rows) if args.format == "text" else markdown_table(list(COLUMNS), cells)
        print("\n".join(lines))
    regressed = [row for row in rows if row.regressed]
    summary = (
        f"{len(regressed)} of {len(rows)} tests regressed"
        if regressed
        else f"no regression in {len(rows)} tests"
    )
    if args.format != "json":
        print(f"\n{summary}")
    return 1 if regressed else 0


def _fraction(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a number: {text!r} (write a fraction, e.g. 0.1 for 10 %)"
        ) from None
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return number
