"""The run → record path: one test's run (or its samples) executed in the portal, gated
against the baseline, its record left on the item and its transcripts written.

`SpecbenchSession` resolves what a run needs (options, config, the model's client);
a `Runner` carries a run from there to what the report reads.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from pytest_specbench.agent.tools import RunPaths
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.config.settings import BARE, BriefConfig, ModelConfig, RecordMode, ScaffoldConfig
from pytest_specbench.errors import InfrastructureError
from pytest_specbench.redact import RedactingClient, RedactingTools
from pytest_specbench.report.progress import ProgressWriter
from pytest_specbench._run.result import SampledRun, SpecRun, base_record, execute
from pytest_specbench._session.samples import Sampler
from pytest_specbench.verdicts.known import unexpected_passes
from pytest_specbench.verdicts.regression import GATE_DEFAULTS, check_no_regression

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from anyio.from_thread import BlockingPortal

    from pytest_specbench.agent.loop import ToolSession
    from pytest_specbench.models.types import ModelClient
    from pytest_specbench._session.session import SpecbenchSession

__all__ = ["OPENED_KEY", "RECORD_KEY", "Runner"]

RECORD_KEY = pytest.StashKey[dict[str, Any]]()
"""The test's results.json record, left on the item for `pytest_runtest_makereport`."""
OPENED_KEY = pytest.StashKey["ModelClient"]()
"""The client the plugin's `model_client` fixture opened for the item (`open_model`): its turns
are redacted already, and it is the one whose recording is written, even when an override wraps it."""
_Run = TypeVar("_Run", SpecRun, SampledRun)


@dataclass(frozen=True, slots=True)
class Runner:
    """Runs one test with the session's settings and leaves its record and transcripts behind."""

    session: SpecbenchSession

    def run(
        self,
        item: pytest.Item,
        portal: BlockingPortal,
        client: ModelClient,
        tools: ToolSession,
        model: ModelConfig,
        brief: BriefConfig,
        paths: RunPaths,
        scaffold: ScaffoldConfig = BARE,
        reminder: Callable[[], Awaitable[str]] | None = None,
    ) -> SpecRun:
        """Execute one run and leave its record on the item, also when it errors."""
        __tracebackhide__ = True
        from pytest_specbench import replay

        session = self.session
        opened = item.stash.get(OPENED_KEY, None)
        # A client the plugin did not open (a user's own fixture, maybe wrapping the plugin's) is
        # redacted here; the plugin's is finished, so a wrapped recording is still written.
        own = client if client is opened else RedactingClient(client, session.redactor)
        opened = client if opened is None else opened
        transcript = Transcript()
        progress = ProgressWriter(session.progress_dir) if session.progress_dir is not None else None
        if progress is not None:
            transcript.listeners.append(progress.listener(item.name))
        settings = session.settings(model, brief)
        job = functools.partial(
            execute,
            own,
            RedactingTools(tools, session.redactor),
            test_id=item.name,
            model=model,
            brief=brief,
            settings=settings,
            paths=paths,
            transcript=transcript,
            scaffold=scaffold,
            reminder=reminder,
            configured_prompt=session.config.system_prompt_for(brief),
        )
        pending = portal.start_task_soon(job)
        try:
            result = pending.result()
            replay.finish(opened)
        except InfrastructureError as exc:
            message = session.redact(str(exc))
            record = base_record(item.name, model, brief, scaffold)
            item.stash[RECORD_KEY] = {**record, **replay.provenance(opened), "error": message}
            self.save_transcript(item.name, transcript)
            raise type(exc)(message) from None  # one line, not the SDK's whole stack
        except BaseException:
            # Ctrl-C lands here, in the main thread, while the run goes on in the portal's:
            # cancel it, or the portal would wait at teardown for whatever it is stuck in.
            pending.cancel()
            raise
        finally:
            if progress is not None:
                progress.finish(item.name)
        result, record = self.gated(item, result)
        item.stash[RECORD_KEY] = {**record, **replay.provenance(opened)}
        self.save_transcript(item.name, transcript)
        return result

    def run_samples(
        self,
        item: pytest.Item,
        portal: BlockingPortal,
        model: ModelConfig,
        brief: BriefConfig,
        scaffold: ScaffoldConfig,
        directory: Path,
    ) -> SampledRun:
        """Run `repeats` samples concurrently (`max_concurrency` at a time), each with its own
        client, server, workspace and transcript, and leave the test's record on the item."""
        __tracebackhide__ = True
        session = self.session
        settings = session.settings(model, brief)
        # A missing key or extra skips the test here, before any sample starts: raised inside
        # the samples' task group, the skip would reach pytest as an exception group, an error.
        if session.record_mode_for(model) is not RecordMode.NONE:  # a replay needs neither
            session.api_key(model)
            session.prepare_model(model)
        save = self.save_transcript
        sampler = Sampler(session, item.name, model, brief, scaffold, settings, directory, save)
        pending = portal.start_task_soon(sampler.run_all)
        try:
            samples = pending.result()
        except InfrastructureError as exc:
            message = session.redact(str(exc))
            item.stash[RECORD_KEY] = {**base_record(item.name, model, brief, scaffold), "error": message}
            raise type(exc)(message) from None
        except BaseException:
            pending.cancel()  # as in `run`: Ctrl-C must not leave the samples running
            raise
        result, item.stash[RECORD_KEY] = self.gated(item, SampledRun(samples, settings.passes_needed))
        return result

    def gated(self, item: pytest.Item, run: _Run) -> tuple[_Run, dict[str, Any]]:
        """The run with `no_regression` appended, and its record (with the gate it was held to)."""
        session = self.session
        gate = {**GATE_DEFAULTS, **session.config.gate_for(run.brief)}
        source = str(session.baseline_path) if session.baseline_path else None
        check = check_no_regression(run.record(), session.baseline_record(item), gate, source)
        judged = dataclasses.replace(run, checks=(*unexpected_passes(run.checks, run.model), check))
        return judged, {**judged.record(), "gate": gate}

    def save_transcript(self, test_id: str, transcript: Transcript, sample: int = 1) -> None:
        """Write a run's transcript; sample k ≥ 2 of a run with repeats goes to `<test_id>.sample-k.jsonl`."""
        directory = self.session.transcript_dir
        if directory is None:
            return
        name = test_id if sample == 1 else f"{test_id}.sample-{sample}"
        target = directory / f"{name}.jsonl"
        target.parent.mkdir(parents=True, exist_ok=True)
        text = transcript.to_jsonl(redact=self.session.redactor, header={"test_id": name})
        target.write_text(text, encoding="utf-8", errors="backslashreplace")
