"""The scaffold effect: each run with a scaffold against the bare run of the same test, model and brief.

    run                       scaffold  outcome  feat  reqs  feat vs bare  reqs vs bare  scaffold calls
    test_spec[gpt-todo-app]   bare      FAILED   3     43                                0
    test_spec[gpt-todo-app]   full      PASSED   7     183   +4 (×2.33)    +140 (×4.26)  31

The numbers compared are the ones a brief's thresholds are about: requirements at any
depth and top-level features. A run without them (an error, a skip) shows no change,
and neither does a run whose bare twin has none; a ratio against 0 is left out.
"""

from __future__ import annotations

from typing import Any

from pytest_specbench._text import align
from pytest_specbench.config.settings import BARE

__all__ = ["COMPARED", "changes_against", "render_effect", "with_effect"]

COMPARED = ("requirements", "features")
"""The record fields whose change against bare is reported."""

_COLUMNS = ("run", "scaffold", "outcome", "feat", "reqs", "feat vs bare", "reqs vs bare", "scaffold calls")

_Group = tuple[str, str, str]


def with_effect(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records, each non-bare one with `<field>_vs_bare` and `<field>_ratio_vs_bare` added.

    The added fields are null when there is no bare run to compare with (or, for a ratio, when
    bare's number is 0); bare records are returned as they are.
    """
    bare = {_group(r): r for r in records if _scaffold(r) == BARE.id}
    return [r if _scaffold(r) == BARE.id else {**r, **_changes(r, bare.get(_group(r)))} for r in records]


def render_effect(records: list[dict[str, Any]]) -> list[str]:
    """The effect table as aligned lines; none unless some run had a scaffold."""
    if all(_scaffold(r) == BARE.id for r in records):
        return []
    ordered = sorted(with_effect(records), key=_order(records))
    return align([list(_COLUMNS)] + [_row(r) for r in ordered])


def _changes(record: dict[str, Any], bare: dict[str, Any] | None) -> dict[str, Any]:
    return changes_against(record, bare, COMPARED, "bare")


def changes_against(
    record: dict[str, Any], twin: dict[str, Any] | None, names: tuple[str, ...], against: str
) -> dict[str, Any]:
    """`<name>_vs_<against>` and `<name>_ratio_vs_<against>` of each field `names` against `twin`
    (null without a twin or a number on both sides, and a ratio against 0)."""
    fields: dict[str, Any] = {}
    for name in names:
        value, baseline = record.get(name), (twin or {}).get(name)
        fields[f"{name}_vs_{against}"] = fields[f"{name}_ratio_vs_{against}"] = None
        if isinstance(value, int) and isinstance(baseline, int):
            fields[f"{name}_vs_{against}"] = value - baseline
            fields[f"{name}_ratio_vs_{against}"] = round(value / baseline, 2) if baseline else None
    return fields


def _row(record: dict[str, Any]) -> list[str]:
    model, brief = record.get("model"), record.get("brief")
    bare = _scaffold(record) == BARE.id
    return [
        f"{_function(record)}[{model}-{brief}]",
        _scaffold(record),
        str(record.get("outcome", "?")).upper(),
        _number(record.get("features")),
        _number(record.get("requirements")),
        "" if bare else _change(record, "features"),
        "" if bare else _change(record, "requirements"),
        _number(record.get("scaffold_calls")),
    ]


def _change(record: dict[str, Any], name: str) -> str:
    delta, ratio = record.get(f"{name}_vs_bare"), record.get(f"{name}_ratio_vs_bare")
    if delta is None:
        return "-"
    return f"{delta:+d}" if ratio is None else f"{delta:+d} (×{ratio:.2f})"


def _number(value: Any) -> str:
    return "-" if value is None else str(value)


def _order(records: list[dict[str, Any]]) -> Any:
    """Groups in the order they first finished; within one, bare first, then by scaffold id."""
    first: dict[_Group, int] = {}
    for index, record in enumerate(records):
        first.setdefault(_group(record), index)
    return lambda r: (first[_group(r)], _scaffold(r) != BARE.id, _scaffold(r))


def _group(record: dict[str, Any]) -> _Group:
    test = str(record.get("nodeid") or record.get("test_id") or "").partition("[")[0]
    return (test, str(record.get("model")), str(record.get("brief")))


def _function(record: dict[str, Any]) -> str:
    """The test function's name, `test_spec` of `evals/test_specs.py::test_spec[gpt-todo-app-full]`."""
    return _group(record)[0].rpartition("::")[2]


def _scaffold(record: dict[str, Any]) -> str:
    return str(record.get("scaffold") or BARE.id)
