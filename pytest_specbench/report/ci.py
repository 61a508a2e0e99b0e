"""What CI systems read: per-test JUnit XML properties, and the GitHub Actions step summary.

`--junitxml` reports carry each run's numbers as `<property>` elements, so JUnit dashboards
show them; when `$GITHUB_STEP_SUMMARY` names a file (GitHub Actions sets it), the summary
table and the gate's regressions are appended to it as Markdown.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_specbench._text import markdown_table

__all__ = [
    "JUNIT_PROPERTIES",
    "append_step_summary",
    "gate_properties",
    "gate_verdict_cell",
    "junit_properties",
    "step_summary",
]

JUNIT_PROPERTIES = {
    "features": "features",
    "requirements": "requirements",
    "turns": "turns",
    "tokens": "total_tokens",
    "cost": "cost_usd",
    "source": "source",
    "pass_rate": "pass_rate",
}
"""JUnit property name → record field; a field the record lacks (a run that did not happen) is left out."""


def junit_properties(record: Mapping[str, Any]) -> list[tuple[str, object]]:
    """The record's numbers as (name, value) pairs for `report.user_properties`, then the gate's."""
    own = [(name, record[field]) for name, field in JUNIT_PROPERTIES.items() if record.get(field) is not None]
    return own + gate_properties(record)


def gate_properties(record: Mapping[str, Any]) -> list[tuple[str, object]]:
    """`gate_verdict`, and per compared metric its verdict, estimate, interval, p (and q), method and n."""
    gate = record.get("regression")
    if not isinstance(gate, Mapping) or not isinstance(gate.get("metrics"), list):
        return []
    found: list[tuple[str, object]] = [("gate_verdict", gate.get("verdict"))]
    for metric in gate["metrics"]:
        name = f"gate_{metric.get('metric')}"
        n = metric.get("n") or ["?", "?"]
        found.append((name, metric.get("verdict")))
        found.append((f"{name}_method", f"{metric.get('method')}, {n[0]} v {n[1]}"))
        for key in ("estimate", "p", "p_adjusted"):
            if metric.get(key) is not None:
                found.append((f"{name}_{key}", metric[key]))
        if metric.get("interval"):
            low, high = metric["interval"]
            found.append((f"{name}_interval", f"{low} … {high}"))
    return found


def gate_verdict_cell(record: Mapping[str, Any]) -> str:
    """The table's verdict column: regressed, no regression, inconclusive (with the metrics that
    could not be told), not compared, or empty when no gate ran. Under `[gate] family = "session"`
    each metric that decided carries its Benjamini-Hochberg q-value."""
    gate = record.get("regression")
    if not isinstance(gate, Mapping):
        return ""
    verdict = str(gate.get("verdict", ""))
    metrics = [m for m in gate.get("metrics") or [] if isinstance(m, Mapping)]
    deciding = [m for m in metrics if m.get("verdict") == verdict]
    named = [f"{m.get('metric')}{_q_value(m)}" for m in deciding]
    if verdict == "inconclusive" or any(_q_value(m) for m in deciding):
        return f"{verdict} ({', '.join(named)})" if named else verdict
    return verdict


def _q_value(metric: Mapping[str, Any]) -> str:
    q = metric.get("p_adjusted")
    if metric.get("adjustment") != "BH" or not isinstance(q, int | float):
        return ""
    return " q < 0.001" if q < 0.001 else f" q = {q:.2g}"


def step_summary(
    rows: list[list[str]],
    regressions: list[tuple[str, str]],
    inconclusive: list[tuple[str, str]] | None = None,
) -> str:
    """The Markdown appended to the step summary: the summary table (header first), then each
    regression, then each test the gate could not tell (its detail says how many samples would)."""
    lines = ["## specbench", "", *markdown_table(rows[0], rows[1:]), ""]
    if regressions:
        lines += ["### Regressions", "", *(f"- `{test}`: {detail}" for test, detail in regressions), ""]
    if inconclusive:
        lines += ["### Inconclusive", "", *(f"- `{test}`: {detail}" for test, detail in inconclusive), ""]
    return "\n".join(lines) + "\n"


def append_step_summary(text: str, environ: Mapping[str, str] = os.environ) -> None:
    """Append `text` to `$GITHUB_STEP_SUMMARY`, when it is set."""
    target = environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(text)
