"""The report's data, computed from records and transcripts before any HTML is written.

Records are results.json's plain dicts. Fields added by later versions (repeats, cost,
source, a baseline check) are shown when present and left out when not, so old results
files and merged shards render too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_specbench._record import CheckRecord, Record
from pytest_specbench._text import clip, shorten
from pytest_specbench.config.settings import BARE
from pytest_specbench.report.align import Row, align_features
from pytest_specbench.report.charts import Chart, IntervalRow, bar_chart, interval_chart, spread_chart
from pytest_specbench.report.results import why

__all__ = ["BriefView", "RunView", "build_briefs", "timeline"]

TEXT_BUDGET = 30_000
"""Characters of model text, arguments and results kept per transcript (clipped evenly)."""
MAX_EVENTS = 160
"""Timeline entries per run: the first 120 and the last 40, with the middle counted."""
TAIL = 40
PREVIEW = 80
"""Characters of a tool call's arguments on its one closed line."""


@dataclass(frozen=True, slots=True)
class RunView:
    """One run as the page shows it."""

    index: int
    record: Record
    label: str
    """`model · scaffold`."""
    why: str
    checks: list[CheckRecord]
    bar: float
    """Requirements as a percentage of the brief's largest count."""
    spread: str
    baseline: str
    events: list[dict[str, Any]] | None
    """The timeline; None when no transcript was given."""

    @property
    def anchor(self) -> str:
        """The run's fragment id in the page."""
        return f"run-{self.index}"


@dataclass(frozen=True, slots=True)
class BriefView:
    """One brief: its runs, its charts and its aligned feature rows."""

    id: str
    runs: list[RunView]
    charts: list[Chart]
    rows: list[Row]
    has_trees: bool


def build_briefs(records: list[Record], transcripts: dict[str, list[dict[str, Any]]]) -> list[BriefView]:
    """Group the records by brief (in first-seen order) and compute every view's data."""
    briefs: dict[str, list[Record]] = {}
    for record in records:
        briefs.setdefault(str(record.get("brief")), []).append(record)
    views, index = [], 0
    for brief, group in briefs.items():
        group.sort(key=lambda r: (str(r.get("model")), _scaffold(r) != BARE.id, _scaffold(r)))
        top = max((r.get("requirements") or 0 for r in group), default=0) or 1
        runs = []
        for record in group:
            runs.append(_run_view(index, record, top, transcripts.get(str(record.get("test_id")))))
            index += 1
        trees = [r.get("tree") for r in group]
        views.append(
            BriefView(brief, runs, _charts(runs), align_features(trees), any(t is not None for t in trees))
        )
    return views


def _run_view(index: int, record: Record, top: float, events: list[dict[str, Any]] | None) -> RunView:
    checks = list(record.get("checks") or [])
    return RunView(
        index=index,
        record=record,
        label=f"{record.get('model')} · {_scaffold(record)}",
        why=why(record),
        checks=checks,
        bar=100 * (record.get("requirements") or 0) / top,
        spread=_spread_text(record),
        baseline=next((c.get("detail", "") for c in checks if c.get("name") == "no_regression"), ""),
        events=None if events is None else timeline(events),
    )


def spread(record: Mapping[str, Any], metric: str) -> dict[str, float] | None:
    """`{mean, stdev, min, max}` of a metric over a repeated run's samples, wherever the record keeps it."""
    for value in (record.get(f"{metric}_stats"), (record.get("stats") or {}).get(metric), record.get(metric)):
        if isinstance(value, dict) and {"min", "max", "mean"} <= set(value):
            return value
    return None


def _spread_text(record: Record) -> str:
    if not record.get("samples") or record.get("samples") == 1:
        return ""
    parts = [f"{record.get('passes', '?')}/{record['samples']} passed"]
    if (rate := record.get("pass_rate")) is not None:
        parts[0] += f" ({rate:.0%})"
    if stats := spread(record, "requirements"):
        parts.append(f"reqs {stats['mean']:.0f} ± {stats.get('stdev', 0):.0f}")
    return "; ".join(parts)


def _charts(runs: list[RunView]) -> list[Chart]:
    charts = [
        bar_chart("Requirements per run", [(r.label, r.record.get("requirements"), "reqs") for r in runs]),
        bar_chart("Top-level features per run", [(r.label, r.record.get("features"), "feats") for r in runs]),
    ]
    if any(_scaffold(r.record) != BARE.id for r in runs):
        rows = [(r.label, r.record.get("requirements"), _scaffold(r.record)) for r in runs]
        notes = [_effect(r.record) for r in runs]
        charts.append(bar_chart("Scaffold effect: requirements, bare against scaffolded", rows, notes))
    spans = [
        (r.label, s["min"], s["mean"], s["max"]) for r in runs if (s := spread(r.record, "requirements"))
    ]
    charts.append(spread_chart("Repeat spread: requirements, min–max with the mean", spans))
    if changes := [row for r in runs for row in gate_rows(r.label, r.record)]:
        title = "Gate: change against the baseline, 90 % interval (tick: the tolerance)"
        charts.append(interval_chart(title, changes))
    return charts


def gate_rows(label: str, record: Record) -> list[IntervalRow]:
    """One row per metric the gate compared with an estimate: the change, its interval and the
    tolerance on the worse side, as signed fractions (recall in points of 1)."""
    gate = record.get("regression")
    rows: list[IntervalRow] = []
    for m in (gate.get("metrics") or []) if isinstance(gate, dict) else []:
        estimate = m.get("estimate")
        if m.get("scale") not in ("relative", "points") or not isinstance(estimate, int | float):
            continue
        low, high = m.get("interval") or (None, None)
        limit = m.get("limit")
        tick = None if not isinstance(limit, int | float) else -limit if m.get("worse") == "drop" else limit
        text = _change(estimate, m["scale"])
        if low is not None and high is not None:
            text += f" ({_change(low, m['scale'])} … {_change(high, m['scale'])})"
        rows.append(
            (
                f"{label} · {m.get('metric')}",
                f"{text} {m.get('verdict')}",
                estimate,
                low,
                high,
                tick,
                str(m.get("verdict", "")).replace(" ", "-"),
            )
        )
    return rows


def _change(value: float, scale: str) -> str:
    text = f"{round(value * 100):+d} %" if scale == "relative" else f"{value * 100:+.0f} pts"
    return text.replace("-", "−")


def _effect(record: Record) -> str:
    delta, ratio = record.get("requirements_vs_bare"), record.get("requirements_ratio_vs_bare")
    if delta is None:
        return ""
    # A run with repeats compares means: the difference can be fractional.
    shown = f"{delta:+.4g}"
    return f"({shown})" if ratio is None else f"({shown}, ×{ratio:.2f})"


def timeline(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Transcript events as timeline entries, texts clipped to share `TEXT_BUDGET`, at most `MAX_EVENTS`."""
    kept = [
        e
        for e in events
        if e.get("kind") in {"reasoning", "assistant", "tool_call", "stop", "message", "context"}
    ]
    gap = len(kept) - MAX_EVENTS
    if gap > 0:
        kept = [*kept[: MAX_EVENTS - TAIL], {"kind": "gap"}, *kept[-TAIL:]]
    limit = max(PREVIEW, TEXT_BUDGET // (2 * len(kept) or 1))
    return [
        {"kind": "gap", "text": f"{gap} events left out"} if e["kind"] == "gap" else _entry(e, limit)
        for e in kept
    ]


def _entry(event: dict[str, Any], limit: int) -> dict[str, Any]:
    kind = event.get("kind")
    if kind == "tool_call":
        arguments = _pretty(str(event.get("arguments", "")))
        return {
            **{k: event.get(k) for k in ("kind", "turn", "name", "is_error", "error_kind", "scaffold")},
            "arguments": clip(arguments, limit),
            "summary": shorten(arguments, PREVIEW),
            "result": clip(str(event.get("result", "")), limit),
        }
    if kind == "reasoning":
        text = str(event.get("text", ""))
        redacted = int(event.get("redacted_blocks") or 0)
        size = f"{len(text):,} characters" + (f", {redacted} redacted blocks" if redacted else "")
        return {"kind": kind, "turn": event.get("turn"), "text": clip(text, limit), "size": size}
    if kind == "assistant":
        calls = ", ".join(str(c.get("name")) for c in event.get("tool_calls") or [])
        tokens = f"{event.get('input_tokens', 0)} in / {event.get('output_tokens', 0)} out"
        if event.get("reasoning_tokens"):
            tokens += f" ({event['reasoning_tokens']} reasoning)"
        return {
            "kind": kind,
            "turn": event.get("turn"),
            "text": clip(str(event.get("text", "")), limit),
            "calls": calls,
            "tokens": tokens,
            "seconds": event.get("seconds"),
            "context": _gauge(event),
        }
    if kind == "context":
        return {
            "kind": kind,
            "strategy": event.get("strategy"),
            "text": clip(str(event.get("detail", "")), limit),
        }
    if kind == "stop":
        return {"kind": kind, "reason": event.get("reason"), "text": str(event.get("detail", ""))}
    return {"kind": kind, "role": event.get("role"), "text": clip(str(event.get("text", "")), limit)}


def _gauge(event: dict[str, Any]) -> dict[str, Any] | None:
    """How full the window was at this turn (its prompt against the window), when the window is known."""
    window, used = event.get("context_window"), int(event.get("input_tokens") or 0)
    if not isinstance(window, int) or window <= 0:
        return None
    return {"used": used, "window": window, "percent": round(100 * used / window)}


def _pretty(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments), indent=1, ensure_ascii=False)
    except ValueError:
        return arguments


def _scaffold(record: Record) -> str:
    return str(record.get("scaffold") or BARE.id)
