"""One finished run of a model on a brief, and the function that produces it."""

from __future__ import annotations

import math
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
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
from pytest_specbench.errors import ServerError
from pytest_specbench.models.types import ModelClient
from pytest_specbench.scaffold.composite import scaffold_prompt
from pytest_specbench.tree import Feature, SpecTree, feature_data, read_tree
from pytest_specbench.verdicts.changes import DiskChanges, Snapshot, compare, snapshot
from pytest_specbench.verdicts.checks import Check, Evidence, check_settings, feature_recall, run_checks
from pytest_specbench.verdicts.known import mark_known_failures
from pytest_specbench.verdicts.loops import loop_stop
from pytest_specbench.verdicts.matching import first_match

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "NEUTRAL_SYSTEM_PROMPT",
    "RESULTS_VERSION",
    "SampledRun",
    "SpecRun",
    "check_fields",
    "execute",
    "failed_checks",
    "system_prompt",
]

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
"""The system prompt of a run on the reference server, unless the config sets one."""

NEUTRAL_SYSTEM_PROMPT = """\
You are a senior product analyst writing a specification for an existing codebase.
Use the tools you are given to read the code and to write the specification as the brief asks. \
Specify only what the code does or clearly intends; do not invent features it does not have.
When the specification is complete, stop calling tools and reply with a short summary of \
what you wrote."""
"""The system prompt of a run on an external server, unless the config sets one: it names no tool."""


def system_prompt(brief: BriefConfig, configured: str | None = None, scaffold: ScaffoldConfig = BARE) -> str:
    """The configured prompt, else the built-in one for the brief's server; then the scaffold's paragraph."""
    base = configured or (DEFAULT_SYSTEM_PROMPT if brief.server is None else NEUTRAL_SYSTEM_PROMPT)
    return "\n\n".join(part for part in (base, scaffold_prompt(scaffold)) if part)


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
        """The checks that did not pass, in report order, except the model's known failures."""
        return failed_checks(self.checks)

    @property
    def known_failures(self) -> tuple[Check, ...]:
        """The checks that failed as the model's `known_failures` says they would."""
        return tuple(c for c in self.checks if c.known)

    def verify(self) -> None:
        """Raise one AssertionError that lists every failed check with its numbers."""
        __tracebackhide__ = True
        failed = self.failed_checks
        if failed:
            lines = [f"  {check}" for check in failed]
            lines += [f"  {check} (a known failure, not counted)" for check in self.known_failures]
            head = f"{self.model.id} on {self.brief.id}: {len(failed)} of {len(self.checks)} checks failed"
            raise AssertionError("\n".join([head, *lines]))

    def record(self) -> dict[str, Any]:
        """The run's fields of a results.json record (plain data, safe to send through xdist)."""
        return {
            **base_record(self.test_id, self.model, self.brief, self.scaffold),
            "checks": [check_fields(c) for c in self.checks],
            "features": self.tree.feature_count,
            "total_features": self.tree.total_feature_count,
            "requirements": self.tree.requirement_count,
            "feature_recall": feature_recall(self.tree, self.brief),
            "total_tokens": self.stats.input_tokens + self.stats.output_tokens,
            "stop_reason": self.transcript.stop.reason if self.transcript.stop else None,
            **stats_fields(self.stats),
            "tree": tree_fields(self.tree, self.brief),
            "cost_usd": self.cost_usd,
            **pass_fields(int(self.passed), 1, 1),
            **({"started_at": self.started_at, "ended_at": self.ended_at} if self.started_at else {}),
        }

    @property
    def passed(self) -> bool:
        """Every check of the run itself passed (the baseline gate judges a test, not a sample)."""
        return all(c.passed or c.known for c in self.checks if c.name != REGRESSION)


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
        return failed_checks(self.checks)

    def verify(self) -> None:
        """Raise one AssertionError unless `min_passes` samples pass, listing each failing sample's checks."""
        __tracebackhide__ = True
        # Judged on the test, not per sample: the baseline gate and a known failure that passed.
        judged_here = {REGRESSION, *self.model.known_failures}
        gate = [c for c in failed_checks(self.checks) if c.name in judged_here]
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
        lines += [f"  {check} (a known failure, not counted)" for check in self.checks if check.known]
        raise AssertionError("\n".join([head, *lines]))

    def record(self) -> dict[str, Any]:
        """The record of the test: means over the samples, their spread, and each sample's own fields."""
        records = [sample.record() for sample in self.samples]
        metrics = {name: spread([r[name] for r in records]) for name in SAMPLED_METRICS}
        return {
            **records[0],
            **{name: m["mean"] if m else None for name, m in metrics.items()},
            "checks": [check_fields(c) for c in self.checks],
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
        known = passed < min_passes and all(c.known for c in results if not c.passed)
        applies = any(c.applies for c in results)
        summed.append(Check(check.name, passed >= min_passes, detail, known=known, applies=applies))
    return tuple(summed)


def failed_checks(checks: tuple[Check, ...]) -> tuple[Check, ...]:
    """The checks that did not pass, in report order, except known failures."""
    return tuple(c for c in checks if not c.passed and not c.known)


def check_fields(check: Check) -> dict[str, Any]:
    """A check as a results.json record keeps it; `known` only when it is a known failure."""
    fields = {"name": check.name, "passed": check.passed, "detail": check.detail}
    return {**fields, "known": True} if check.known else fields


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


def tree_fields(tree: SpecTree, brief: BriefConfig) -> list[dict[str, Any]]:
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
        "cache_read_input_tokens": stats.cache_read_input_tokens,
        "cache_creation_input_tokens": stats.cache_creation_input_tokens,
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
    configured_prompt: str | None = None,
) -> SpecRun:
    """Run the agent loop to its end, read the tree back and judge it.

    `tools` already holds the scaffold's tools; `scaffold` adds its paragraph to the
    system prompt, and `reminder` (the scaffold's, when it reminds) follows every batch of results.
    `configured_prompt` is the config's system prompt, None for the built-in (`system_prompt`).

    Raises:
        InfrastructureError: the model or the server failed; `transcript` keeps what happened.
    """
    started = monotonic()
    before = _snapshots(paths) if brief.server is not None else None
    limits = Limits(
        max_turns=settings.max_turns,
        timeout_s=settings.timeout_s,
        max_tool_calls=settings.max_tool_calls,
        max_total_tokens=settings.max_total_tokens,
        max_cost_usd=settings.max_cost_usd,
        prices=model.prices,
    )
    await run_agent(
        client,
        tools,
        system=system_prompt(brief, configured_prompt, scaffold),
        prompt=brief.prompt,
        limits=limits,
        transcript=transcript,
        stop_when=loop_stop(settings.loop_threshold) if settings.stop_on_loop else None,
        reminder=reminder,
    )
    changes = _changes(before, paths) if before is not None else None
    stats = RunStats.from_transcript(transcript, monotonic() - started)
    tree = read_tree(paths.specs_dir)
    evidence = Evidence(
        transcript,
        tree,
        brief,
        paths.workspace,
        paths.specs_dir,
        check_settings(settings, brief, max_tokens=model.max_tokens),
        codebase=paths.codebase,
        changes=changes,
    )
    checks = mark_known_failures(run_checks(evidence), model)
    return SpecRun(test_id, model, brief, paths, tree, transcript, stats, checks, scaffold)


def _snapshots(paths: RunPaths) -> tuple[Snapshot, Snapshot]:
    """The specs directory, and the rest of the run's directories, before the model acts."""
    return snapshot(paths.specs_dir), snapshot(paths.workspace.parent, _harness(paths))


def _harness(paths: RunPaths) -> list[Path]:
    """What the harness itself writes beside the specs: the server's log, the scaffold's state."""
    return [paths.specs_dir, paths.server_log, paths.workspace / "scaffold"]


def _changes(before: tuple[Snapshot, Snapshot], paths: RunPaths) -> DiskChanges:
    """What changed under specs_dir; a server that wrote only elsewhere is misconfigured (not the model)."""
    inside, outside = before
    changes = compare(inside, snapshot(paths.specs_dir))
    elsewhere = compare(outside, snapshot(paths.workspace.parent, _harness(paths)))
    if elsewhere and not changes:
        shown = ", ".join(elsewhere.paths[:3]) + (" ..." if len(elsewhere.paths) > 3 else "")
        raise ServerError(
            f"MCP server wrote outside specs_dir ({elsewhere.summary()}: {shown}, "
            f"under {paths.workspace.parent}) and nothing under it ({paths.specs_dir}) — set "
            "server.specs_dir to where the server writes the tree, or start the server on {specs_dir}"
        )
    return changes
