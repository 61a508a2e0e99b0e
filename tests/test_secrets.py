"""An API key never reaches an output: transcripts, results.json, snapshots, logs, errors, the terminal.

The fake provider requires a recognisable key, so every model must send it. The models
then do everything that could leak it: echo it in tool arguments and the final answer,
read it from a `.env` in the codebase, get it echoed in an HTTP 403, and run against an
MCP server that prints it on stderr and dies. Then every file the session wrote, and
everything it printed, is scanned for the key.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench.testing import FakeProvider, Fault, Reply, call

FAKE_KEY = "sk-specbench-FAKE-0123456789abcdef"
KEY_TAIL = FAKE_KEY[-16:]
"""Part of the key, caught too: a redactor that only shortened the key would still leak."""
KEY_VARIABLE = "SPECBENCH_FAKE_KEY"
INPUTS = ("specbench.toml", "tox.ini", "test_suite_specs.py", "leaky_server.py", ".env")
"""Files the test wrote itself; the key is in the codebase's .env on purpose."""
LEAKY_SERVER = """
import sys
from pathlib import Path

# A server that logs its configuration, key included, and dies before the handshake.
key = Path(sys.argv[1], ".env").read_text().split("=", 1)[1].strip()
print(f"leaky server: starting with OPENAI_API_KEY={key}", file=sys.stderr, flush=True)
print(f"fatal: key {key} rejected", file=sys.stderr, flush=True)
sys.exit(3)
"""
TEST = """
def test_spec(spec_run, snapshot):
    assert spec_run.transcript.stop.reason == "final_answer"
    assert spec_run.tree == snapshot
"""


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    """A fake provider that answers 401 unless the request carries FAKE_KEY."""
    with FakeProvider(require_key=FAKE_KEY) as fake:
        yield fake


def _echo_script() -> list[Reply]:
    return [
        Reply(tool_calls=[call("read_file", path=".env")], text=f"Reading with {FAKE_KEY}."),
        Reply(
            tool_calls=[
                call("create_feature", title=f"Key {FAKE_KEY}", description=f"Authenticate with {FAKE_KEY}."),
                call("create_feature", _raw=f'{{"title": "broken {FAKE_KEY}'),
                call(f"tool_{FAKE_KEY}"),
            ]
        ),
        Reply.final(f"Done. The key is {FAKE_KEY}; see specs/{FAKE_KEY}.md"),
    ]


def test_the_key_appears_in_no_output(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, FAKE_KEY)
    for protocol, stream in (("openai", False), ("anthropic", True)):
        name = suite.model(f"echo-{protocol}", protocol, stream=stream, api_key_env=KEY_VARIABLE)
        provider.script(name, _echo_script())
    denied = suite.model("denied", "openai", api_key_env=KEY_VARIABLE, max_retries=0)
    provider.script(denied, [Reply(faults=[Fault(status=403, message=f"key {FAKE_KEY} is revoked")])])
    suite.brief("notes")
    (pytester.path / "codebases" / "notes" / ".env").write_text(f"OPENAI_API_KEY={FAKE_KEY}\n")
    pytester.makepyfile(leaky_server=LEAKY_SERVER)
    leaky = {"command": [sys.executable, str(pytester.path / "leaky_server.py"), "{codebase}"]}
    suite.brief("leaky", codebase="codebases/notes", server=leaky)
    suite.write(TEST)

    result = pytester.runpytest(
        "-n", "2", "--specbench-report=out", "--snapshot-update", "--basetemp=bt", "-rA", "--log-level=DEBUG"
    )

    result.assert_outcomes(passed=2, errors=4)
    terminal = result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(
        [
            "*ServerError: MCP server could not be started*server stderr: leaky server: *KEY=[[]REDACTED[]]*",
            "*ProviderError: model 'denied': authentication failed (HTTP 403: key *** is revoked)*",
        ]
    )
    written = _outputs(pytester.path)
    assert len(written) >= 12  # results.json, 6 transcripts, 2 snapshots, 6 server logs...
    for secret in (FAKE_KEY, KEY_TAIL):
        assert secret not in terminal
        assert [path for path in written if secret.encode() in path.read_bytes()] == []
    assert (
        "[REDACTED]"
        in (pytester.path / "out" / "transcripts" / "test_spec[echo-openai-notes].jsonl").read_text()
    )


def _outputs(root: Path) -> list[Path]:
    """Every file under the pytester directory that the session wrote."""
    return [
        path
        for path in root.rglob("*")
        if path.is_file() and path.name not in INPUTS and "__pycache__" not in path.parts
    ]
