"""The gate's tolerances against the baseline, as one type: `[gate]`, a brief's `gate = {...}` over it.

Parsed once at load (`schema.GATE_KEYS`), resolved per brief by `Config.gate_for`, and read
by `verdicts.regression.judge` and every report that judges a record again. A results.json
record keeps them as its `gate` field (`GateTolerances.fields`), so that `specbench compare`
judges a run by the tolerances it was held to (`GateTolerances.from_fields`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from pytest_specbench._record import GATE_TOLERANCES, GateFields

__all__ = ["ALPHA", "TOLERANCES", "GateFamily", "GateTolerances"]


class GateFamily(StrEnum):
    """`[gate] family`: which p-values the gate adjusts together before it calls a change a regression."""

    TEST = "test"
    """Holm within each test (its metrics and checks): the family-wise error of one test (the default)."""
    SESSION = "session"
    """Benjamini–Hochberg over every test of the session, decided on the controller at session end."""


ALPHA = 0.05
"""`[gate] alpha` when unset: the one-sided level of every test."""

TOLERANCES = GATE_TOLERANCES
"""The tolerance fields, in the order a record's `gate` lists them."""


@dataclass(frozen=True, slots=True)
class GateTolerances:
    """How much worse than its baseline a run may be, and the level of the gate's tests.

    The drops and increases are fractions of the baseline's value (recall's: a difference of
    points); None leaves that metric ungated.
    """

    max_requirements_drop: float | None = 0.10
    max_features_drop: float | None = 0.10
    max_recall_drop: float | None = 0.05
    max_tokens_increase: float | None = None
    """Unset by default: a run may spend more tokens."""
    max_cost_increase: float | None = None
    alpha: float | None = None
    """The one-sided level; None when unset (`level` is then `ALPHA`)."""
    family: GateFamily | None = None
    """`[gate] family` (session-wide only); None when unset, which is `test`."""

    @property
    def level(self) -> float:
        """The one-sided level of every test: `alpha`, or `ALPHA`."""
        return ALPHA if self.alpha is None else self.alpha

    @property
    def session(self) -> bool:
        """The p-values are adjusted over the whole session, on the controller (`family = "session"`)."""
        return self.family is GateFamily.SESSION

    def limit(self, tolerance: str) -> float | None:
        """The tolerance named `tolerance` (one of `TOLERANCES`)."""
        value: float | None = getattr(self, tolerance)
        return value

    def over(self, table: Mapping[str, Any]) -> GateTolerances:
        """These tolerances with the keys of a parsed gate table (a brief's, the command line's) set."""
        return dataclasses.replace(self, **table) if table else self

    def fields(self) -> GateFields:
        """The record's `gate` field: plain data, the same as the one written before this type existed."""
        fields = cast(GateFields, {key: self.limit(key) for key in TOLERANCES})
        if self.alpha is not None:
            fields["alpha"] = self.alpha
        if self.family is not None:
            fields["family"] = str(self.family)
        return fields

    @classmethod
    def from_fields(cls, fields: object) -> GateTolerances:
        """The tolerances a record's `gate` holds; a missing or unreadable field keeps its default."""
        if not isinstance(fields, Mapping):
            return cls()
        found: dict[str, Any] = {}
        for key in TOLERANCES:
            if key in fields and (fields[key] is None or _is_number(fields[key])):
                found[key] = None if fields[key] is None else float(fields[key])
        if _is_number(fields.get("alpha")):
            found["alpha"] = float(fields["alpha"])
        if fields.get("family") in {str(family) for family in GateFamily}:
            found["family"] = GateFamily(fields["family"])
        return cls(**found)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value
