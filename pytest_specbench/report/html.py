"""One self-contained HTML page from records and transcripts: the overview, charts, side by side, runs.

The page is Jinja2 templates (package data under `templates/`) with autoescaping on, so
every piece of model text is escaped; its CSS and its small script are inline and a
Content-Security-Policy allows that one script (by hash) and nothing from the network, so
it opens from `file://` and as a CI artifact.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from pytest_specbench._files import file_name, write_text_atomic
from pytest_specbench._record import Record
from pytest_specbench.report.effect import with_effect
from pytest_specbench.report.summary import ResultsCollector
from pytest_specbench.report.views import build_briefs

__all__ = ["HtmlReport", "load_transcripts", "render_html", "write_html"]


def render_html(records: list[Record], transcripts: dict[str, list[dict[str, Any]]] | None = None) -> str:
    """The report page for `records` (results.json's list), with timelines for runs in `transcripts`.

    Args:
        records: One dict per run, as results.json holds them.
        transcripts: Events per test id (the JSON objects of a transcript file, header left out).
    """
    env = _environment()
    script = env.get_template("report.js").render()
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    page: str = env.get_template("report.html.j2").render(
        briefs=build_briefs(records, transcripts or {}),
        runs=len(records),
        script=script,
        script_hash=f"sha256-{digest}",
        style=env.get_template("report.css").render(),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    return page


def write_html(path: Path, records: list[Record], transcript_dir: Path | None) -> None:
    """Render the page and write it atomically to `path` (its directory is created)."""
    ids = [str(r.get("test_id")) for r in records]
    transcripts = load_transcripts(transcript_dir, ids) if transcript_dir else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, render_html(records, transcripts), errors="backslashreplace")


def load_transcripts(directory: Path, test_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The events of `<directory>/<test_id>.jsonl` for each id that has one; unreadable lines are skipped."""
    found: dict[str, list[dict[str, Any]]] = {}
    for test_id in test_ids:
        path = directory / file_name(test_id, ".jsonl")
        try:
            if path.is_file():
                found[test_id] = list(_events(path.read_text(encoding="utf-8", errors="replace")))
        except OSError:  # unreadable: a run without a timeline
            continue
    return found


def _events(text: str) -> Any:
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("kind") != "header":
            yield event


def _environment() -> Any:
    import jinja2  # only a session or command that writes a page pays for the import

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pytest_specbench.report", "templates"),
        autoescape=True,  # every template, whatever its name: model text is never trusted
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _number
    return env


def _number(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


class HtmlReport:
    """Writes the page when the session ends; registered on the controller only, with --specbench-html."""

    def __init__(self, path: Path, collector: ResultsCollector, transcript_dir: Path | None) -> None:
        self.path = path
        self.collector = collector
        self.transcript_dir = transcript_dir

    @pytest.hookimpl
    def pytest_sessionfinish(self) -> None:
        """Render every record the session collected, with the transcripts saved for them; a session
        that ran none of the plugin's tests writes no page."""
        if not self.collector.records:
            return
        # The collector's merged records are results.json's, validated as they are written.
        records = cast(list[Record], with_effect(list(self.collector.records.values())))
        write_html(self.path, records, self.transcript_dir)

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """Name the page under the table."""
        if not self.collector.records:
            return
        terminalreporter.write_line(f"html report: {self.path}")
