"""One finished run of a model on a brief, and the function that produces it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import monotonic
from typing import Any

from pytest_specbench.agent.loop import Limits, ToolSession, run_agent
from pytest_specbench.agent.stats import RunStats
from pytest_specbench.agent.tools import RunPaths
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.config.settings import BARE, BriefConfig, ModelConfig, RunSettings, ScaffoldConfig
from pytest_specbench.models.types import ModelClient
from pytest_specbench.scaffold.composite import scaffold_prompt
from pytest_specbench.tree import SpecTree, read_tree
from pytest_specbench.verdicts.checks import Check, Evidence, check_settings, run_checks
from pytest_specbench.verdicts.loops import loop_stop

__all__ = ["DEFAULT_SYSTEM_PROMPT", "RESULTS_VERSION", "SpecRun", "execute"]

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
            "stop_reason": self.transcript.stop.reason if self.transcript.stop else None,
            **stats_fields(self.stats),
        }


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
