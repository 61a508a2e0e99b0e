"""A model's `known_failures`: checks it is known to fail, reported but not counted.

Two steps, at two depths. Each run (each sample of a run with repeats) marks a listed check
that failed as known (`mark_known_failures`). The test then holds the list to account once
(`unexpected_passes`), as pytest's `xfail_strict` does: a listed check that passed — for a run
with repeats, in `min_passes` of its samples — fails the test, so the list is trimmed the day
the model improves instead of hiding a check forever.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from pytest_specbench.config.settings import ModelConfig
from pytest_specbench.verdicts.checks import Check

__all__ = ["mark_known_failures", "unexpected_passes"]


def mark_known_failures(checks: Iterable[Check], model: ModelConfig) -> tuple[Check, ...]:
    """`checks` with each failure the model lists marked known."""
    listed = model.known_failures
    return tuple(
        dataclasses.replace(c, known=True) if c.name in listed and not c.passed else c for c in checks
    )


def unexpected_passes(checks: Iterable[Check], model: ModelConfig) -> tuple[Check, ...]:
    """`checks` with each listed check that passed, having judged something, failed and told to go."""
    return tuple(_unexpected(check, model) if _passed_listed(check, model) else check for check in checks)


def _passed_listed(check: Check, model: ModelConfig) -> bool:
    return check.name in model.known_failures and check.passed and check.applies


def _unexpected(check: Check, model: ModelConfig) -> Check:
    fix = f"remove it from models.{model.id}.known_failures"
    return Check(check.name, False, f"{check.detail} — passed, but is listed as a known failure: {fix}")
