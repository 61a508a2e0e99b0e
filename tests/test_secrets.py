"""An API key never reaches an output: transcripts, results.json, snapshots, logs, errors, the terminal.

The fake provider requires a recognisable key, so every model must send it. The models
then do everything that could leak it: echo it in tool arguments and the final answer,
read it from a `.env` in the codebase, get it echoed in an HTTP 403, and run against an
MCP server that prints it on stderr and dies. Then every file the session wrote, and
everything it printed, is scanned for the key.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench.models.types import AssistantTurn
from pytest_specbench.redact import Redactor
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


SEEN_BY_THE_LOOP = f"""
def test_spec(spec_run):
    seen = spec_run.transcript.to_jsonl()  # not redacted on the way out: what the loop was handed
    assert {KEY_TAIL!r} not in seen and "[REDACTED]" in seen
"""
OWN_CLIENT = """
import os

import pytest

from pytest_specbench.models import open_client


@pytest.fixture
def model_client(specbench_model, specbench_settings, specbench_portal):
    opened = open_client(specbench_model, specbench_settings, os.environ["SPECBENCH_FAKE_KEY"])
    with specbench_portal.wrap_async_context_manager(opened) as client:
        yield client
"""


WRAPPED_CLIENT = """
import pytest


class Logged:
    def __init__(self, inner):
        self.inner = inner

    async def generate(self, *args, **kwargs):
        return await self.inner.generate(*args, **kwargs)


@pytest.fixture
def model_client(model_client):
    yield Logged(model_client)
"""


@pytest.fixture
def redacted_turns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text of every model turn a Redactor is handed in this process (pytester runs in it)."""
    seen: list[str] = []
    turn = Redactor.turn

    def counting(self: Redactor, given: AssistantTurn) -> AssistantTurn:
        seen.append(given.text)
        return turn(self, given)

    monkeypatch.setattr(Redactor, "turn", counting)
    return seen


def test_each_live_turn_is_redacted_exactly_once_on_every_path(
    suite: Any,
    provider: FakeProvider,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    redacted_turns: list[str],
) -> None:
    """Live, recording, replay, repeats and a user's own `model_client`: a turn the provider sends
    is redacted once before the loop sees it, and a replayed one (redacted when recorded) not again.

    In process only: the count is kept in this process, which xdist's workers are not.
    """
    monkeypatch.setenv(KEY_VARIABLE, FAKE_KEY)
    name = suite.model("echo", "openai", stream=True, api_key_env=KEY_VARIABLE)
    writes = call("create_feature", title="Keys", description=f"Use {FAKE_KEY}.")
    provider.script(name, [Reply(tool_calls=[writes], text=FAKE_KEY), Reply.final(f"The key is {FAKE_KEY}.")])
    suite.brief("notes")
    suite.write(SEEN_BY_THE_LOOP)

    def turns_redacted(*args: str) -> int:
        redacted_turns.clear()
        pytester.runpytest(*args).assert_outcomes(passed=1)
        assert all("[REDACTED]" not in text for text in redacted_turns)  # never a turn redacted before
        return len(redacted_turns)

    assert turns_redacted() == 2  # live
    assert turns_redacted("--specbench-record-mode=all") == 2  # recording what the loop saw
    assert FAKE_KEY not in (pytester.path / "cassettes" / "test_spec.echo-notes.jsonl").read_text()
    assert turns_redacted("--specbench-record-mode=none") == 0  # replayed: redacted when recorded
    assert turns_redacted("--specbench-repeats=2") == 4  # each sample's client, once
    pytester.makeconftest(OWN_CLIENT)
    assert turns_redacted() == 2  # a user's client, redacted by spec_run


def test_an_override_that_wraps_the_plugins_client_still_records_its_cassette(
    suite: Any,
    provider: FakeProvider,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    writing: Any,
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, FAKE_KEY)
    provider.script(suite.model("wrapped", api_key_env=KEY_VARIABLE), writing(1, 1))
    suite.brief("notes")
    suite.write("def test_spec(spec_run):\n    spec_run.verify()\n")
    pytester.makeconftest(WRAPPED_CLIENT)

    pytester.runpytest("--specbench-record-mode=all", "--specbench-report=out").assert_outcomes(passed=1)
    replayed = pytester.runpytest("--specbench-record-mode=none", "--specbench-report=again")

    replayed.assert_outcomes(passed=1)
    assert (pytester.path / "cassettes" / "test_spec.wrapped-notes.jsonl").exists()
    (recorded,) = json.loads((pytester.path / "out" / "results.json").read_text())
    (again,) = json.loads((pytester.path / "again" / "results.json").read_text())
    assert (recorded["source"], again["source"]) == ("recorded", "replayed")
