"""A run's results.json record: the fields every record has, a sample's, and the spread of several.

Plain data only, so a record can travel through xdist and be written as JSON as it is.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from pytest_specbench._record import CheckRecord, FeatureRecord, PassFields, Record, Spread, StatsFields
from pytest_specbench.agent.stats import RunStats
from pytest_specbench.config.settings import BARE, BriefConfig, ModelConfig, ScaffoldConfig
from pytest_specbench.tree import Feature, SpecTree, feature_data
from pytest_specbench.verdicts.checks import Check
from pytest_specbench.verdicts.matching import first_match

__all__ = [
    "REGRESSION",
    "RESULTS_VERSION",
    "SAMPLED_METRICS",
    "base_record",
    "check_fields",
    "pass_fields",
    "spread",
    "stats_fields",
    "tree_fields",
]

RESULTS_VERSION = 1

REGRESSION = "no_regression"
"""The check the baseline gate adds; it judges a test, never one sample."""

SAMPLED_METRICS = (
    "features",
    "requirements",
    "feature_recall",
    "turns",
    "tool_calls",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost_usd",
    "seconds",
)
"""The record fields a run with repeats reports as mean, stdev, min and max over its samples."""


def base_record(
    test_id: str, model: ModelConfig, brief: BriefConfig, scaffold: ScaffoldConfig = BARE
) -> Record:
    """The fields every record has, whether or not the run happened (the same in every sample of a
    test, so `per_sample` leaves them out)."""
    return {
        "version": RESULTS_VERSION,
        "test_id": test_id,
        "model": model.id,
        "brief": brief.id,
        "scaffold": scaffold.id,
        "provider": str(model.provider),
        "model_name": model.model,
    }


def check_fields(check: Check) -> CheckRecord:
    """A check as a results.json record keeps it; `known` only when it is a known failure."""
    fields = CheckRecord(name=check.name, passed=check.passed, detail=check.detail)
    if check.known:
        fields["known"] = True
    return fields


def stats_fields(stats: RunStats) -> StatsFields:
    """RunStats as record fields."""
    return {
        "turns": stats.turns,
        "tool_calls": stats.tool_calls,
        "tool_errors": stats.tool_errors,
        "tool_errors_by_kind": dict(stats.tool_errors_by_kind),
        "input_tokens": stats.input_tokens,
        "output_tokens": stats.output_tokens,
        "seconds": stats.seconds,
        "retries": stats.retries,
        "max_identical_streak": stats.max_identical_streak,
        "scaffold_calls": stats.scaffold_calls,
        "truncated_turns": stats.truncated_turns,
        "cache_read_input_tokens": stats.cache_read_input_tokens,
        "cache_creation_input_tokens": stats.cache_creation_input_tokens,
        "reasoning_tokens": stats.reasoning_tokens,
        "reasoning_turns": stats.reasoning_turns,
    }


def spread(values: list[Any]) -> Spread | None:
    """Mean, (sample) standard deviation, min and max; None when a sample lacks the number."""
    if any(v is None for v in values):
        return None
    numbers = [float(v) for v in values]
    stdev = statistics.stdev(numbers) if len(numbers) > 1 else 0.0
    mean = statistics.fmean(numbers)
    return {"mean": round(mean, 4), "stdev": round(stdev, 4), "min": min(numbers), "max": max(numbers)}


def pass_fields(passes: int, samples: int, min_passes: int) -> PassFields:
    """How many samples passed, and tau-bench's pass^k for each k: the chance that k samples all pass."""
    hat = {str(k): round(math.comb(passes, k) / math.comb(samples, k), 4) for k in range(1, samples + 1)}
    return {
        "samples": samples,
        "passes": passes,
        "min_passes": min_passes,
        "pass_rate": round(passes / samples, 4),
        "pass_hat_k": hat,
    }


def tree_fields(tree: SpecTree, brief: BriefConfig) -> list[FeatureRecord]:
    """The top-level features as plain data, each with the brief's reference feature it covers (or None).

    The reference lets a report line up what two runs wrote for the same feature.
    """
    references = _references(tree.features, list(brief.extra.get("reference_features", ())))
    return [{**feature_data(f), "reference": references.get(f.id)} for f in tree.features]


def _references(features: tuple[Feature, ...], references: list[dict[str, Any]]) -> dict[str, str]:
    """Feature id -> reference name, each reference given to one feature at most.

    A title naming a reference beats a description naming it, and a feature whose title names
    fewer references chooses first, so "Search notes" takes `search` when "Notes" took `notes`.
    """

    def named(text: str) -> list[str]:
        return [r["name"] for r in references if first_match([r["name"], *r.get("aliases", ())], text)]

    titles = {f.id: named(f.title) for f in features}
    taken: dict[str, str] = {}
    for feature in sorted(features, key=lambda f: len(titles[f.id]) or len(references) + 1):
        free = [n for n in titles[feature.id] + named(feature.description) if n not in taken.values()]
        if free:
            taken[feature.id] = free[0]
    return taken
