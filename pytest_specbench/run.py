"""One finished run of a model on a brief, and the function that produces it."""

from __future__ import annotations

import math
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import monotonic
from typing import Any

from pytest_specbench.agent.loop import Limits, ToolSession, run_agent
from pytest_specbench.agent.stats import RunStats
from pytest_specbench.agent.tools import RunPaths
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.config.settings import (
    BARE,
    BriefConfig,
    ModelConfig,
    RunSettings,
    ScaffoldConfig,
    cost_usd,
)
from pytest_specbench.models.types import ModelClient
from pytest_specbench.scaffold.composite import scaffold_prompt
from pytest_specbench.tree import SpecTree, read_tree
from pytest_specbench.verdicts.checks import Check, Evidence, check_settings, feature_recall, run_checks
from pytest_specbench.verdicts.loops import loop_stop

__all__ = ["DEFAULT_SYSTEM_PROMPT", "RESULTS_VERSION", "SampledRun", "SpecRun", "execute"]

RESULTS_VERSION = 1

DEFAULT_SYSTEM_PROMPT = """\
You are a senior product analyst writing a specification for an existing codebase.
Read the code with the tools list_files, read_file and search_code. Write the specification \
with create_feature (top-level features, and child features with parent_id) and \
create_requirement (each with concrete, testable acceptance criteria). Use get_spec_tree to \
review what you have written, and update_item or delete_item to fix it. Specify only what the \
code does or clearly intends; do not invent features it does not have.
When the specification is complete, stop calling tools and reply with a short summary of \
what you wrote."""


@dataclass(frozen=True, slots=True)
class SpecRun:
    """The outcome of one model × brief run: the tree it wrote, how it got there, the verdicts."""

    test_id: str
    model: ModelConfig
    brief: BriefConfig
    paths: RunPaths
    tree: SpecTree
    """The spec tree as read back from disk."""
    transcript: Transcript
    stats: RunStats
    checks: tuple[Check, ...]
    scaffold: ScaffoldConfig = BARE
    """What the harness gave the model besides the spec server's tools."""
    started_at: float | None = None
    """Wall-clock start and end (epoch seconds) of a sample of a run with repeats."""
    ended_at: float | None = None

    @property
    def cost_usd(self) -> float | None:
        """What the run's tokens cost at the model's prices; None when it has none."""
        return cost_usd(self.model.prices, self.stats.input_tokens, self.stats.output_tokens)

    @property
    def failed_checks(self) -> tuple[Check, ...]:
        """The checks that did not pass, in report order."""
        return tuple(c for c in self.checks if not c.passed)

    def verify(self) -> None:
        """Raise one AssertionError that lists every failed check with its numbers."""
        __tracebackhide__ = True
        failed = self.failed_checks
        if failed:
            lines = "\n".join(f"  {check}" for check in failed)
            head = f"{self.model.id} on {self.brief.id}: {len(failed)} of {len(self.checks)} checks failed"
            raise AssertionError(f"{head}\n{lines}")

    def record(self) -> dict[str, Any]:
        """The run's fields of a results.json record (plain data, safe to send through xdist)."""
        return {
            **base_record(self.test_id, self.model, self.brief, self.scaffold),
            "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in self.checks],
            "features": self.tree.feature_count,
            "total_features": self.tree.total_feature_count,
            "requirements": self.tree.requirement_count,
            "feature_recall": feature_recall(self.tree, self.brief),
            "total_tokens": self.stats.input_tokens + self.stats.output_tokens,
            "stop_reason": self.transcript.stop.reason if self.transcript.stop else None,
            **stats_fields(self.stats),
            "cost_usd": self.cost_usd,
            **pass_fields(int(self.passed), 1, 1),
            **({"started_at": self.started_at, "ended_at": self.ended_at} if self.started_at else {}),
        }

    @property
    def passed(self) -> bool:
        """Every check of the run itself passed (the baseline gate judges a test, not a sample)."""
        return all(c.passed for c in self.checks if c.name != REGRESSION)


@dataclass(frozen=True, slots=True)
class SampledRun:
    """N samples of one model × brief × scaffold (`repeats`), passing when `min_passes` pass every check.

    `tree`, `transcript`, `stats` and `paths` are the first sample's, so a snapshot of
    `tree` stays the same under replay; `checks` sum up the samples, one line per check.
    """

    samples: tuple[SpecRun, ...]
    min_passes: int
    checks: tuple[Check, ...] = ()

    def __post_init__(self) -> None:
        if not self.checks:
            object.__setattr__(self, "checks", _summed_checks(self.samples, self.min_passes))

    @property
    def first(self) -> SpecRun:
        return self.samples[0]

    @property
    def test_id(self) -> str:
        return self.first.test_id

    @property
    def model(self) -> ModelConfig:
        return self.first.model

    @property
    def brief(self) -> BriefConfig:
        return self.first.brief

    @property
    def scaffold(self) -> ScaffoldConfig:
        return self.first.scaffold

    @property
    def paths(self) -> RunPaths:
        return self.first.paths

    @property
    def tree(self) -> SpecTree:
        """The first sample's tree: the one snapshotted, the same under replay."""
        return self.first.tree

    @property
    def transcript(self) -> Transcript:
        return self.first.transcript

    @property
    def stats(self) -> RunStats:
        return self.first.stats

    @property
    def passes(self) -> int:
        """Samples that passed every check."""
        return sum(sample.passed for sample in self.samples)

    @property
    def failed_checks(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def verify(self) -> None:
        """Raise one AssertionError unless `min_passes` samples pass, listing each failing sample's checks."""
        __tracebackhide__ = True
        gate = [c for c in self.checks if c.name == REGRESSION and not c.passed]
        if self.passes >= self.min_passes and not gate:
            return
        head = (
            f"{self.model.id} on {self.brief.id}: {self.passes} of {len(self.samples)} samples passed "
            f"every check, {self.min_passes} needed"
        )
        lines = [f"  {check}" for check in gate]
        for number, sample in enumerate(self.samples, 1):
            failed = [c for c in sample.failed_checks if c.name != REGRESSION]
            lines += [f"  sample {number}: {'; '.join(str(c) for c in failed)}"] if failed else []
        raise AssertionError("\n".join([head, *lines]))

    def record(self) -> dict[str, Any]:
        """The record of the test: means over the samples, their spread, and each sample's own fields."""
        records = [sample.record() for sample in self.samples]
        metrics = {name: spread([r[name] for r in records]) for name in SAMPLED_METRICS}
        return {
            **records[0],
            **{name: m["mean"] if m else None for name, m in metrics.items()},
            "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in self.checks],
            **pass_fields(self.passes, len(self.samples), self.min_passes),
            "metrics": metrics,
            "per_sample": [{k: v for k, v in r.items() if k not in _BASE} for r in records],
        }


REGRESSION = "no_regression"
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
_BASE = frozenset({"version", "test_id", "model", "brief", "scaffold", "provider", "model_name"})


def spread(values: list[Any]) -> dict[str, float] | None:
    """Mean, (sample) standard deviation, min and max; None when a sample lacks the number."""
    if any(v is None for v in values):
        return None
    numbers = [float(v) for v in values]
    stdev = statistics.stdev(numbers) if len(numbers) > 1 else 0.0
    mean = statistics.fmean(numbers)
    return {"mean": round(mean, 4), "stdev": round(stdev, 4), "min": min(numbers), "max": max(numbers)}


def pass_fields(passes: int, samples: int, min_passes: int) -> dict[str, Any]:
    """How many samples passed, and tau-bench's pass^k for each k: the chance that k samples all pass."""
    hat = {str(k): round(math.comb(passes, k) / math.comb(samples, k), 4) for k in range(1, samples + 1)}
    return {
        "samples": samples,
        "passes": passes,
        "min_passes": min_passes,
        "pass_rate": round(passes / samples, 4),
        "pass_hat_k": hat,
    }


def _summed_checks(samples: tuple[SpecRun, ...], min_passes: int) -> tuple[Check, ...]:
    """Each check over the samples: passed when `min_passes` samples pass it; the failing samples named."""
    summed = []
    for index, check in enumerate(samples[0].checks):
        results = [sample.checks[index] for sample in samples]
        failing = [f"sample {n}: {c.detail}" for n, c in enumerate(results, 1) if not c.passed]
        passed = len(results) - len(failing)
        detail = "; ".join([f"{passed}/{len(results)} samples pass", *failing])
        summed.append(Check(check.name, passed >= min_passes, detail))
    return tuple(summed)


def base_record(
    test_id: str, model: ModelConfig, brief: BriefConfig, scaffold: ScaffoldConfig = BARE
) -> dict[str, Any]:
    """The fields every record has, whether or not the run happened."""
    return {
        "version": RESULTS_VERSION,
        "test_id": test_id,
        "model": model.id,
        "brief": brief.id,
        "scaffold": scaffold.id,
        "provider": str(model.provider),
        "model_name": model.model,
    }


def stats_fields(stats: RunStats) -> dict[str, Any]:
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
    }


async def execute(
    client: ModelClient,
    tools: ToolSession,
    *,
    test_id: str,
    model: ModelConfig,
    brief: BriefConfig,
    settings: RunSettings,
    paths: RunPaths,
    transcript: Transcript,
    scaffold: ScaffoldConfig = BARE,
    reminder: Callable[[], Awaitable[str]] | None = None,
) -> SpecRun:
    """Run the agent loop to its end, read the tree back and judge it.

    `tools` already holds the scaffold's tools; `scaffold` adds its paragraph to the
    system prompt, and `reminder` (the scaffold's, when it reminds) follows every batch of results.

    Raises:
        InfrastructureError: the model or the server failed; `transcript` keeps what happened.
    """
    started = monotonic()
    limits = Limits(
        max_turns=settings.max_turns,
        timeout_s=settings.timeout_s,
        max_tool_calls=settings.max_tool_calls,
        max_total_tokens=settings.max_total_tokens,
        max_cost_usd=settings.max_cost_usd,
        prices=model.prices,
    )
    system = "\n\n".join(part for part in (DEFAULT_SYSTEM_PROMPT, scaffold_prompt(scaffold)) if part)
    await run_agent(
        client,
        tools,
        system=system,
        prompt=brief.prompt,
        limits=limits,
        transcript=transcript,
        stop_when=loop_stop(settings.loop_threshold) if settings.stop_on_loop else None,
        reminder=reminder,
    )
    stats = RunStats.from_transcript(transcript, monotonic() - started)
    tree = read_tree(paths.specs_dir)
    evidence = Evidence(
        transcript,
        tree,
        brief,
        paths.workspace,
        paths.specs_dir,
        check_settings(settings, brief, max_tokens=model.max_tokens),
    )
    return SpecRun(test_id, model, brief, paths, tree, transcript, stats, run_checks(evidence), scaffold)
