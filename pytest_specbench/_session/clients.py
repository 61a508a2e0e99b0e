"""Model clients for the session's runs: keys, the local servers it starts, record and replay, redaction."""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_specbench._run.plan import RunPlan
from pytest_specbench.agent.tools import RunPaths
from pytest_specbench.config.settings import ModelConfig, Provider, RecordMode
from pytest_specbench.errors import MissingCredentials
from pytest_specbench.redact import RedactingClient, Redactor

if TYPE_CHECKING:
    from pytest_specbench.models.llamacpp import LocalServers
    from pytest_specbench.models.types import ModelClient

__all__ = ["Clients"]


@dataclass(slots=True)
class Clients:
    """Opens each sample's model client: live, recording, or replaying its cassette."""

    strict: bool
    """A missing API key is an error (`MissingCredentials`), not a skip."""
    local_dir: Path
    """Shared by every process of the session: where local model servers are recorded."""
    log_dir: Path
    owner_pid: int | None = None
    """The controller's pid in a worker (local servers outlive the worker that started them)."""
    _local: LocalServers | None = field(default=None, init=False)

    def api_key(self, model: ModelConfig) -> str | None:
        """The model's key from the environment; skip (or, under --specbench-strict, error) if missing."""
        variable = model.key_variable
        value = os.environ.get(variable) if variable else None
        if value or not model.key_required:
            return value or None
        assert variable is not None
        missing = MissingCredentials(model.id, variable)
        if self.strict:
            raise missing
        pytest.skip(str(missing))

    def prepare(self, model: ModelConfig) -> ModelConfig:
        """A llamacpp model pointed at its running server (started on first use); others as they are."""
        if model.provider is not Provider.LLAMACPP:
            return model
        from pytest_specbench.models.llamacpp import LocalServers, missing_extra

        reason = missing_extra(model)
        if reason:
            pytest.skip(reason)
        if self._local is None:
            self._local = LocalServers(self.local_dir, self.log_dir, owner_pid=self.owner_pid)
        return dataclasses.replace(model, base_url=self._local.base_url(model))

    def ready(self, plan: RunPlan) -> None:
        """Skip now (or error) if a live run of `plan` cannot start: no key, no local extra.

        Called before any sample opens, so a skip is one skip and not one per concurrent sample.
        """
        if plan.record_mode is not RecordMode.NONE:  # a replay needs neither
            self.api_key(plan.model)
            self.prepare(plan.model)

    def stop_local_servers(self) -> None:
        """Stop every local model server of the session (the controller's job, after the workers)."""
        from pytest_specbench.models.llamacpp import LocalServers

        servers = self._local or LocalServers(self.local_dir, self.log_dir)
        servers.stop_all()
        shutil.rmtree(self.local_dir, ignore_errors=True)

    def open(self, plan: RunPlan, sample: int, paths: RunPaths) -> AbstractAsyncContextManager[ModelClient]:
        """Sample `sample`'s client: live, recording, or replaying its cassette (`replay.cassette_path`).

        Its turns are redacted exactly once, here: a live client's as they arrive (so a recording
        keeps what the loop saw), a replay's when they were recorded (so they are not scanned again).
        Only a live or recording client reads the API key (skipping when it is unset), starts a
        local model server and connects; a replay does none of these. Call `replay.finish(client)`
        after a completed run: it writes the recording, or checks the replay used all of it.
        """
        from pytest_specbench import replay

        return replay.open_for_mode(
            plan.record_mode,
            replay.cassette_path(plan.cassette_dir, plan.test_id, sample),
            functools.partial(self._open_live, plan),
            test_id=plan.test_id,
            sample=sample,
            model=plan.model,
            settings=plan.settings,
            redact=plan.redactor,
            paths=dataclasses.asdict(paths),
            labels=plan.labels,
        )

    def _open_live(self, plan: RunPlan) -> AbstractAsyncContextManager[ModelClient]:
        from pytest_specbench.models import open_client

        api_key = self.api_key(plan.model)
        opened = open_client(self.prepare(plan.model), plan.settings, api_key, plan.context)
        return _redacting(opened, plan.redactor)


@asynccontextmanager
async def _redacting(
    opened: AbstractAsyncContextManager[ModelClient], redactor: Redactor
) -> AsyncIterator[ModelClient]:
    # Redacted as it arrives, so what a recording keeps is what the loop saw.
    async with opened as client:
        yield RedactingClient(client, redactor)
