"""The provider fault matrix, end to end: every fault × both protocols × JSON and stream.

One pytester session per protocol holds every row as its own model, scripted differently
on the fake provider. A fault that clears within `max_retries` passes and counts its
retries in results.json; one that does not is an ERROR whose cause is one line.

The sessions run in-process: the matrix mostly waits out the SDKs' backoffs, and an
inner `-n 2` would spend more on importing the SDKs in fresh workers than it saves
(the records' way through xdist is covered in test_plugin.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_specbench.testing import FakeProvider, Fault, Reply, call

PROTOCOLS = ("openai", "anthropic")
MODES = {"json": False, "sse": True}
SLOW_ANSWER_S = 1.0
REQUEST_TIMEOUT_S = 0.4
INFRA_ONLY_TEST = """
def test_spec(spec_run):
    assert spec_run.transcript.stop.reason == "final_answer"
"""


@dataclass(frozen=True)
class Row:
    """One model of the matrix: a fault, how often it repeats, and what must come of it."""

    fault_name: str
    protocol: str
    mode: str
    fault: Fault
    times: int
    max_retries: int
    expected: str
    """`passed`, or the fragment the one-line error must contain."""
    keys: dict[str, Any] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        verdict = "recovers" if self.expected == "passed" else "fails"
        return f"{self.fault_name}-{self.protocol}-{self.mode}-{verdict}"


def _status_rows(protocol: str, mode: str) -> list[Row]:
    rows = []
    for status in (429, 500, 502, 503, 529):
        headers = {"retry-after": "0.05"} if status == 429 else None  # seconds, as real APIs send it
        fault = Fault(status=status, headers=headers, message=f"upstream said {status}")
        rows.append(Row(str(status), protocol, mode, fault, 1, 2, "passed"))
        rows.append(Row(str(status), protocol, mode, fault, 3, 2, f"HTTP {status} after 2 retries"))
    return rows


def _connection_rows(protocol: str, mode: str) -> list[Row]:
    broke = "broke off the connection before a complete answer after 1 retry"
    timed_out = f"request timed out after {REQUEST_TIMEOUT_S:g}s (request_timeout_s) after 1 retry"
    slow = {"request_timeout_s": REQUEST_TIMEOUT_S}
    faults = [
        ("drop", Fault(kind="drop"), broke, {}),
        ("timeout", Fault(kind="delay", seconds=SLOW_ANSWER_S), timed_out, slow),
        ("cut", Fault(kind="cut_stream"), broke, {}),
    ]
    if mode == "sse":
        overloaded = Fault(status=529, kind="error_event", message="Overloaded")
        inside = "the server reported an error inside its answer after 1 retry: Overloaded"
        faults.append(("error-event", overloaded, inside, {}))
    rows = []
    for name, fault, fails_with, keys in faults:
        rows.append(Row(name, protocol, mode, fault, 1, 1, "passed", keys))
        rows.append(Row(name, protocol, mode, fault, 2, 1, fails_with, keys))
    return rows


def _unreadable_row(protocol: str, mode: str) -> Row:
    # A 200 answer the SDK cannot read is not retried: the same request would get the same page.
    cause = "the streamed answer held no" if mode == "sse" else "not JSON: '<html>"
    return Row(
        "not-json",
        protocol,
        mode,
        Fault(kind="not_json"),
        1,
        2,
        f"cannot read the answer from http://127.0.0.1:*: {cause}",
    )


MATRIX = [
    row
    for protocol in PROTOCOLS
    for mode in MODES
    for row in (
        *_status_rows(protocol, mode),
        *_connection_rows(protocol, mode),
        _unreadable_row(protocol, mode),
    )
]


def _script(row: Row) -> list[Reply]:
    faults = [row.fault] * row.times
    first = Reply(
        tool_calls=[call("create_feature", title="Notes", description="Keeps notes.")], faults=faults
    )
    return [first, Reply.final("Wrote 1 feature.")]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_fault_matrix(suite: Any, provider: FakeProvider, pytester: pytest.Pytester, protocol: str) -> None:
    rows = [row for row in MATRIX if row.protocol == protocol]
    for row in rows:
        keys = {"stream": MODES[row.mode], "max_retries": row.max_retries, **row.keys}
        provider.script(suite.model(row.model_id, row.protocol, **keys), _script(row))
    suite.brief("notes")
    suite.write(INFRA_ONLY_TEST, defaults="max_turns = 5\nrequest_timeout_s = 10\n")

    result = pytester.runpytest("--specbench-transport=memory", "--specbench-report=out")

    records = {r["model"]: r for r in json.loads((pytester.path / "out" / "results.json").read_text())}
    assert sorted(records) == sorted(row.model_id for row in rows)
    failures = [_mismatch(row, records[row.model_id]) for row in rows]
    assert [f for f in failures if f] == []
    recovered = sum(row.expected == "passed" for row in rows)
    result.assert_outcomes(passed=recovered, errors=len(rows) - recovered)
    result.stdout.fnmatch_lines(["*specbench*", "*503-*-fails-notes*ERROR*HTTP 503 after 2 retries*"])


def _mismatch(row: Row, record: dict[str, Any]) -> str:
    """'' when the record is what the row expects, else what differs."""
    if row.expected == "passed":
        if (record["outcome"], record.get("retries")) != ("passed", row.times):
            return (
                f"{row.model_id}: {record['outcome']} with {record.get('retries')} retries: {record['error']}"
            )
        return ""
    error = record.get("error") or ""
    if record["outcome"] != "error" or "\n" in error or not _fnmatch(error, f"*{row.expected}*"):
        return f"{row.model_id}: {record['outcome']}: {error!r}"
    return ""


def _fnmatch(text: str, pattern: str) -> bool:
    from fnmatch import fnmatchcase

    return fnmatchcase(text, pattern)
