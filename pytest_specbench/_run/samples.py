"""The one way a sample runs, and N of them concurrently: a single run is one sample.

A sample is a model client, an MCP server with the scaffold's tools, a workspace and a
transcript, all its own. Where the client and the tools come from is the harness's
business (`Harness`): the plugin hands sample 1 the objects of its fixtures, so a test sees
the very client and server of its run, and opens those of sample k ≥ 2 itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass

import anyio
import anyio.lowlevel

from pytest_specbench import replay
from pytest_specbench._run.execute import execute
from pytest_specbench._run.plan import RunPlan
from pytest_specbench._run.result import Sample
from pytest_specbench.agent.tools import RunPaths
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.errors import InfrastructureError
from pytest_specbench.models.types import ModelClient
from pytest_specbench.redact import RedactingTools
from pytest_specbench.scaffold import ScaffoldedTools

__all__ = ["Harness", "Opened", "run_sample", "run_samples"]


@dataclass(frozen=True, slots=True)
class Opened:
    """A sample's model client as the loop talks to it, and the client the plugin opened under it."""

    client: ModelClient
    """Redacted: the plugin's own client, or a user's wrapped in redaction."""
    inner: ModelClient
    """The plugin's client (recording, replaying or live): finished after the run, its source recorded."""


def _unwatched(number: int, transcript: Transcript) -> None:
    """No live progress to report."""


@dataclass(frozen=True, slots=True)
class Harness:
    """What the session around a run gives each sample `number`."""

    open_client: Callable[[int, RunPaths], AbstractAsyncContextManager[Opened]]
    open_tools: Callable[[int, RunPaths], AbstractAsyncContextManager[ScaffoldedTools]]
    paths: Callable[[int], RunPaths]
    """The sample's workspace, specs directory and copy of the codebase."""
    save_transcript: Callable[[int, Transcript], None]
    """Called once the sample ended, however it ended."""
    watch: Callable[[int, Transcript], None] = _unwatched
    """Called before the sample starts, to follow its transcript (live progress)."""


async def run_sample(plan: RunPlan, number: int, harness: Harness) -> Sample:
    """Run sample `number` of `plan` to its verdicts.

    Raises:
        InfrastructureError: the model, the server or the cassette failed; its transcript is saved.
    """
    paths = harness.paths(number)
    transcript = Transcript()
    harness.watch(number, transcript)
    failure: InfrastructureError | None = None
    try:
        async with AsyncExitStack() as stack:
            opened = await stack.enter_async_context(harness.open_client(number, paths))
            tools = await stack.enter_async_context(harness.open_tools(number, paths))
            redacted = RedactingTools(tools, plan.redactor)
            try:
                sample = await execute(
                    opened.client, redacted, plan, paths, transcript, reminder=tools.reminder
                )
                replay.finish(opened.inner)  # writes the recording, or checks the replay ran out
            except InfrastructureError as exc:
                failure = exc  # raised below, outside the servers' task groups, as itself
    finally:
        harness.save_transcript(number, transcript)
    if failure is not None:
        raise failure
    origin = replay.provenance(opened.inner)
    return dataclasses.replace(sample, source=origin["source"], recorded_seconds=origin["recorded_seconds"])


async def run_samples(plan: RunPlan, harness: Harness) -> tuple[Sample, ...]:
    """Every sample of `plan` in sample order, at most `max_concurrency` at a time.

    The first infrastructure failure cancels the others and is raised as itself, naming its sample.
    """
    if plan.samples == 1:
        return (await run_sample(plan, 1, harness),)
    done: dict[int, Sample] = {}
    failures: list[InfrastructureError] = []
    numbers = iter(range(1, plan.samples + 1))

    async def worker(scope: anyio.CancelScope) -> None:
        # max_concurrency workers take the next sample in turn: no task waits per sample up front.
        for number in numbers:
            # A sample can fail before its first await (its codebase copy, a missing cassette):
            # without this checkpoint a cancelled worker would go on and start every later one.
            await anyio.lowlevel.checkpoint()
            try:
                done[number] = await run_sample(plan, number, harness)
            except* InfrastructureError as group:
                # Raised from here, it would reach the test wrapped in an ExceptionGroup.
                exc = _first(group)
                failures.append(type(exc)(f"sample {number}: {exc}"))
                scope.cancel()

    async with anyio.create_task_group() as group:
        for _ in range(min(plan.settings.max_concurrency, plan.samples)):
            group.start_soon(worker, group.cancel_scope)
    if failures:
        raise failures[0]
    return tuple(done[n] for n in sorted(done))


def _first(group: BaseExceptionGroup[InfrastructureError]) -> InfrastructureError:
    """The first infrastructure error in a (possibly nested) exception group."""
    leaf = group.exceptions[0]
    return _first(leaf) if isinstance(leaf, BaseExceptionGroup) else leaf
