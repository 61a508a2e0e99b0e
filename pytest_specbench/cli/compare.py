"""`specbench compare OLD.json NEW.json`: per test, old → new, and the gate's verdict."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pytest_specbench._text import markdown_table
from pytest_specbench.cli import UsageProblem
from pytest_specbench.config.gate import TOLERANCES
from pytest_specbench.errors import ResultsFileError
from pytest_specbench.report.compare import COLUMNS, compare_results, failed, summary_line, text_table
from pytest_specbench.report.results import Results, read_results

FORMATS = ("text", "markdown", "json")


def add_parser(subparsers: Any) -> None:
    """Register `compare`."""
    parser = subparsers.add_parser(
        "compare",
        help="compare two results.json files test by test; exit 1 on a regression",
        description="Per test: outcome, features, requirements, recall, tokens, cost and seconds, old → new; "
        "checks newly failing or passing; and the gate's verdict, by the rules of no_regression "
        "(tolerances from each new record's gate, overridden by the options below): regressed, "
        "no regression, or inconclusive (the samples cannot tell; exit 0 unless --fail-on-inconclusive).",
    )
    parser.add_argument("old", type=Path, metavar="OLD.json", help="the accepted results (the baseline)")
    parser.add_argument("new", type=Path, metavar="NEW.json", help="the results to judge")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="do not fail when tests of OLD are not in NEW (a run that deselected them on purpose)",
    )
    for key in TOLERANCES:
        parser.add_argument(
            f"--{key.replace('_', '-')}", dest=key, type=_fraction, metavar="FRACTION", help=f"override {key}"
        )
    parser.add_argument(
        "--alpha", type=_alpha, metavar="LEVEL", help="override the one-sided level (default 0.05)"
    )
    parser.add_argument(
        "--fail-on-inconclusive",
        action="store_true",
        help="exit 1 also when the gate cannot tell a regression from noise for some test",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the comparison; 1 when a test regressed (or, with --fail-on-inconclusive, could not be told)."""
    try:
        old, new = read_results(args.old), read_results(args.new)
    except ResultsFileError as exc:
        raise UsageProblem(str(exc)) from None
    keys = [*TOLERANCES, "alpha"]
    gate = {key: getattr(args, key) for key in keys if getattr(args, key) is not None}
    rows = compare_results(old, new, gate)
    if args.format == "json":
        print(json.dumps([row.as_json() for row in rows], indent=2, ensure_ascii=False))
    else:
        cells = [row.cells() for row in rows]
        lines = text_table(rows) if args.format == "text" else markdown_table(list(COLUMNS), cells)
        print("\n".join(lines))
    if args.format != "json":
        print(f"\n{summary_line(rows)}")
    missing = [] if args.allow_missing else missing_tests(old, new)
    if missing:
        # Told on stderr too, so a JSON reader (whose stdout is the rows) still sees why it failed.
        print(missing_line(missing, len(old)), file=sys.stdout if args.format != "json" else sys.stderr)
    return 1 if failed(rows, fail_on_inconclusive=args.fail_on_inconclusive) or missing else 0


def missing_tests(old: Results, new: Results) -> list[str]:
    """The test ids of OLD that NEW does not have: a shard that ran nothing must not pass the gate."""
    return [str(record.get("test_id", key)) for key, record in old.items() if key not in new]


def missing_line(missing: list[str], baseline: int) -> str:
    """One line naming the baseline tests that did not run, and how to accept that."""
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    return (
        f"{len(missing)} of {baseline} baseline tests are not in the new results: {shown} "
        "— run them, or pass --allow-missing if they were left out on purpose"
    )


def _alpha(text: str) -> float:
    number = _fraction(text)
    if not 0 < number <= 0.5:
        raise argparse.ArgumentTypeError(f"must be greater than 0 and at most 0.5, got {text}")
    return number


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
