"""Benchmark: redaction per character over the example codebase and a transcript-like JSON line.

CPU time (`time.process_time`), as the machine is shared. The baseline, in the same run,
is the pass as it was before the hints: every pattern over every text (the hints patched to
match anything; the outputs are the same, which tests/test_redact.py checks).

Run: python bench/bench_redact.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pytest_specbench import redact
from pytest_specbench.redact import Redactor

CODEBASE = Path(__file__).resolve().parent.parent / "evals" / "codebases" / "todo-app"


@contextmanager
def unhinted() -> Iterator[None]:
    """Every pattern over every text: hints that match anything, no exit for short strings."""
    names = ("_VENDOR_HINT", "_BEARER_HINT", "_ASSIGNED_HINT", "_SHORTEST_SHAPE")
    saved = {name: getattr(redact, name) for name in names}
    for name in names[:-1]:
        setattr(redact, name, re.compile(""))
    redact._SHORTEST_SHAPE = 0
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(redact, name, value)


def ns_per_char(fn: Callable[[str], str], texts: list[str], rounds: int) -> float:
    chars = sum(map(len, texts))
    samples = []
    for _ in range(rounds):
        started = time.process_time()
        for text in texts:
            fn(text)
        samples.append((time.process_time() - started) / chars * 1e9)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    texts = [p.read_text(encoding="utf-8") for p in sorted(CODEBASE.rglob("*.py"))]
    texts.append(json.dumps({"kind": "tool_call", "result": "\n".join(texts)}, ensure_ascii=False))
    redactor = Redactor(["bench-secret-value-0123456789"])
    now = ns_per_char(redactor, texts, args.rounds)
    with unhinted():
        before = ns_per_char(redactor, texts, args.rounds)
    print(
        f"redaction: {now:.0f} ns/char, unhinted pass {before:.0f} ns/char (x{before / now:.2f});"
        f" {sum(map(len, texts)):,} chars, median of {args.rounds}"
    )


if __name__ == "__main__":
    main()
