"""`specbench power RESULTS.json [--drop 0.1]`: the samples per side a comparison would need."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pytest_specbench._text import align, markdown_table
from pytest_specbench.cli import UsageProblem
from pytest_specbench.errors import ResultsFileError
from pytest_specbench.report.power import HEADER, power_rows
from pytest_specbench.report.results import read_results


def add_parser(subparsers: Any) -> None:
    """Register `power`."""
    parser = subparsers.add_parser(
        "power",
        help="how many samples per side would detect a drop, from the spread in a results.json",
        description="Per metric of the gate: the spread pooled over the file's tests with repeats, and the "
        "samples per side a one-sided two-sample t test (noncentral t, 80 % power) needs to detect "
        "the drop (for tokens and cost: the increase). Set repeats to it before you compare.",
    )
    parser.add_argument("results", type=Path, metavar="RESULTS.json", help="a run with repeats = 2 or more")
    parser.add_argument(
        "--drop", type=_drop, default=0.1, metavar="FRACTION", help="the change to detect (0.1)"
    )
    parser.add_argument("--alpha", type=_alpha, default=0.05, metavar="LEVEL", help="one-sided level (0.05)")
    parser.add_argument("--format", choices=("text", "markdown"), default="text", help="output format")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the plan; 0."""
    try:
        records = read_results(args.results)
    except ResultsFileError as exc:
        raise UsageProblem(str(exc)) from None
    rows = power_rows(records.values(), args.drop, args.alpha)
    lines = align([HEADER, *rows]) if args.format == "text" else markdown_table(HEADER, rows)
    print("\n".join(lines))
    print(f"\none-sided α = {args.alpha:g}, 80 % power, noncentral t; spread pooled over {args.results}")
    return 0


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a number: {text!r} (write a fraction, e.g. 0.1 for 10 %)"
        ) from None


def _drop(text: str) -> float:
    number = _number(text)
    if not 0 < number < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text} (0.1 is a 10 % drop)")
    return number


def _alpha(text: str) -> float:
    number = _number(text)
    if not 0 < number <= 0.5:
        raise argparse.ArgumentTypeError(f"must be greater than 0 and at most 0.5, got {text}")
    return number
