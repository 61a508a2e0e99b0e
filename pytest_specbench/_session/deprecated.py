"""Old spellings that still work for one release, each with a warning naming the new one.

The aliases of the selection options are added only where the name is free: a suite that
defines its own `--models` keeps it, and ours is then reachable under its prefixed name only.
"""

from __future__ import annotations

import argparse
import warnings

import pytest

from pytest_specbench.errors import SpecbenchDeprecationWarning

__all__ = ["FIXTURE_ALIASES", "OPTION_ALIASES", "add_option_aliases", "apply_option_aliases", "warn_fixture"]

OPTION_ALIASES = {
    "--models": ("--specbench-models", "specbench_models"),
    "--briefs": ("--specbench-briefs", "specbench_briefs"),
    "--scaffolds": ("--specbench-scaffolds", "specbench_scaffolds"),
}
"""Old option → its new name and dest."""

FIXTURE_ALIASES = {"model": "specbench_model", "brief": "specbench_brief", "scaffold": "specbench_scaffold"}
"""Old fixture → its new name."""

SILENCE = "-W ignore::pytest_specbench.SpecbenchDeprecationWarning"


def _dest(old: str) -> str:
    return "specbench_deprecated_" + old.lstrip("-")


def add_option_aliases(parser: pytest.Parser) -> None:
    """Add `--models`, `--briefs`, `--scaffolds` where no other plugin or conftest took the name."""
    group = parser.getgroup("specbench")
    for old, (new, _) in OPTION_ALIASES.items():
        try:
            group.addoption(old, dest=_dest(old), default=None, metavar="IDS", help=f"Deprecated: use {new}.")
        except (ValueError, argparse.ArgumentError):  # the name is taken: the suite's own option
            continue


def apply_option_aliases(config: pytest.Config) -> None:
    """Move an old option's value to its new name, with one deprecation warning per option used."""
    for old, (new, dest) in OPTION_ALIASES.items():
        value = getattr(config.option, _dest(old), None)
        if value is None:
            continue
        if not hasattr(config, "workerinput"):  # the controller warns once for the session
            config.issue_config_time_warning(
                SpecbenchDeprecationWarning(f"{old} is deprecated: use {new} (to silence: {SILENCE})"),
                stacklevel=2,
            )
        if not getattr(config.option, dest, None):
            setattr(config.option, dest, value)


def warn_fixture(old: str) -> None:
    """The test asked for an old fixture name: say which new one to ask for."""
    new = FIXTURE_ALIASES[old]
    warnings.warn(
        SpecbenchDeprecationWarning(
            f"the fixture `{old}` of pytest-specbench is deprecated: request `{new}` "
            f"(a fixture of your own named `{old}` is never touched; to silence: {SILENCE})"
        ),
        stacklevel=3,
    )
