"""MCP servers that die, hang or print garbage: an ERROR within seconds naming the cause, and no orphans.

The servers are external stdio servers configured in briefs, as a team's own would be: a
few lines of JSON-RPC without the SDK, so they start at once and fail exactly when told.
Every process they start carries a marker in its argv; after the session, and after a
session interrupted with SIGINT, /proc must hold none.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench.testing import FakeProvider, Reply

FAULTY_SERVER = r'''
"""A stdio MCP server that fails as argv says: MODE AFTER MARKER."""
import json, os, signal, sys, time

mode, after = sys.argv[1], int(sys.argv[2])
if mode == "hang-hard":  # a server that ignores SIGTERM: only SIGKILL stops it
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if mode == "die-at-start":
    print("faulty server: cannot open database /var/db/x: permission denied", file=sys.stderr, flush=True)
    sys.exit(3)
TOOL = {"name": "create_feature", "description": "Create a feature.",
        "inputSchema": {"type": "object", "properties": {"title": {"type": "string"}}}}

def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()

calls = 0
for line in sys.stdin:
    message = json.loads(line)
    if "id" not in message:
        continue
    method, answer = message.get("method"), {"jsonrpc": "2.0", "id": message["id"]}
    if method == "initialize":
        if mode == "hang-at-start":
            time.sleep(3600)
        version = message["params"]["protocolVersion"]
        send({**answer, "result": {"protocolVersion": version, "capabilities": {"tools": {}},
                                   "serverInfo": {"name": "faulty", "version": "0"}}})
    elif method == "tools/list":
        send({**answer, "result": {"tools": [TOOL]}})
    elif method == "tools/call":
        calls += 1
        if calls > after:
            print(f"faulty server: {mode} at call {calls}", file=sys.stderr, flush=True)
            if mode == "die":
                os._exit(3)
            if mode.startswith("hang"):
                time.sleep(3600)
            if mode == "garbage":
                print("Traceback? no: this is not json-rpc", flush=True)
                continue
            if mode == "invalid-params":
                send({**answer, "error": {"code": -32602, "message": "title must be 3 words"}})
                continue
            if mode == "bad-result":
                send({**answer, "result": {"content": "not a list"}})
                continue
        send({**answer, "result": {"content": [{"type": "text", "text": f"Created F-{calls:04d}"}]}})
    else:
        send({**answer, "error": {"code": -32601, "message": f"no method {method}"}})
'''
SCRIPT = [Reply.tool("create_feature", title=f"F{i}", description="d") for i in range(3)] + [
    Reply.final("Done.")
]
TEST = """
def test_spec(spec_run):
    assert spec_run.transcript.stop.reason == "final_answer"
"""
DIED = (
    "closed the connection during tool create_feature (it exited or crashed);"
    " server stderr: faulty server: die at call 2"
)
HUNG = (
    "did not answer tool create_feature within 1.5s (tool_timeout_s); server stderr: faulty server: hang at"
)
GARBAGE = (
    "sent 'Traceback? no: this is not json-rpc', which is not JSON-RPC, instead of answering tool"
    " create_feature (a stdio server must log to stderr, not stdout); server stderr: faulty server: garbage"
)
BAD_RESULT = "answered tool create_feature with a result that breaks the MCP schema: *"
DIED_AT_START = (
    "could not be started or reached: it exited before the handshake;"
    " server stderr: faulty server: cannot open database /var/db/x: permission denied"
)
HUNG_AT_START = "could not be started or reached: no answer to the handshake within 1.5s (tool_timeout_s)"
FAST = {"tool_timeout_s": 1.5}
# brief → (server mode, calls answered first, brief settings, expected outcome or cause)
FAULTS: dict[str, tuple[str, int, dict[str, Any], str]] = {
    "healthy": ("ok", 99, {}, "passed"),
    "dies": ("die", 1, {}, DIED),
    "hangs": ("hang", 1, FAST, HUNG),
    "garbage": ("garbage", 1, {}, GARBAGE),
    "bad-result": ("bad-result", 1, {}, BAD_RESULT),
    "refuses-arguments": ("invalid-params", 1, {}, "passed"),
    "dies-at-start": ("die-at-start", 0, {}, DIED_AT_START),
    "hangs-at-start": ("hang-at-start", 0, FAST, HUNG_AT_START),
    "run-timeout": ("hang-hard", 1, {"tool_timeout_s": 60, "timeout_s": 1.5}, "failed"),
}


def _servers(suite: Any, pytester: pytest.Pytester, marker: str, faults: dict[str, Any]) -> None:
    pytester.makepyfile(faulty_server=FAULTY_SERVER)
    script = str(pytester.path / "faulty_server.py")
    for brief, (mode, after, settings, _) in faults.items():
        server = {"command": [sys.executable, script, mode, str(after), marker]}
        suite.brief(brief, server=server, **settings)


def marked_processes(marker: str) -> list[str]:
    """The command lines of live processes whose argv holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next(
                line for line in (entry / "status").read_text().splitlines() if line.startswith("State")
            )
        except (OSError, StopIteration):
            continue  # gone meanwhile
        if marker in cmdline and "zombie" not in state:
            found.append(cmdline)
    return found


def test_server_faults_are_errors_naming_the_cause(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    marker = f"specbench-marker-{uuid.uuid4().hex}"
    provider.script(suite.model("caller"), SCRIPT)
    _servers(suite, pytester, marker, FAULTS)
    suite.write(TEST)

    started = time.monotonic()
    result = pytester.runpytest("-n", "2", "--specbench-report=out")
    elapsed = time.monotonic() - started

    records = {r["brief"]: r for r in json.loads((pytester.path / "out" / "results.json").read_text())}
    for brief, (*_, expected) in FAULTS.items():
        record = records[brief]
        if expected in ("passed", "failed"):
            assert record["outcome"] == expected, record
        else:
            assert record["outcome"] == "error", record
            assert "\n" not in record["error"]
            assert _fnmatch(record["error"], f"*MCP server {expected}*"), record["error"]
    assert records["run-timeout"]["stop_reason"] == "timeout"
    assert records["refuses-arguments"]["tool_errors_by_kind"] == {"bad_arguments": 2}
    result.assert_outcomes(passed=2, failed=1, errors=6)
    assert elapsed < 45  # every fault is bounded: by a closed pipe, tool_timeout_s or timeout_s
    assert marked_processes(marker) == []


def test_an_interrupted_session_keeps_its_results_and_leaves_no_server(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    marker = f"specbench-marker-{uuid.uuid4().hex}"
    provider.script(suite.model("caller"), SCRIPT)
    # The second run's server hangs in a call, deaf to stdin and SIGTERM: only SIGKILL stops it.
    _servers(suite, pytester, marker, {"first": FAULTS["healthy"], "stuck": ("hang-hard", 0, {}, "")})
    suite.write(TEST, defaults="max_turns = 10\ntool_timeout_s = 300\n")
    out = (pytester.path / "stdout.txt").open("w")
    options = ["-p", "no:cacheprovider", "--specbench-report=out", "--basetemp=bt", *xdist_args]

    with out:
        session = pytester.popen([sys.executable, "-m", "pytest", *options], stdout=out, stderr=out)
        try:
            results = pytester.path / "out" / "results.json"
            _wait_for(lambda: results.exists() and _hung_in_a_call(pytester.path))
            session.send_signal(signal.SIGINT)
            code = session.wait(timeout=30)
        finally:
            session.kill()

    # pytest 9 exits 1, not INTERRUPTED, when a setup is interrupted: tmp_path's finalizer then
    # finds no report of the setup (KeyError on its stash key). Our teardown still ran first.
    assert code in (pytest.ExitCode.INTERRUPTED, 1)
    assert "KeyboardInterrupt" in (pytester.path / "stdout.txt").read_text()
    (record,) = json.loads((pytester.path / "out" / "results.json").read_text())
    assert (record["test_id"], record["outcome"]) == ("test_spec[caller-first]", "passed")
    assert list((pytester.path / "out").glob(".results.json.*")) == []  # no half-written temp file
    assert marked_processes(marker) == []


def _hung_in_a_call(root: Path) -> bool:
    return any("hang-hard at call 1" in log.read_text() for log in root.glob("bt/**/server.stderr.log"))


def _wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the session never got there"
        time.sleep(0.1)


def _fnmatch(text: str, pattern: str) -> bool:
    from fnmatch import fnmatchcase

    return fnmatchcase(text, pattern)


DEAF_SERVER = (
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "sys.stdin.close(); time.sleep(600)"
)
CLIENT = """\
import sys, anyio
from pathlib import Path
from pytest_specbench.agent.tools import RunPaths, Transport, open_tool_session
from pytest_specbench.config.settings import BriefConfig, ServerConfig

async def main():
    root = Path(sys.argv[1])
    server = ServerConfig(command=(sys.executable, "-c", sys.argv[2], sys.argv[3]))
    brief = BriefConfig(id="b", codebase=root, prompt="", server=server)
    print("connecting", flush=True)
    async with open_tool_session(brief, RunPaths(root, root / "specs", root), Transport.STDIO, 600):
        pass

anyio.run(main)
"""


def test_a_killed_client_takes_its_server_along(tmp_path: Path) -> None:
    # The worst case of an interrupted xdist session: the process holding the MCP client is
    # SIGKILLed, so no teardown runs, and its server ignores a closed stdin and SIGTERM.
    marker = f"specbench-marker-{uuid.uuid4().hex}"
    argv = [sys.executable, "-c", CLIENT, str(tmp_path), DEAF_SERVER, marker]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as client:
        try:
            assert client.stdout is not None and client.stdout.readline() == "connecting\n"
            _wait_for(lambda: marked_processes(marker) != [], timeout=20)
        finally:
            client.kill()
    _wait_for(lambda: marked_processes(marker) == [], timeout=10)
