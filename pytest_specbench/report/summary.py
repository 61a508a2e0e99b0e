"""Results on the controller: one record per run, the terminal table, results.json.

Workers attach a plain-dict record to each test report (`report.specbench`);
pytest-xdist serializes report attributes, so the controller sees the same
records whether or not the session is distributed. results.json is rewritten
atomically after every finished test, so an interrupted session keeps what
finished.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench._files import write_json_atomic
from pytest_specbench._run.record import check_fields
from pytest_specbench._text import align, shorten
from pytest_specbench.redact import redact_data
from pytest_specbench.report.ci import append_step_summary, gate_verdict_cell, step_summary
from pytest_specbench.report.context_effect import render_context_effect, with_context_effect
from pytest_specbench.report.effect import render_effect, with_effect
from pytest_specbench.report.family import session_family
from pytest_specbench.report.paired import FIELD as PAIRED_FIELD
from pytest_specbench.report.paired import Paired, paired_verdicts, render_paired
from pytest_specbench.report.results import why
from pytest_specbench.report.suite import SuiteVerdict, render_suite, suite_verdicts
from pytest_specbench.verdicts.checks import Check
from pytest_specbench.verdicts.significance import Verdict

__all__ = ["ResultsCollector", "outcome_of", "write_json_atomic"]

TABLE_COLUMNS = (
    ("test", "test_id"),
    ("outcome", "outcome"),
    ("source", "source"),
    ("feat", "features"),
    ("reqs", "requirements"),
    ("turns", "turns"),
    ("calls", "tool_calls"),
    ("tok in", "input_tokens"),
    ("tok out", "output_tokens"),
    ("cost $", "cost_usd"),
    ("secs", "seconds"),
    ("gate", "gate"),
    ("first failed check / cause", "why"),
)
GATE_COLUMN = "gate"
"""The gate's verdict column: drawn only when some run was held to a baseline."""
WHY_WIDTH = 70
SPREAD_SHOWN = frozenset({"features", "requirements", "turns"})
"""Columns shown as mean ± standard deviation for a run with repeats."""


class ResultsCollector:
    """Merges per-phase records into one record per test; registered on the controller only."""

    def __init__(
        self,
        report_dir: Path | None,
        redact: Callable[[str], str] = lambda text: text,
        baseline_models: Mapping[str, str] | None = None,
        html_path: Path | None = None,
        native_contexts: frozenset[str] = frozenset({"native"}),
    ) -> None:
        self.report_dir = report_dir
        self.html_path = html_path
        self.redact = redact
        """Applied to every string of a record before it is kept: no API key reaches the table or file."""
        self.records: dict[str, dict[str, Any]] = {}
        self.baseline_models = dict(baseline_models or {})
        """Model id → the incumbent it is compared with (`baseline_model`)."""
        self.paired: list[Paired] = []
        self.native_contexts = native_contexts
        """Ids of the contexts that are the provider's own editing (`strategy = "native"`)."""
        self.suites: list[SuiteVerdict] = []
        """`baseline_model` over the briefs: one verdict per candidate and incumbent."""

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Fold each phase's record and outcome into the test's record."""
        data = getattr(report, "specbench", None)
        if data is None:
            return
        record = self.records.setdefault(report.nodeid, {"nodeid": report.nodeid})
        record.update(redact_data(data, self.redact))
        outcome = outcome_of(report, record.get("outcome"))
        if outcome is not None:
            record["outcome"] = outcome
            record.setdefault("error", None)
            if outcome == "error" and not record["error"]:
                record["error"] = self.redact(_cause(report))
            if outcome == "skipped":
                record["skip_reason"] = self.redact(_skip_reason(report))
        if report.when == "teardown":
            self._write()

    def _write(self) -> None:
        if self.report_dir is not None:
            write_json_atomic(
                self.report_dir / "results.json",
                with_context_effect(with_effect(list(self.records.values()))),
            )

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Judge each baseline_model pair now that every worker is done; a regression fails the session."""
        self.paired = paired_verdicts(list(self.records.values()), self.baseline_models)
        for pair in self.paired:
            key = str(pair.candidate.get("nodeid"))
            self.records[key][PAIRED_FIELD] = pair.as_field(self.baseline_models[pair.candidate["model"]])
        self.suites = suite_verdicts(self.paired)
        for suite in self.suites:
            for pair in self.paired:
                if suite.covers(pair.candidate) and suite.verdict is not Verdict.NOT_COMPARED:
                    self.records[str(pair.candidate.get("nodeid"))][PAIRED_FIELD]["suite"] = suite.fields()
        gated = self._decide_session_family()
        if self.paired or gated:
            self._write()
        if self.records:
            records = list(self.records.values())
            summary = step_summary(
                table_rows(records),
                regressions(records, self.paired) + _suite_entries(self.suites, Verdict.REGRESSED),
                inconclusive(records) + _suite_entries(self.suites, Verdict.INCONCLUSIVE),
            )
            append_step_summary(summary)
        failed = (
            any(not p.verdict.passed for p in self.paired)
            or any(not c.passed for c in gated)
            or any(s.regressed for s in self.suites)
        )
        if failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _decide_session_family(self) -> list[Check]:
        """`[gate] family = "session"`: decide every test's `no_regression` again over the session
        (Benjamini-Hochberg), now that every worker is done; the checks it decided."""
        decided = []
        for key, result in session_family(self.records.values()).items():
            record, check = self.records[key], result.check()
            record["checks"] = [
                check_fields(check) if c.get("name") == check.name else c for c in record.get("checks", [])
            ]
            record.update(result.fields())
            decided.append(check)
        return decided

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """Draw one row per run, then the scaffold effect when a scaffold was in play."""
        if not self.records:
            return
        terminalreporter.section("specbench")
        for line in render_table(list(self.records.values())):
            terminalreporter.write_line(line)
        if effect := render_effect(list(self.records.values())):
            terminalreporter.section("specbench: scaffold effect (change against bare)")
            for line in effect:
                terminalreporter.write_line(line)
        if effect := render_context_effect(list(self.records.values()), self.native_contexts):
            terminalreporter.section("specbench: context strategy effect (change against full)")
            for line in effect:
                terminalreporter.write_line(line)
        if self.paired:
            terminalreporter.section("specbench: baseline_model (each run against the incumbent's)")
            for line in render_paired(self.paired):
                terminalreporter.write_line(line)
        if self.suites:
            terminalreporter.section(
                "specbench: baseline_model over the briefs (candidate against incumbent)"
            )
            for line in render_suite(self.suites):
                terminalreporter.write_line(line)
        if differing := [r for r in self.records.values() if r.get("snapshot_diff")]:
            terminalreporter.section(
                "specbench: live trees that differ from their snapshots (reported, not failed)"
            )
            for line in render_snapshot_diffs(differing):
                terminalreporter.write_line(line)
        for line in where_to_read(self.report_dir, self.html_path):
            terminalreporter.write_line(line)


def outcome_of(report: pytest.TestReport, previous: str | None) -> str | None:
    """The record's outcome after this phase; None leaves it as it was."""
    xfail = hasattr(report, "wasxfail")
    if report.when == "setup":
        if report.skipped:
            return "xfailed" if xfail else "skipped"
        return "error" if report.failed else None
    if report.when == "call":
        if xfail:
            return "xfailed" if report.skipped else "xpassed"
        return "passed" if report.passed else "failed" if report.failed else "skipped"
    return "error" if report.failed and previous != "error" else None


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def _cause(report: pytest.TestReport) -> str:
    text = report.longreprtext.strip().splitlines()
    errors = [line[1:].strip() for line in text if line.startswith("E ")]
    cause = (errors[-1] if errors else text[-1] if text else "error").strip()
    # Our infrastructure errors say what broke in their message: the class name only crowds the column.
    return _OUR_ERROR.sub("", cause)


_OUR_ERROR = re.compile(
    r"^(?:pytest_specbench\.errors\.)?"
    r"(?:InfrastructureError|ProviderError|ServerError|ContextOverflow|ContextTruncated): "
)


DIFF_LINES = 40
"""A live run's snapshot diff is cut to this many lines in the terminal; results.json has it whole."""


def render_snapshot_diffs(records: list[dict[str, Any]]) -> list[str]:
    """Each live run's diff against its committed snapshot, under its test id."""
    lines = []
    for record in records:
        diff = str(record["snapshot_diff"]).splitlines()
        lines.append(f"{record['test_id']}:")
        lines += [f"  {line}" for line in diff[:DIFF_LINES]]
        if len(diff) > DIFF_LINES:
            lines.append(f"  … {len(diff) - DIFF_LINES} more lines in results.json (snapshot_diff)")
    lines.append(
        "A live model's exact tree depends on the CPU, build, threads and cache: it is judged by its "
        "checks and the baseline. Accept a tree with --snapshot-update; "
        "--specbench-strict-snapshots fails on it."
    )
    return lines


def where_to_read(report_dir: Path | None, html_path: Path | None) -> list[str]:
    """One line saying where the results, the transcripts and the page are, or how to get them."""
    parts = []
    if report_dir is not None:
        parts.append(f"results {report_dir / 'results.json'}, transcripts {report_dir / 'transcripts'}")
    if html_path is not None:
        parts.append(f"report {html_path}")
    if parts:
        return [f"specbench: {'; '.join(parts)}"]
    return [
        "specbench: no files written (--specbench-report=DIR for results.json and transcripts, "
        "--specbench-html=PATH for the HTML report)"
    ]


def render_table(records: list[dict[str, Any]]) -> list[str]:
    """The summary table as aligned lines."""
    return align(table_rows(records))


def table_rows(records: list[dict[str, Any]]) -> list[list[str]]:
    """The summary table's cells, the header first; the gate's column only when a run was gated."""
    gated = any(gate_verdict_cell(r) not in ("", Verdict.NOT_COMPARED) for r in records)
    columns = [(h, key) for h, key in TABLE_COLUMNS if gated or key != GATE_COLUMN]
    return [[h for h, _ in columns]] + [[_cell(r, key) for _, key in columns] for r in records]


def regressions(records: list[dict[str, Any]], paired: list[Paired]) -> list[tuple[str, str]]:
    """(test id, detail) of each failed `no_regression` and each regressed `baseline_model` pair."""
    found = [
        (str(r["test_id"]), f"no_regression: {c['detail']}")
        for r in records
        for c in r.get("checks", ())
        if c["name"] == "no_regression" and not c["passed"]
    ]
    return found + [
        (str(p.candidate["test_id"]), f"baseline_model: {p.verdict.detail}")
        for p in paired
        if not p.verdict.passed
    ]


def _suite_entries(suites: list[SuiteVerdict], verdict: Verdict) -> list[tuple[str, str]]:
    """(`candidate vs incumbent`, line) of each metric that gave a suite verdict of `verdict`."""
    return [
        (s.name, f"baseline_model over the briefs: {line}")
        for s in suites
        if s.verdict is verdict
        for line in s.deciding()
    ]


def inconclusive(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(test id, detail) of each run the gate could not tell from its baseline: its detail says how
    many samples per side would."""
    return [
        (str(r["test_id"]), f"no_regression: {c['detail']}")
        for r in records
        if (r.get("regression") or {}).get("verdict") == Verdict.INCONCLUSIVE
        for c in r.get("checks", ())
        if c["name"] == "no_regression"
    ]


def _cell(record: dict[str, Any], key: str) -> str:
    if key == "why":
        return shorten(why(record), WHY_WIDTH)
    if key == GATE_COLUMN:
        return gate_verdict_cell(record) or "-"
    samples = record.get("samples") or 1
    if key == "outcome":
        outcome = str(record.get("outcome", "?")).upper()
        return f"{outcome} {record.get('passes')}/{samples}" if samples > 1 else outcome
    spread = (record.get("metrics") or {}).get(key)
    if samples > 1 and spread and key in SPREAD_SHOWN:
        return f"{spread['mean']:.0f} ± {spread['stdev']:.0f}"
    value = record.get(key)
    if value is None:
        return "-"
    if key == "cost_usd":
        return f"{value:.4f}"
    return f"{value:.1f}" if isinstance(value, float) else str(value)
