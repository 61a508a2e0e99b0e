"""A brief that names its own MCP server: a stdio command or a Streamable HTTP URL."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from pytest_specbench.testing import FakeProvider, Reply, call

SCRIPT = [
    Reply(tool_calls=[call("create_feature", title="Notes", description="Keeping notes.")]),
    Reply.tool(
        "create_requirement",
        feature_id="F-0001",
        title="Add",
        description="d",
        acceptance_criteria=["a note is kept"],
    ),
    Reply.final("Wrote 1 feature and 1 requirement."),
]
REFERENCE_COMMAND = [sys.executable, "-m", "pytest_specbench.server", "--codebase", "{codebase}"]
REFERENCE_COMMAND += ["--specs", "{specs_dir}"]
"""The reference server, run as a team's own stdio server would be."""
TEST = "def test_spec(spec_run):\n    spec_run.verify()\n    assert spec_run.tree.requirement_count == 1\n"


def test_brief_with_a_stdio_command_server(suite, provider: FakeProvider, pytester: pytest.Pytester) -> None:
    provider.script(suite.model("writer"), SCRIPT)
    suite.brief("notes", server={"command": REFERENCE_COMMAND, "env": {"SPECBENCH_MARK": "{workspace}"}})
    suite.write(TEST)

    pytester.runpytest("--specbench-report=out").assert_outcomes(passed=1)

    (record,) = json.loads((pytester.path / "out" / "results.json").read_text())
    assert (record["features"], record["requirements"]) == (1, 1)


def test_brief_with_a_url_server(
    suite, provider: FakeProvider, pytester: pytest.Pytester, http_server: tuple[str, Path]
) -> None:
    url, specs = http_server
    provider.script(suite.model("writer"), SCRIPT)
    suite.brief("notes", server={"url": url, "specs_dir": str(specs)})
    suite.write(TEST)

    pytester.runpytest().assert_outcomes(passed=1)

    assert sorted(p.name for p in specs.rglob("*.md")) == ["F-0001-notes.md", "R-0001-add.md"]


def test_relative_server_paths_are_relative_to_the_config_file(
    suite, provider: FakeProvider, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (pytester.path / "srv.py").write_text("from pytest_specbench.server.__main__ import main\n\nmain()\n")
    provider.script(suite.model("writer"), SCRIPT)
    command = [sys.executable, "srv.py", "--codebase", "{codebase}", "--specs", "{specs_dir}"]
    suite.brief("notes", server={"command": command, "specs_dir": "relspecs"})
    suite.write(TEST)
    elsewhere = pytester.mkdir("elsewhere")
    monkeypatch.chdir(elsewhere)  # pytest started somewhere else than beside the config

    ini = pytester.path / "tox.ini"
    pytester.runpytest("-c", str(ini), "--rootdir", str(pytester.path), str(pytester.path)).assert_outcomes(
        passed=1
    )

    assert sorted(p.name for p in (pytester.path / "relspecs").rglob("*.md")) == [
        "F-0001-notes.md",
        "R-0001-add.md",
    ]
    assert not any(elsewhere.iterdir())


def test_a_missing_program_is_one_line_naming_it(
    suite, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    provider.script(suite.model("writer"), SCRIPT)
    suite.brief("notes", server={"command": ["nodee-not-installed", "srv.js"]})
    suite.write(TEST)

    result = pytester.runpytest("--specbench-report=out", *xdist_args)

    result.assert_outcomes(errors=1)
    message = (
        "MCP server command not found: \"nodee-not-installed\" (brief 'notes', server.command[0])"
        " — is it installed and on PATH?"
    )
    result.stdout.fnmatch_lines([f"ServerError: {message}"])  # the whole report of the error: no traceback
    assert "Traceback" not in result.stdout.str()
    assert "plugin.py" not in result.stdout.str()
    (record,) = json.loads((pytester.path / "out" / "results.json").read_text())
    assert record["error"] == message  # the table's cause column starts with the cause


def test_an_unreachable_url_is_named(
    suite, provider: FakeProvider, pytester: pytest.Pytester, http_server: tuple[str, Path]
) -> None:
    url, _ = http_server
    provider.script(suite.model("writer"), SCRIPT)
    with socket.socket() as sock:  # a port nobody listens on once this closes
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    suite.brief("closed", server={"url": closed})
    suite.brief("wrong-path", server={"url": url + "/nope"})
    suite.write(TEST)

    pytester.runpytest("--specbench-report=out").assert_outcomes(errors=2)

    records = {
        r["brief"]: r["error"] for r in json.loads((pytester.path / "out" / "results.json").read_text())
    }
    assert records["closed"].startswith(f"MCP server at {closed} could not be started or reached: "), records
    assert records["wrong-path"].startswith(f"MCP server at {url}/nope could not be started or reached: "), (
        records
    )


def test_the_system_prompt_suits_the_server(suite, provider: FakeProvider, pytester: pytest.Pytester) -> None:
    from pytest_specbench import DEFAULT_SYSTEM_PROMPT, NEUTRAL_SYSTEM_PROMPT

    provider.script(suite.model("writer"), [Reply.final("Nothing to do.")] * 3)
    (pytester.path / "system.md").write_text("Write the spec with write_file, one file per feature.\n")
    suite.brief("reference", prompt="brief: reference")
    suite.brief("external", prompt="brief: external", server={"command": REFERENCE_COMMAND})
    suite.brief(
        "own", prompt="brief: own", server={"command": REFERENCE_COMMAND}, system_prompt_file="system.md"
    )
    suite.write("def test_spec(spec_run):\n    pass\n")

    pytester.runpytest().assert_outcomes(passed=3)

    sent = {body["messages"][1]["content"]: body["messages"][0]["content"] for _, body in provider.requests}
    assert sent["brief: reference"] == DEFAULT_SYSTEM_PROMPT
    assert sent["brief: external"] == NEUTRAL_SYSTEM_PROMPT
    assert sent["brief: own"] == "Write the spec with write_file, one file per feature.\n"
    for tool in ("create_feature", "list_files", "get_spec_tree"):
        assert tool not in NEUTRAL_SYSTEM_PROMPT


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8085/mcp", "http://127.0.0.1:8085/mcp?workspace={workspace}"]
)
def test_runs_sharing_a_url_server_need_a_per_run_url(suite, pytester: pytest.Pytester, url: str) -> None:
    suite.model("one")
    suite.model("two")
    suite.brief("shared", server={"url": url})
    suite.write(TEST)

    result = pytester.runpytest("--collect-only", "-q")

    if "{workspace}" in url:  # the server can tell the runs apart
        assert result.ret == pytest.ExitCode.OK
        result.stdout.fnmatch_lines(["*test_spec?one-shared?", "*test_spec?two-shared?"])
        return
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"*?briefs.shared.server?: url {url} is shared by 2 runs (one-shared, two-shared)*"
            f'*e.g. url = "{url}?workspace={{workspace}}"*'
        ]
    )
