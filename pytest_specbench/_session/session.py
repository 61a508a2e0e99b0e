"""Per-process state of a pytest-specbench session, kept in `config.stash`.

It resolves the options once (CLI > ini > default, in `from_config`), loads the
config, builds the parametrization and opens the model's client; `runner.py` carries
a run from there to its record.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_specbench.agent.tools import RunPaths, Transport
from pytest_specbench.config import find_config, load_config
from pytest_specbench.config.load import check_min_passes
from pytest_specbench.config.settings import (
    BARE,
    BriefConfig,
    Config,
    ModelConfig,
    Provider,
    RecordMode,
    RunSettings,
    ScaffoldConfig,
    run_id,
)
from pytest_specbench.errors import ConfigError, MissingCredentials
from pytest_specbench.redact import RedactingClient, Redactor
from pytest_specbench.report.results import Results, read_results

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from pytest_specbench.models.llamacpp import LocalServers
    from pytest_specbench.models.types import ModelClient

__all__ = ["SESSION_KEY", "SpecbenchSession"]


@dataclass(slots=True)
class SpecbenchSession:
    """Options, config, selection and model clients for one pytest process (controller or worker)."""

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
    record_mode: RecordMode | None = None
    """`--specbench-record-mode`; None when the command line names none."""
    ini_record_mode: RecordMode | None = None
    """The ini option `specbench_record_mode`; None when unset."""
    cassette_dir: Path | None = None
    """`--specbench-cassettes` or its ini twin; None for `cassettes/` beside the config file."""
    html_path: Path | None = None
    """`--specbench-html`: the report page written at the end of the session."""
    progress_dir: Path | None = None
    """Where this process reports live progress; set only when the controller draws it."""
    baseline_path: Path | None = None
    """`--specbench-baseline`: an accepted results.json that `no_regression` compares with."""
    repeats: int | None = None
    """`--specbench-repeats`: samples per run, over the config's `repeats`."""
    _baseline: Results | None = field(default=None, init=False)
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
        baseline = config.getoption("specbench_baseline") or config.getini("specbench_baseline") or None
        worker: dict[str, Any] = getattr(config, "workerinput", {})
        html = config.getoption("specbench_html") or config.getini("specbench_html") or None
        progress = worker.get("specbench_progress_dir")
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
            record_mode=_record_mode(config.getoption("specbench_record_mode"), "--specbench-record-mode"),
            ini_record_mode=_record_mode(config.getini("specbench_record_mode"), "ini specbench_record_mode"),
            cassette_dir=_cassette_dir(config),
            html_path=(config.invocation_params.dir / html).resolve() if html else None,
            progress_dir=Path(progress) if progress else None,
            baseline_path=(config.invocation_params.dir / baseline).resolve() if baseline else None,
            repeats=config.getoption("specbench_repeats"),
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
            _check_shared_servers(self._selected_runs(), self._config.path)
            check_min_passes(self._config, self.repeats)
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

    def show_progress(self, directory: Path) -> None:
        """The controller draws live progress: this process and its workers report to `directory`."""
        self.progress_dir = directory

    def load_if_present(self) -> None:
        """Load (and so validate) the config now, when there is one to load."""
        if self.explicit_config or (self.config_path is not None and self.config_path.exists()):
            _ = self.config

    def baseline_models(self) -> dict[str, str]:
        """Model id → its `baseline_model`, for the paired comparison on the controller."""
        present = self.config_path is not None and self.config_path.exists()
        models = self.config.models.values() if present else ()
        return {m.id: m.baseline_model for m in models if m.baseline_model}

    def load_baseline(self) -> None:
        """Read the baseline now, so a missing or unreadable one stops the session before any run."""
        if self.baseline_path is not None and self._baseline is None:
            self._baseline = read_results(self.baseline_path)

    def baseline_record(self, item: pytest.Item) -> dict[str, Any] | None:
        """This test's record in the baseline, by node id, else by test id."""
        records = self._baseline or {}
        found = records.get(item.nodeid)
        return found or next((r for r in records.values() if r.get("test_id") == item.name), None)

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
        return [_param(*run) for run in self._selected_runs()]

    def _selected_runs(self) -> list[tuple[ModelConfig, BriefConfig, ScaffoldConfig]]:
        scaffolds = [self.config.scaffolds[i] for i in self.scaffold_ids]
        return [(m, b, s) for m, b in self._selected_pairs() for s in scaffolds]

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

    def record_mode_for(self, model: ModelConfig) -> RecordMode:
        """The command line wins over the model's table, which wins over the ini option (as
        pytest-recording puts its option over a marker): one place decides."""
        return self.record_mode or model.record_mode or self.ini_record_mode or RecordMode.OFF

    def open_model(
        self,
        model: ModelConfig,
        settings: RunSettings,
        test_id: str,
        sample: int = 1,
        *,
        paths: RunPaths | None = None,
        labels: dict[str, str] | None = None,
    ) -> AbstractAsyncContextManager[ModelClient]:
        """The model's client for one run (one sample): live, recording, or replaying its cassette.

        Its turns are redacted exactly once, here: a live client's as they arrive (so a recording
        keeps what the loop saw), a replay's when they were recorded (so they are not scanned again).
        Only a live or recording client reads the API key (skipping when it is unset), starts a
        local model server and connects; a replay does none of these. Call `replay.finish(client)`
        after a completed run: it writes the recording, or checks the replay used all of it.

        Args:
            test_id: the test's id, which names the cassette (`replay.cassette_path`).
            sample: 1, or k ≥ 2 for the k-th repeat of the test, which has a cassette of its own.
            paths: the run's paths, replaced by placeholders in the cassette so a replay elsewhere matches.
            labels: `brief` and `scaffold` ids for the cassette's header.
        """
        from pytest_specbench import replay

        mode = self.record_mode_for(model)
        directory = self.cassette_dir or (self.config.path.parent / "cassettes")
        where = None if paths is None else dataclasses.asdict(paths)
        return replay.open_for_mode(
            mode,
            replay.cassette_path(directory, test_id, sample),
            functools.partial(self._open_live, model, settings),
            test_id=test_id,
            sample=sample,
            model=model,
            settings=settings,
            redact=self.redact,
            paths=where,
            labels=labels,
        )

    def _open_live(
        self, model: ModelConfig, settings: RunSettings
    ) -> AbstractAsyncContextManager[ModelClient]:
        from pytest_specbench.models import open_client

        api_key = self.api_key(model)
        return _redacting(open_client(self.prepare_model(model), settings, api_key), self.redactor)

    @property
    def transcript_dir(self) -> Path | None:
        """Where transcripts go: the report's, else (for the HTML page alone) the shared directory."""
        if self.report_dir is not None:
            return self.report_dir / "transcripts"
        return self.local_dir / "transcripts" if self.html_path is not None else None

    def settings(self, model: ModelConfig, brief: BriefConfig) -> RunSettings:
        """The run's settings, with `--specbench-repeats` over the config's `repeats`."""
        settings = self.config.settings_for(model, brief)
        return dataclasses.replace(settings, repeats=self.repeats) if self.repeats else settings


SESSION_KEY = pytest.StashKey[SpecbenchSession]()


def _param(model: ModelConfig, brief: BriefConfig, scaffold: ScaffoldConfig | None = None) -> Any:
    reason = model.xfail or brief.xfail
    # raises=AssertionError: only a verdict is the expected failure; an infrastructure
    # fault of a known-bad model must still show as an ERROR.
    marks = [pytest.mark.xfail(reason=reason, strict=True, raises=AssertionError)] if reason else []
    values = (model, brief) if scaffold is None else (model, brief, scaffold)
    test_id = run_id(model.id, brief.id, (scaffold or BARE).id)
    return pytest.param(*values, id=test_id, marks=[pytest.mark.specbench, *marks])


def _record_mode(value: str | None, where: str) -> RecordMode | None:
    if not value:
        return None
    try:
        return RecordMode(value)
    except ValueError:
        valid = ", ".join(mode.value for mode in RecordMode)
        raise pytest.UsageError(f"{where}: unknown record mode {value!r}; valid: {valid}") from None


def _cassette_dir(config: pytest.Config) -> Path | None:
    """`--specbench-cassettes` is relative to where pytest started; the ini twin to the rootdir."""
    if option := config.getoption("specbench_cassettes"):
        return (config.invocation_params.dir / str(option)).resolve()
    if ini := config.getini("specbench_cassettes"):
        return (config.rootpath / str(ini)).resolve()
    return None


@asynccontextmanager
async def _redacting(
    opened: AbstractAsyncContextManager[ModelClient], redactor: Redactor
) -> AsyncIterator[ModelClient]:
    # Redacted as it arrives, so what a recording keeps is what the loop saw.
    async with opened as client:
        yield RedactingClient(client, redactor)


def _check_shared_servers(runs: list[tuple[ModelConfig, BriefConfig, ScaffoldConfig]], path: Path) -> None:
    """Refuse two runs on a URL server that cannot tell them apart: the second would find the first's tree."""
    users: dict[str, list[str]] = {}
    for model, brief, scaffold in runs:
        if brief.server is not None and brief.server.url is not None and brief.server.shared:
            users.setdefault(brief.server.url, []).append(run_id(model.id, brief.id, scaffold.id))
    for url, ids in users.items():
        if len(ids) > 1:
            brief_id = next(b.id for _, b, _ in runs if b.server is not None and b.server.url == url)
            raise ConfigError(
                str(path),
                f"briefs.{brief_id}.server",
                f"url {url} is shared by {len(ids)} runs ({', '.join(ids)}): each would find the trees "
                "and ids of the runs before it",
                "put a per-run placeholder in the URL so your server can give each run its own tree, "
                f'e.g. url = "{url}?workspace={{workspace}}", or select one run with --models/--briefs',
            )


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())
