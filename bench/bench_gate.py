"""Simulation: how often the gate calls "regressed" when nothing changed, and how often it sees a real drop.

Both sides are N samples of requirement counts from the same log-normal (rounded to whole
counts, as a model writes them) with a given coefficient of variation, judged by
`pytest_specbench.verdicts.regression.judge` as the plugin judges a test with repeats
(default tolerance δ = 10 %, α = 0.05). Seeded (`random.Random(seed)`), so the table is the
same on every run; the gate itself draws no random number.

Columns: `regressed` — the gate's false alarms; `p ≤ α` — the one-sided Welch test alone
(δ = 0), the rate the gate is bounded by; `old rule` — the gate before this change (the mean
dropped by more than the tolerance); `inconclusive` and `no regression` — the other verdicts.
With `--drop`, the new side's median is that much lower and the rates are power.

Run: python bench/bench_gate.py [--reps 20000] [--cv 0.12] [--drop 0]
"""

from __future__ import annotations

import argparse
import math
import random
from collections import Counter
from typing import Any

from pytest_specbench.config.gate import GateTolerances
from pytest_specbench.verdicts.regression import judge

MEDIAN = 170.0


def record(values: list[int]) -> dict[str, Any]:
    return {"per_sample": [{"requirements": v, "checks": []} for v in values], "checks": []}


def draw(rng: random.Random, n: int, cv: float, median: float) -> list[int]:
    sigma = math.sqrt(math.log1p(cv * cv))
    return [max(0, round(math.exp(rng.gauss(math.log(median), sigma)))) for _ in range(n)]


def simulate(n: int, reps: int, cv: float, drop: float = 0.0, seed: int = 2411) -> dict[str, float]:
    """Shares of `reps` comparisons of n v n samples by outcome (see the module docstring)."""
    rng = random.Random(f"{seed}-{n}-{cv}-{drop}")
    counts: Counter[str] = Counter()
    for _ in range(reps):
        old, new = draw(rng, n, cv, MEDIAN), draw(rng, n, cv, MEDIAN * (1 - drop))
        result = judge(record(new), record(old), GateTolerances(), "sim")
        counts[str(result.verdict)] += 1
        (metric,) = result.judgments
        counts["p ≤ α"] += metric.p is not None and metric.p <= 0.05
        counts["old rule"] += (sum(old) - sum(new)) / sum(old) > 0.10 + 1e-9
    return {
        key: counts[key] / reps for key in ("regressed", "p ≤ α", "old rule", "inconclusive", "no regression")
    }


def table(reps: int, cv: float, drop: float) -> list[str]:
    header = ["N", "regressed", "p ≤ α", "old rule", "inconclusive", "no regression"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for n in (3, 5, 10):
        shares = simulate(n, reps, cv, drop)
        lines.append(f"| {n} | " + " | ".join(f"{shares[key] * 100:.2f} %" for key in header[1:]) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20000)
    parser.add_argument("--cv", type=float, default=0.12)
    parser.add_argument("--drop", type=float, default=0.0)
    args = parser.parse_args()
    print(f"{args.reps} comparisons per row, CV {args.cv:.0%}, true drop {args.drop:.0%}, δ = 10 %, α = 0.05")
    print("\n".join(table(args.reps, args.cv, args.drop)))


if __name__ == "__main__":
    main()
