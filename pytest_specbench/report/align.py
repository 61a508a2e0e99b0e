"""Lining up what several runs of one brief wrote, feature by feature, for the side-by-side view.

A top-level feature joins the row of the brief's reference feature it covers (recorded as
`reference` in each record's `tree`); a feature that covers none joins the row whose title
is most similar (difflib ratio at least `SIMILAR`) and holds no feature of its run yet, or
starts a row of its own. Rows are computed once for all runs of the brief, so any two
columns picked in the page are aligned without recomputing anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

__all__ = ["SIMILAR", "Row", "align_features"]

SIMILAR = 0.6
"""How alike two normalised titles must be to share a row."""


@dataclass(slots=True)
class Row:
    """One aligned feature: per run (by column index) the features that landed here."""

    key: str
    """The reference feature's name, or the title of the first feature in the row."""
    reference: bool
    cells: dict[int, list[Mapping[str, Any]]] = field(default_factory=dict)


def align_features(trees: Sequence[Sequence[Mapping[str, Any]] | None]) -> list[Row]:
    """Rows of features for the runs' trees (top-level features as in records); None is a run without one."""
    rows: list[Row] = []
    by_reference: dict[str, Row] = {}
    for column, tree in enumerate(trees):
        for feature in tree or []:
            reference = feature.get("reference")
            if reference:
                row = by_reference.get(reference)
                if row is None:
                    row = by_reference[reference] = Row(reference, True)
                    rows.append(row)
            else:
                row = _similar(rows, column, str(feature.get("title", "")))
                if row is None:
                    row = Row(str(feature.get("title", "")), False)
                    rows.append(row)
            row.cells.setdefault(column, []).append(feature)
    return sorted(rows, key=lambda r: (not r.reference, -len(r.cells)))


def _similar(rows: list[Row], column: int, title: str) -> Row | None:
    best, score = None, SIMILAR
    for row in rows:
        if row.reference or column in row.cells:
            continue
        ratio = SequenceMatcher(None, _normal(row.key), _normal(title)).ratio()
        if ratio >= score:
            best, score = row, ratio
    return best


def _normal(title: str) -> str:
    return " ".join(title.lower().split())
