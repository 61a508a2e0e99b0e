"""How many samples per side a comparison needs: the plan `specbench power` prints.

From the spread in one results file (pooled per metric over its tests with repeats, on the
gate's own scale: logs for counts, tokens and cost, points for recall), the samples per side
a one-sided two-sample t test at α needs to detect a `drop` (for tokens and cost: an
increase) of that size with 80 % power, by the noncentral t:

    metric        tests  spread     to detect       samples per side
    requirements  8      CV 12 %    a 10 % drop     18
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from pytest_specbench._record import Record
from pytest_specbench.verdicts.regression import ALPHA, METRICS, pooled_spread_counts
from pytest_specbench.verdicts.significance import POWER, margin
from pytest_specbench.verdicts.stats import MAX_SAMPLES, samples_per_side

__all__ = ["HEADER", "power_rows"]

HEADER = ["metric", "tests", "spread", "to detect", "samples per side"]


def power_rows(records: Iterable[Record], drop: float, alpha: float = ALPHA) -> list[list[str]]:
    """One row per metric of the gate: its pooled spread and the samples per side that would tell."""
    spreads = pooled_spread_counts(list(records))
    rows = []
    for metric in METRICS:
        found = spreads.get(metric.label)
        if found is None:
            rows.append(
                [
                    metric.label,
                    "0",
                    "-",
                    _effect(metric.relative, metric.worse, drop),
                    "no run with repeats has it",
                ]
            )
            continue
        sd, tests = found
        scale = "relative" if metric.relative else "points"
        needed = samples_per_side(sd, margin(scale, metric.worse, drop), alpha, POWER)
        spread = (
            f"CV {math.sqrt(math.expm1(sd * sd)) * 100:.0f} %"
            if metric.relative
            else f"SD {sd * 100:.0f} pts"
        )
        answer = str(needed) if needed is not None else f"more than {MAX_SAMPLES:,}"
        rows.append([metric.label, str(tests), spread, _effect(metric.relative, metric.worse, drop), answer])
    return rows


def _effect(relative: bool, worse: str, drop: float) -> str:
    return f"a {drop * 100:.0f} % {worse}" if relative else f"a {drop * 100:.0f}-point {worse}"
