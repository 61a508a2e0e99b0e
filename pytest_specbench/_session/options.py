"""The plugin's options, read once per process: the command line over the ini file over the default.

One place decides the precedence (`_value`) and one resolves a path (`_path`): a value from the
command line is relative to the directory pytest was started in, a value from the ini file to
the rootdir, as pytest resolves its own options.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench.agent.tools import Transport
from pytest_specbench.config.keys import absolute
from pytest_specbench.config.settings import BARE, FULL_CONTEXT, RecordMode

__all__ = ["Options", "split_ids"]


@dataclass(frozen=True, slots=True)
class Options:
    """Every option of pytest-specbench as this process sees it."""

    model_ids: tuple[str, ...]
    """`--specbench-models`: the models to run; empty for all."""
    brief_ids: tuple[str, ...]
    scaffold_ids: tuple[str, ...]
    """`--specbench-scaffolds`: the third axis of the parametrization (`bare` unless set)."""
    context_ids: tuple[str, ...]
    """`--specbench-contexts`: the context strategies, a fourth axis (`full` unless set)."""
    strict: bool
    """A model whose key is missing is an error, not a skip."""
    strict_snapshots: bool
    """A live run's tree must match its snapshot exactly, as a replay's must."""
    transport: Transport
    report_dir: Path | None
    html_path: Path | None
    baseline_path: Path | None
    cassette_dir: Path | None
    """None for `cassettes/` beside the config file."""
    record_mode: RecordMode | None
    """`--specbench-record-mode`; None when the command line names none."""
    ini_record_mode: RecordMode | None
    """The ini option `specbench_record_mode`; None when unset (a model's table sits between the two)."""
    repeats: int | None
    """`--specbench-repeats`: samples per run, over the config's `repeats`."""

    @classmethod
    def read(cls, config: pytest.Config) -> Options:
        """The options of this pytest process, resolved and checked."""
        return cls(
            model_ids=split_ids(config.getoption("specbench_models")),
            brief_ids=split_ids(config.getoption("specbench_briefs")),
            scaffold_ids=_unique(split_ids(config.getoption("specbench_scaffolds"))) or (BARE.id,),
            context_ids=_unique(split_ids(config.getoption("specbench_contexts"))) or (FULL_CONTEXT.id,),
            strict=bool(_value(config, "specbench_strict", "specbench_strict")),
            strict_snapshots=bool(_value(config, "specbench_strict_snapshots", "specbench_strict_snapshots")),
            transport=Transport(config.getoption("specbench_transport")),
            report_dir=_path(config, "specbench_report", "specbench_report"),
            html_path=_path(config, "specbench_html", "specbench_html"),
            baseline_path=_path(config, "specbench_baseline", "specbench_baseline"),
            cassette_dir=_path(config, "specbench_cassettes", "specbench_cassettes"),
            record_mode=_record_mode(config.getoption("specbench_record_mode"), "--specbench-record-mode"),
            ini_record_mode=_record_mode(config.getini("specbench_record_mode"), "ini specbench_record_mode"),
            repeats=config.getoption("specbench_repeats"),
        )


def _value(config: pytest.Config, dest: str, ini: str) -> Any:
    """The command line's value, else the ini file's, else None (the only place that says so)."""
    return config.getoption(dest) or config.getini(ini) or None


def _path(config: pytest.Config, dest: str, ini: str) -> Path | None:
    """A path option: the command line's relative to the invocation dir, the ini's to the rootdir."""
    if option := config.getoption(dest):
        return absolute(config.invocation_params.dir / str(option))
    if value := config.getini(ini):
        return absolute(config.rootpath / str(value))
    return None


def _record_mode(value: str | None, where: str) -> RecordMode | None:
    if not value:
        return None
    try:
        return RecordMode(value)
    except ValueError:
        valid = ", ".join(mode.value for mode in RecordMode)
        raise pytest.UsageError(f"{where}: unknown record mode {value!r}; valid: {valid}") from None


def _unique(ids: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids))


def split_ids(value: str | None) -> tuple[str, ...]:
    """`a, b,c` → `("a", "b", "c")`."""
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())
