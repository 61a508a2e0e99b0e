"""Repeats: the N samples of one run, concurrently in the worker, each with everything of its own.

A sample is what one run is without repeats: a model client (opened through
`SpecbenchSession.open_model`, the one home of client wrappers), an MCP server, the scaffold's
tools, a workspace and a transcript. At most `max_concurrency` samples run at a time, so a
provider's rate limit bounds them rather than `repeats`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from pytest_specbench import replay
from pytest_specbench.agent.tools import RunPaths, open_tool_session
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.config.settings import BriefConfig, ModelConfig, RunSettings, ScaffoldConfig
from pytest_specbench.errors import InfrastructureError
from pytest_specbench.redact import RedactingTools
from pytest_specbench._run.result import SpecRun, execute
from pytest_specbench.scaffold import open_scaffolded_tools

if TYPE_CHECKING:
    from pytest_specbench.models.types import ModelClient
    from pytest_specbench.scaffold import ScaffoldedTools
    from pytest_specbench._session.session import SpecbenchSession

__all__ = ["Sampler"]


@dataclass(slots=True)
class Sampler:
    """Runs the samples of one test and collects them in order."""

    session: SpecbenchSession
    test_id: str
    model: ModelConfig
    brief: BriefConfig
    scaffold: ScaffoldConfig
    settings: RunSettings
    directory: Path
    """Each sample's workspace is `directory/sample-<k>/workspace`."""
    save_transcript: Callable[[str, Transcript, int], None]
    """Writes sample k's transcript (`Runner.save_transcript`), also when the sample failed."""
    _done: dict[int, SpecRun] = field(default_factory=dict)
    _failure: InfrastructureError | None = None

    async def run_all(self) -> tuple[SpecRun, ...]:
        """Every sample, in sample order; the first infrastructure failure cancels the rest and is raised."""
        limiter = anyio.CapacityLimiter(self.settings.max_concurrency)
        async with anyio.create_task_group() as group:
            for number in range(1, self.settings.repeats + 1):
                group.start_soon(self._guarded, number, limiter, group.cancel_scope)
        if self._failure is not None:
            raise self._failure
        return tuple(self._done[n] for n in sorted(self._done))

    async def _guarded(self, number: int, limiter: anyio.CapacityLimiter, scope: anyio.CancelScope) -> None:
        async with limiter:
            try:
                self._done[number] = await self._sample(number)
            except* InfrastructureError as group:
                # Raised from here, it would reach the test wrapped in an ExceptionGroup.
                exc = _first(group)
                self._failure = self._failure or type(exc)(f"sample {number}: {exc}")
                scope.cancel()

    async def _sample(self, number: int) -> SpecRun:
        root = self.directory / f"sample-{number}"
        root.mkdir(parents=True)
        paths = RunPaths.create(self.brief, root)
        transcript = Transcript()
        started = time.time()
        failure: InfrastructureError | None = None
        try:
            async with AsyncExitStack() as stack:
                labels = {"brief": self.brief.id, "scaffold": self.scaffold.id}
                opened = self.session.open_model(
                    self.model, self.settings, self.test_id, number, paths=paths, labels=labels
                )
                client = await stack.enter_async_context(opened)
                tools = await self._tools(stack, paths)
                try:
                    run = await self._execute(client, tools, paths, transcript)
                    replay.finish(client)  # writes this sample's recording, or checks its replay ran out
                except InfrastructureError as exc:
                    failure = exc  # raised below, outside the servers' task groups, as itself
        finally:
            self.save_transcript(self.test_id, transcript, number)
        if failure is not None:
            raise failure
        return dataclasses.replace(run, started_at=started, ended_at=time.time())

    async def _execute(
        self, client: ModelClient, tools: ScaffoldedTools, paths: RunPaths, transcript: Transcript
    ) -> SpecRun:
        return await execute(
            client,  # redacted by `open_model`, which opened it
            RedactingTools(tools, self.session.redactor),
            test_id=self.test_id,
            model=self.model,
            brief=self.brief,
            settings=self.settings,
            paths=paths,
            transcript=transcript,
            scaffold=self.scaffold,
            reminder=tools.reminder,
        )

    async def _tools(self, stack: AsyncExitStack, paths: RunPaths) -> ScaffoldedTools:
        timeout_s, redact = self.settings.tool_timeout_s, self.session.redact
        server = open_tool_session(self.brief, paths, self.session.transport, timeout_s, redact=redact)
        spec = await stack.enter_async_context(server)
        scaffolded = open_scaffolded_tools(spec, self.scaffold, paths.workspace / "scaffold", timeout_s)
        return await stack.enter_async_context(scaffolded)


def _first(group: BaseExceptionGroup[InfrastructureError]) -> InfrastructureError:
    """The first infrastructure error in a (possibly nested) exception group."""
    leaf = group.exceptions[0]
    return _first(leaf) if isinstance(leaf, BaseExceptionGroup) else leaf
