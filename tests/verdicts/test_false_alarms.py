"""A seeded simulation (bench/bench_gate.py): with no change, `regressed` comes at most at rate α."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_gate.py"
REPS = 1500


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_gate", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("n", [3, 5, 10])
def test_no_change_is_called_regressed_at_most_at_rate_alpha(n: int) -> None:
    shares = bench().simulate(n, REPS, cv=0.12)

    # The one-sided Welch test alone holds its level (within 2 standard errors of α at this
    # many repetitions), and the gate, which also needs the estimate beyond δ, stays under it.
    assert shares["p ≤ α"] <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / REPS)
    assert shares["regressed"] <= 0.05
    assert shares["regressed"] + shares["inconclusive"] + shares["no regression"] == pytest.approx(1.0)


def test_a_real_20_percent_drop_is_seen_more_often_with_more_samples() -> None:
    module = bench()

    power = [module.simulate(n, 300, cv=0.12, drop=0.2)["regressed"] for n in (3, 10)]

    assert power[0] < power[1] and power[1] > 0.8
