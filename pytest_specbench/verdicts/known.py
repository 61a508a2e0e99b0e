"""A model's `known_failures`: checks it is known to fail, reported but not counted.

Strict, as pytest's `xfail_strict`: a known failure that passes fails the run, so the list
is trimmed the day the model improves instead of hiding a check forever.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from pytest_specbench.config.settings import ModelConfig
from pytest_specbench.verdicts.checks import Check

__all__ = ["apply_known_failures"]


def apply_known_failures(checks: Iterable[Check], model: ModelConfig) -> tuple[Check, ...]:
    """`checks` with each failure the model lists marked known, and each listed check that passed failed."""
    return tuple(_judged(check, model) for check in checks)


def _judged(check: Check, model: ModelConfig) -> Check:
    if check.name not in model.known_failures or (check.passed and not check.applies):
        return check
    if not check.passed:
        return dataclasses.replace(check, known=True)
    fix = f"remove it from models.{model.id}.known_failures"
    return Check(check.name, False, f"{check.detail} — passed, but is listed as a known failure: {fix}")
