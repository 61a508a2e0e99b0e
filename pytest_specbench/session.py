"""Per-process state of a pytest-specbench session, kept in `config.stash`.

It resolves the options once (CLI > ini > default, in `from_config`), loads the
config, builds the parametrization and carries a run from fixtures to a record.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_specbench.agent.tools import RunPaths, Transport
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.config import find_config, load_config
from pytest_specbench.config.settings import (
    BARE,
    BriefConfig,
    Config,
    ModelConfig,
    Provider,
    ScaffoldConfig,
    run_id,
)
from pytest_specbench.errors import ConfigError, InfrastructureError, MissingCredentials
from pytest_specbench.redact import RedactingClient, RedactingTools, Redactor
from pytest_specbench.run import SpecRun, base_record, execute

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from anyio.from_thread import BlockingPortal

    from pytest_specbench.agent.loop import ToolSession
    from pytest_specbench.models.llamacpp import LocalServers
    from pytest_specbench.models.types import ModelClient

__all__ = ["RECORD_KEY", "SESSION_KEY", "SpecbenchSession"]

RECORD_KEY = pytest.StashKey[dict[str, Any]]()


@dataclass(slots=True)
class SpecbenchSession:
    """Options, config and the run → record path for one pytest process (controller or worker)."""

    config_path: Path | None
    explicit_config: bool
    model_ids: tuple[str, ...]
    brief_ids: tuple[str, ...]
    strict: bool
    transport: Transport
    report_dir: Path | None
    local_dir: Path
    """Shared by every process of the session: where local model servers are recorded."""
    owner_pid: int | None = None
    """The controller's pid in a worker (local servers outlive the worker that started them)."""
    scaffold_ids: tuple[str, ...] = (BARE.id,)
    """`--scaffolds`: the third axis of the parametrization."""
    _config: Config | None = field(default=None, init=False)
    _local: LocalServers | None = field(default=None, init=False)
    _redactor: Redactor | None = field(default=None, init=False)

    @classmethod
    def from_config(cls, config: pytest.Config) -> SpecbenchSession:
        """Resolve the options: a CLI flag wins over its ini twin, which wins over the default."""
        rootdir = config.rootpath
        explicit = config.getoption("specbench_config")
        ini = config.getini("specbench_config") or None
        path = find_config(explicit, ini, rootdir, config.invocation_params.dir)
        report = config.getoption("specbench_report") or config.getini("specbench_report") or None
        worker: dict[str, Any] = getattr(config, "workerinput", {})
        return cls(
            config_path=path,
            explicit_config=bool(explicit or ini),
            model_ids=_split(config.getoption("specbench_models")),
            brief_ids=_split(config.getoption("specbench_briefs")),
            strict=bool(config.getoption("specbench_strict") or config.getini("specbench_strict")),
            transport=Transport(config.getoption("specbench_transport")),
            report_dir=(config.invocation_params.dir / report).resolve() if report else None,
            local_dir=Path(worker.get("specbench_local_dir") or tempfile.mkdtemp(prefix="specbench-local-")),
            owner_pid=int(worker["specbench_owner_pid"]) if "specbench_owner_pid" in worker else None,
            scaffold_ids=tuple(dict.fromkeys(_split(config.getoption("specbench_scaffolds")))) or (BARE.id,),
        )

    @property
    def config(self) -> Config:
        """The loaded config; raises ConfigError if there is none."""
        if self._config is None:
            if self.config_path is None or not self.config_path.exists():
                raise ConfigError(
                    str(self.config_path or "evals/specbench.toml"),
                    "",
                    "no specbench.toml found",
                    "create evals/specbench.toml under the rootdir or pass --specbench-config=PATH",
                )
            self._config = load_config(self.config_path)
            self._check_selection(self._config)
        return self._config

    @property
    def redactor(self) -> Redactor:
        """Scrubs the configured API keys and key-shaped text from whatever the session writes."""
        if self._redactor is None:
            present = self.config_path is not None and self.config_path.exists()
            self._redactor = Redactor.from_config(self.config if present else None)
        return self._redactor

    def redact(self, text: str) -> str:
        """`text` with every secret replaced by [REDACTED]."""
        return self.redactor(text)

    def load_if_present(self) -> None:
        """Load (and so validate) the config now, when there is one to load."""
        if self.explicit_config or (self.config_path is not None and self.config_path.exists()):
            _ = self.config

    def _check_selection(self, config: Config) -> None:
        for option, wanted, known in (
            ("--models", self.model_ids, config.models),
            ("--briefs", self.brief_ids, config.briefs),
            ("--scaffolds", self.scaffold_ids, config.scaffolds),
        ):
            unknown = [i for i in wanted if i not in known]
            if unknown:
                raise ConfigError(
                    str(config.path),
                    "",
                    f"{option} names unknown id(s) {', '.join(unknown)}",
                    f"known: {', '.join(known)}",
                )

    def pairs(self) -> list[Any]:
        """One `pytest.param(model, brief)` per selected pair, with its id and xfail mark."""
        return [_param(m, b) for m, b in self._selected_pairs()]

    def runs(self) -> list[Any]:
        """One `pytest.param(model, brief, scaffold)` per selected pair and scaffold."""
        scaffolds = [self.config.scaffolds[i] for i in self.scaffold_ids]
        return [_param(m, b, s) for m, b in self._selected_pairs() for s in scaffolds]

    def _selected_pairs(self) -> list[tuple[ModelConfig, BriefConfig]]:
        config = self.config
        models = [m for i, m in config.models.items() if not self.model_ids or i in self.model_ids]
        briefs = [b for i, b in config.briefs.items() if not self.brief_ids or i in self.brief_ids]
        return [(m, b) for m in models for b in briefs if not m.briefs or b.id in m.briefs]

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

    def prepare_model(self, model: ModelConfig) -> ModelConfig:
        """A llamacpp model pointed at its running server (started on first use); others as they are."""
        if model.provider is not Provider.LLAMACPP:
            return model
        from pytest_specbench.models.llamacpp import LocalServers, missing_extra

        reason = missing_extra(model)
        if reason:
            pytest.skip(reason)
        if self._local is None:
            log_dir = self.report_dir or self.local_dir
            self._local = LocalServers(self.local_dir, log_dir, owner_pid=self.owner_pid)
        return dataclasses.replace(model, base_url=self._local.base_url(model))

    def stop_local_servers(self) -> None:
        """Stop every local model server of the session (the controller's job, after the workers)."""
        from pytest_specbench.models.llamacpp import LocalServers

        servers = self._local or LocalServers(self.local_dir, self.report_dir or self.local_dir)
        servers.stop_all()
        shutil.rmtree(self.local_dir, ignore_errors=True)

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
        transcript = Transcript()
        settings = self.config.settings_for(model, brief)
        job = functools.partial(
            execute,
            RedactingClient(client, self.redactor),
            RedactingTools(tools, self.redactor),
            test_id=item.name,
            model=model,
            brief=brief,
            settings=settings,
            paths=paths,
            transcript=transcript,
            scaffold=scaffold,
            reminder=reminder,
        )
        pending = portal.start_task_soon(job)
        try:
            result = pending.result()
        except InfrastructureError as exc:
            message = self.redact(str(exc))
            item.stash[RECORD_KEY] = {**base_record(item.name, model, brief, scaffold), "error": message}
            self._save_transcript(item.name, transcript)
            raise type(exc)(message) from None  # one line, not the SDK's whole stack
        except BaseException:
            # Ctrl-C lands here, in the main thread, while the run goes on in the portal's:
            # cancel it, or the portal would wait at teardown for whatever it is stuck in.
            pending.cancel()
            raise
        item.stash[RECORD_KEY] = result.record()
        self._save_transcript(item.name, transcript)
        return result

    def _save_transcript(self, test_id: str, transcript: Transcript) -> None:
        if self.report_dir is None:
            return
        target = self.report_dir / "transcripts" / f"{test_id}.jsonl"
        target.parent.mkdir(parents=True, exist_ok=True)
        text = transcript.to_jsonl(redact=self.redactor, header={"test_id": test_id})
        target.write_text(text, encoding="utf-8", errors="backslashreplace")


SESSION_KEY = pytest.StashKey[SpecbenchSession]()


def _param(model: ModelConfig, brief: BriefConfig, scaffold: ScaffoldConfig | None = None) -> Any:
    reason = model.xfail or brief.xfail
    # raises=AssertionError: only a verdict is the expected failure; an infrastructure
    # fault of a known-bad model must still show as an ERROR.
    marks = [pytest.mark.xfail(reason=reason, strict=True, raises=AssertionError)] if reason else []
    values = (model, brief) if scaffold is None else (model, brief, scaffold)
    test_id = run_id(model.id, brief.id, (scaffold or BARE).id)
    return pytest.param(*values, id=test_id, marks=[pytest.mark.specbench, *marks])


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())
