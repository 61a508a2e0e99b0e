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

__all__ = ["JUNIT_PROPERTIES", "append_step_summary", "junit_properties", "step_summary"]

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
    """The record's numbers as (name, value) pairs for `report.user_properties`."""
    return [
        (name, record[field]) for name, field in JUNIT_PROPERTIES.items() if record.get(field) is not None
    ]


def step_summary(rows: list[list[str]], regressions: list[tuple[str, str]]) -> str:
    """The Markdown appended to the step summary: the summary table (header first), then each regression."""
    lines = ["## specbench", "", *markdown_table(rows[0], rows[1:]), ""]
    if regressions:
        lines += ["### Regressions", "", *(f"- `{test}`: {detail}" for test, detail in regressions), ""]
    return "\n".join(lines) + "\n"


def append_step_summary(text: str, environ: Mapping[str, str] = os.environ) -> None:
    """Append `text` to `$GITHUB_STEP_SUMMARY`, when it is set."""
    target = environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(text)
