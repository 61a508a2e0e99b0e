"""The run → record path: an item's plan run in the portal, sample by sample, gated against the
baseline, its record left on the item and its transcripts written.

Sample 1 runs on the objects of the item's fixtures (`model_client`, `specbench_tools`,
`specbench_paths`), so a test that requests them sees the very objects of its run; samples
k ≥ 2 of a run with repeats open their own through `specbench_client_factory` and the brief's
server. Both go through `run_samples`, the one way a sample runs.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from pytest_specbench import replay
from pytest_specbench._files import file_name
from pytest_specbench._record import Record
from pytest_specbench._run.plan import RunPlan
from pytest_specbench._run.record import base_record
from pytest_specbench._run.result import SpecRun
from pytest_specbench._run.samples import Harness, Opened, run_samples
from pytest_specbench._session.session import SESSION_KEY, SpecbenchSession
from pytest_specbench.agent.tools import RunPaths, open_tool_session
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.errors import InfrastructureError
from pytest_specbench.redact import RedactingClient
from pytest_specbench.report.progress import ProgressWriter
from pytest_specbench.scaffold import ScaffoldedTools, open_scaffolded_tools
from pytest_specbench.verdicts.known import unexpected_passes
from pytest_specbench.verdicts.regression import judge

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal

    from pytest_specbench.models.types import ModelClient

__all__ = ["FIXTURE_KEY", "OPENED_KEY", "RECORD_KEY", "ClientFactory", "PluginClients", "Runner", "remember"]

ClientFactory = Callable[[int, RunPaths], AbstractAsyncContextManager["ModelClient"]]
"""`specbench_client_factory`: sample k's model client, opened for that sample's paths."""

RECORD_KEY = pytest.StashKey[Record]()
"""The test's results.json record, left on the item for `pytest_runtest_makereport`."""
OPENED_KEY = pytest.StashKey[dict[int, "ModelClient"]]()
"""Sample → the client the plugin opened for it (`Clients.open`): its turns are redacted already,
and it is the one whose recording is written, even when a user's factory or fixture wraps it."""
FIXTURE_KEY = pytest.StashKey[dict[str, Any]]()
"""Fixture name → the value the plugin's own fixture gave: anything else is a user's override."""


@dataclass(frozen=True, slots=True)
class PluginClients:
    """The plugin's `specbench_client_factory`: each sample's client from the session, kept on the item."""

    session: SpecbenchSession
    plan: RunPlan
    item: pytest.Item

    def __call__(self, sample: int, paths: RunPaths) -> AbstractAsyncContextManager[ModelClient]:
        """Sample `sample`'s client (live, recording or replaying), remembered as the plugin's own."""
        return self._opened(sample, paths)

    @asynccontextmanager
    async def _opened(self, sample: int, paths: RunPaths) -> AsyncIterator[ModelClient]:
        async with self.session.clients.open(self.plan, sample, paths) as client:
            self.item.stash.setdefault(OPENED_KEY, {})[sample] = client
            yield client


@dataclass(frozen=True, slots=True)
class Runner:
    """Runs one item's plan and leaves its record and transcripts behind."""

    session: SpecbenchSession

    def run(self, request: pytest.FixtureRequest, plan: RunPlan, portal: BlockingPortal) -> SpecRun:
        """Run every sample of `plan` and leave the test's record on the item, also when it errors."""
        __tracebackhide__ = True
        item = request.node
        self.session.ran = True
        first_client = request.getfixturevalue("model_client")
        first_tools = request.getfixturevalue("specbench_tools")
        first_paths: RunPaths = request.getfixturevalue("specbench_paths")
        if plan.samples > 1:
            _refuse_overrides(item, plan, model_client=first_client, specbench_tools=first_tools)
            self.session.clients.ready(plan)
        factory: ClientFactory = request.getfixturevalue("specbench_client_factory")
        first = _opened(item, 1, first_client)
        harness = Harness(
            open_client=lambda k, paths: (
                nullcontext(first) if k == 1 else self._client(item, k, paths, factory)
            ),
            open_tools=lambda k, paths: nullcontext(first_tools) if k == 1 else self._tools(plan, paths),
            paths=lambda k: first_paths if k == 1 else plan.paths(k),
            save_transcript=functools.partial(self.save_transcript, plan.test_id),
            watch=self._watcher(plan),
        )
        pending = portal.start_task_soon(run_samples, plan, harness)
        try:
            samples = pending.result()
        except InfrastructureError as exc:
            message = self.session.redact(str(exc))
            record = base_record(plan.test_id, plan.model, plan.brief, plan.scaffold)
            item.stash[RECORD_KEY] = {**record, **replay.provenance(first.inner), "error": message}
            raise type(exc)(message) from None  # one line, not the SDK's whole stack
        except BaseException:
            # Ctrl-C lands here, in the main thread, while the run goes on in the portal's:
            # cancel it, or the portal would wait at teardown for whatever it is stuck in.
            pending.cancel()
            raise
        finally:
            if self.session.progress_dir is not None:
                ProgressWriter(self.session.progress_dir).finish(plan.test_id)
        result, item.stash[RECORD_KEY] = self.gated(plan, SpecRun(samples, plan.settings.passes_needed))
        return result

    def gated(self, plan: RunPlan, run: SpecRun) -> tuple[SpecRun, Record]:
        """The run with `no_regression` appended, and its record (with the gate it was held to)."""
        session = self.session
        gate = session.suite.gate_for(plan.brief)
        baseline = session.baseline
        source = str(baseline.path) if baseline.path else None
        result = judge(run.record(), baseline.record_for(plan.nodeid, plan.test_id), gate, source)
        judged = run.judged(result.check(), known=unexpected_passes(run.checks, run.model))
        return judged, {**judged.record(), "gate": gate.fields(), **result.fields()}

    def save_transcript(self, test_id: str, sample: int, transcript: Transcript) -> None:
        """A sample's transcript; sample k ≥ 2 goes to `<test_id>.sample-k.jsonl` (clipped if long)."""
        directory = self.session.transcript_dir
        if directory is None:
            return
        name = test_id if sample == 1 else f"{test_id}.sample-{sample}"
        target = directory / file_name(name, ".jsonl")
        target.parent.mkdir(parents=True, exist_ok=True)
        text = transcript.to_jsonl(redact=self.session.suite.redactor, header={"test_id": name})
        target.write_text(text, encoding="utf-8", errors="backslashreplace")

    @asynccontextmanager
    async def _client(
        self, item: pytest.Item, sample: int, paths: RunPaths, factory: ClientFactory
    ) -> AsyncIterator[Opened]:
        async with factory(sample, paths) as client:
            yield _opened(item, sample, client)

    @asynccontextmanager
    async def _tools(self, plan: RunPlan, paths: RunPaths) -> AsyncIterator[ScaffoldedTools]:
        timeout_s = plan.settings.tool_timeout_s
        server = open_tool_session(plan.brief, paths, plan.transport, timeout_s, redact=plan.redactor)
        async with server as spec:
            directory = paths.workspace / "scaffold"
            async with open_scaffolded_tools(spec, plan.scaffold, directory, timeout_s) as tools:
                yield tools

    def _watcher(self, plan: RunPlan) -> Callable[[int, Transcript], None]:
        directory = self.session.progress_dir
        if directory is None:
            return lambda sample, transcript: None
        writer = ProgressWriter(directory)

        def watch(sample: int, transcript: Transcript) -> None:
            transcript.listeners.append(writer.listener(plan.test_id, sample=plan.label(sample)))

        return watch


def remember(item: pytest.Item, name: str, value: Any) -> Any:
    """Keep what the plugin's fixture `name` gave, so an override can be told from it; return it."""
    item.stash.setdefault(FIXTURE_KEY, {})[name] = value
    return value


def _opened(item: pytest.Item, sample: int, client: ModelClient) -> Opened:
    """The loop's client for `sample`: the plugin's own as it is, anything else wrapped in redaction."""
    own = item.stash.get(OPENED_KEY, {}).get(sample)
    if client is own:
        return Opened(client, client)
    # A client the plugin did not open (a user's own, maybe wrapping the plugin's) is redacted
    # here; the plugin's, underneath, is finished, so a wrapped recording is still written.
    redactor = item.config.stash[SESSION_KEY].suite.redactor
    return Opened(RedactingClient(client, redactor), own if own is not None else client)


def _refuse_overrides(item: pytest.Item, plan: RunPlan, **values: Any) -> None:
    """With repeats, a fixture's one object cannot serve N samples: name the override and the way out."""
    ours = item.stash.get(FIXTURE_KEY, {})
    for name, value in values.items():
        if name in ours and ours[name] is value:
            continue
        way_out = (
            "override `specbench_client_factory` instead: it is called once per sample, "
            "`(sample, paths) -> async context manager of a ModelClient`"
            if name == "model_client"
            else "run it without repeats, or leave the fixture to the plugin, which opens one per sample"
        )
        pytest.fail(
            f"{plan.test_id}: `{name}` is overridden, and this test runs {plan.samples} samples "
            f"(repeats), each of which needs its own — {way_out}",
            pytrace=False,
        )
