"""Benchmark: redaction per character over the example codebase and a transcript-like JSON line.

CPU time (`time.process_time`), as the machine is shared. The baseline, in the same run,
is the pass as it was before the hints: every pattern over every text.

Run: python bench/bench_redact.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from pytest_specbench import redact
from pytest_specbench.redact import REDACTED, Redactor

CODEBASE = Path(__file__).resolve().parent.parent / "evals" / "codebases" / "todo-app"


def unhinted(redactor: Redactor, text: str) -> str:
    if redactor._known is not None:
        text = redactor._known.sub(REDACTED, text)
    text = redact._VENDOR.sub(REDACTED, text)
    text = redact._BEARER.sub(rf"\g<1>{REDACTED}", text)
    text = redact._ASSIGNED.sub(redact._assigned, text)
    text = redact._HEX.sub(redact._hex, text)
    return redact._BASE64.sub(redact._base64, text)


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
    assert all(redactor(t) == unhinted(redactor, t) for t in texts)
    now = ns_per_char(redactor, texts, args.rounds)
    before = ns_per_char(lambda t: unhinted(redactor, t), texts, args.rounds)
    print(
        f"redaction: {now:.0f} ns/char, unhinted pass {before:.0f} ns/char (x{before / now:.2f});"
        f" {sum(map(len, texts)):,} chars, median of {args.rounds}"
    )


if __name__ == "__main__":
    main()
