"""Per-process state of a pytest-specbench session, kept in `config.stash`: small objects, each built once.

`Options` (what the command line and ini file say), `Suite` (the config and its selection),
`Clients` (keys, local servers, record and replay) and `Baseline` (what the gate compares with);
`runner.py` carries an item's run from its plan to its record.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench._session.baseline import Baseline
from pytest_specbench._session.clients import Clients
from pytest_specbench._session.options import Options
from pytest_specbench._session.suite import Suite
from pytest_specbench.config import find_config
from pytest_specbench.config.load import check_option_paths

__all__ = ["SESSION_KEY", "SpecbenchSession"]


@dataclass(slots=True)
class SpecbenchSession:
    """What one pytest process (the controller or a worker) knows of the session."""

    options: Options
    suite: Suite
    clients: Clients
    local_dir: Path
    """Shared by every process of the session: local model servers, progress, the page's transcripts."""
    baseline: Baseline = field(default_factory=lambda: Baseline(None, {}))
    progress_dir: Path | None = None
    """Where this process reports live progress; set only when the controller draws it."""
    ran: bool = False
    """Whether this process ran a spec run (and so holds the SDKs' heap)."""

    @classmethod
    def from_config(cls, config: pytest.Config) -> SpecbenchSession:
        """Read the options and find the config (loaded on first use)."""
        options = Options.read(config)
        explicit = config.getoption("specbench_config")
        ini = config.getini("specbench_config") or None
        path = find_config(explicit, ini, config.rootpath, config.invocation_params.dir)
        worker: dict[str, Any] = getattr(config, "workerinput", {})
        local_dir = Path(worker.get("specbench_local_dir") or tempfile.mkdtemp(prefix="specbench-local-"))
        owner = int(worker["specbench_owner_pid"]) if "specbench_owner_pid" in worker else None
        progress = worker.get("specbench_progress_dir")
        return cls(
            options=options,
            suite=Suite(path, bool(explicit or ini), options),
            clients=Clients(options.strict, local_dir, options.report_dir or local_dir, owner_pid=owner),
            local_dir=local_dir,
            progress_dir=Path(progress) if progress else None,
        )

    def start(self) -> None:
        """Load (and so validate) the config and the baseline now, before any test is collected.

        Raises:
            ConfigError, ResultsFileError: what the user must fix, named.
        """
        check_option_paths(self.options.cassette_dir, self.options.html_path, self.options.report_dir)
        if self.suite.present:
            _ = self.suite.config
        self.baseline = Baseline.read(self.options.baseline_path)

    @property
    def transcript_dir(self) -> Path | None:
        """Where transcripts go: the report's, else (for the HTML page alone) the shared directory."""
        if self.options.report_dir is not None:
            return self.options.report_dir / "transcripts"
        return self.local_dir / "transcripts" if self.options.html_path is not None else None

    def show_progress(self, directory: Path) -> None:
        """The controller draws live progress: this process and its workers report to `directory`."""
        self.progress_dir = directory

    def redact(self, text: str) -> str:
        """`text` with every secret replaced by [REDACTED]."""
        return self.suite.redactor(text)


SESSION_KEY = pytest.StashKey[SpecbenchSession]()
