"""The context strategy's effect: each run under a strategy against the `full` run of the same
test, model, brief and scaffold, as the scaffold effect compares with bare.

    run                 context  outcome  reqs  turns  peak ctx  tokens   reqs vs full  tokens vs full
    test_spec[q-b]      full     FAILED   12    23     100%      412,000
    test_spec[q-b-mask] mask     PASSED   31    61     71%       398,000  +19 (×2.58)   -14,000 (×0.97)

A record says its strategy in `context` (none: `full`) and how full the window got in
`peak_context_fraction`; a run without numbers (an error, a skip) shows no change.
"""

from __future__ import annotations

from typing import Any

from pytest_specbench._text import align
from pytest_specbench.config.settings import BARE, FULL_CONTEXT
from pytest_specbench.report.effect import changes_against

__all__ = ["CONTEXT_COMPARED", "render_context_effect", "with_context_effect"]

CONTEXT_COMPARED = ("requirements", "features", "total_tokens", "turns")
"""The record fields whose change against `full` is reported."""

_COLUMNS = (
    "run",
    "context",
    "outcome",
    "reqs",
    "turns",
    "peak ctx",
    "tokens",
    "reqs vs full",
    "tokens vs full",
)

_Group = tuple[str, str, str, str]


def with_context_effect(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records, each under a strategy other than `full` with `<field>_vs_full` and
    `<field>_ratio_vs_full` added (null without a `full` twin, or a ratio against 0)."""
    full = {_group(r): r for r in records if _context(r) == FULL_CONTEXT.id}
    return [
        r if _context(r) == FULL_CONTEXT.id else {**r, **_changes(r, full.get(_group(r)))} for r in records
    ]


def render_context_effect(
    records: list[dict[str, Any]], native: frozenset[str] = frozenset({"native"})
) -> list[str]:
    """The effect table as aligned lines; none unless some run had a strategy other than `full`.
    `native`: the ids of contexts that are the provider's own editing, noted as not portable."""
    if all(_context(r) == FULL_CONTEXT.id for r in records):
        return []
    first: dict[_Group, int] = {}
    for index, record in enumerate(records):
        first.setdefault(_group(record), index)
    ordered = sorted(
        with_context_effect(records),
        key=lambda r: (first[_group(r)], _context(r) != FULL_CONTEXT.id, _context(r)),
    )
    table = align([list(_COLUMNS)] + [_row(r) for r in ordered])
    if shown := sorted({_context(r) for r in records} & native):
        table.append(f"{', '.join(shown)}: {NATIVE_NOTE}")
    return table


NATIVE_NOTE = (
    "the provider's own context editing (Anthropic's API only), not the harness's: "
    "compare it with full on one provider, not across providers"
)
"""Said under the table of a context that is the provider's own editing: its effect is not portable."""


def _changes(record: dict[str, Any], full: dict[str, Any] | None) -> dict[str, Any]:
    return changes_against(record, full, CONTEXT_COMPARED, "full")


def _row(record: dict[str, Any]) -> list[str]:
    full = _context(record) == FULL_CONTEXT.id
    peak = record.get("peak_context_fraction")
    return [
        str(record.get("test_id") or record.get("nodeid") or "?").rpartition("::")[2],
        _context(record),
        str(record.get("outcome", "?")).upper(),
        _number(record.get("requirements")),
        _number(record.get("turns")),
        "-" if not isinstance(peak, int | float) else f"{peak:.0%}",
        _number(record.get("total_tokens")),
        "" if full else _change(record, "requirements"),
        "" if full else _change(record, "total_tokens"),
    ]


def _change(record: dict[str, Any], name: str) -> str:
    delta, ratio = record.get(f"{name}_vs_full"), record.get(f"{name}_ratio_vs_full")
    if delta is None:
        return "-"
    return f"{delta:+,d}" if ratio is None else f"{delta:+,d} (×{ratio:.2f})"


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "-"


def _group(record: dict[str, Any]) -> _Group:
    test = str(record.get("nodeid") or record.get("test_id") or "").partition("[")[0]
    scaffold = str(record.get("scaffold") or BARE.id)
    return (test, str(record.get("model")), str(record.get("brief")), scaffold)


def _context(record: dict[str, Any]) -> str:
    return str(record.get("context") or FULL_CONTEXT.id)
