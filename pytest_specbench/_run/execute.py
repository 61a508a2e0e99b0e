"""One sample from start to verdicts: the agent loop, the tree read back, the checks."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from time import monotonic

from pytest_specbench._run.plan import RunPlan
from pytest_specbench._run.result import Sample, Source
from pytest_specbench.agent.loop import Limits, ToolSession, run_agent
from pytest_specbench.agent.stats import RunStats
from pytest_specbench.agent.tools import RunPaths
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.errors import ServerError
from pytest_specbench.models.overflow import context_window
from pytest_specbench.models.types import ModelClient
from pytest_specbench.tree import read_tree
from pytest_specbench.verdicts.changes import DiskChanges, Snapshot, compare, snapshot
from pytest_specbench.verdicts.checks import Evidence, check_settings, run_checks
from pytest_specbench.verdicts.known import mark_known_failures
from pytest_specbench.verdicts.loops import loop_stop

__all__ = ["execute"]


async def execute(
    client: ModelClient,
    tools: ToolSession,
    plan: RunPlan,
    paths: RunPaths,
    transcript: Transcript,
    *,
    reminder: Callable[[], Awaitable[str]] | None = None,
    source: Source = "live",
) -> Sample:
    """Run the agent loop to its end, read the tree back and judge it.

    `tools` already holds the scaffold's tools; `reminder` (the scaffold's, when it reminds)
    follows every batch of results.

    Raises:
        InfrastructureError: the model or the server failed; `transcript` keeps what happened.
    """
    started, wall = monotonic(), time.time()
    settings, model, brief = plan.settings, plan.model, plan.brief
    before = _snapshots(paths) if brief.server is not None else None
    limits = Limits(
        max_turns=settings.max_turns,
        timeout_s=settings.timeout_s,
        max_tool_calls=settings.max_tool_calls,
        max_total_tokens=settings.max_total_tokens,
        max_cost_usd=settings.max_cost_usd,
        prices=model.prices,
        context_window=context_window(model),
    )
    await run_agent(
        client,
        tools,
        system=plan.system_prompt,
        prompt=brief.prompt,
        limits=limits,
        transcript=transcript,
        stop_when=loop_stop(settings.loop_threshold) if settings.stop_on_loop else None,
        reminder=reminder,
        context=plan.context,
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
    return Sample(
        plan.test_id,
        model,
        brief,
        paths,
        tree,
        transcript,
        stats,
        checks,
        plan.scaffold,
        source=source,
        started_at=wall,
        ended_at=time.time(),
        context=plan.context,
    )


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
