"""A team's own stdio server, for real: the example of docs/own-server.md, official server-filesystem.

The model is scripted; the server is @modelcontextprotocol/server-filesystem under node 22 from
tests/node (skipped, naming the install command, where that is not installed).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench.testing import FakeProvider, Reply, call

SERVER_JS = "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"
EXAMPLE_PAGE = Path(__file__).resolve().parent.parent / "docs" / "own-server.md"
FEATURE = "features/F-0001-notes/F-0001-notes.md"
REQUIREMENT = "features/F-0001-notes/requirements/R-0001-add-a-note.md"
FEATURE_TEXT = "---\nid: F-0001\ntype: feature\ntitle: Notes\nstatus: draft\n---\n\nKeeping notes.\n"
REQUIREMENT_TEXT = (
    "---\nid: R-0001\ntype: requirement\ntitle: Add a note\nstatus: draft\nfeature: F-0001\n---\n\n"
    "A note can be added.\n\n## Acceptance Criteria\n\n- Given text, when added, then it is kept\n"
)


def readme_example() -> str:
    """The TOML of the docs' external-server example."""
    text = EXAMPLE_PAGE.read_text(encoding="utf-8")
    found = re.search(r"<!-- external-server-example -->\n```toml\n(.*?)```", text, re.DOTALL)
    assert found, "docs/own-server.md lost its external-server example"
    return found.group(1)


def hack_the_codebase(body: dict[str, Any]) -> Reply:
    """Write into the second allowed directory, which list_allowed_directories just named."""
    listing = body["messages"][-1]["content"]
    codebase = listing.strip().splitlines()[-1]
    return Reply.tool("write_file", path=f"{codebase}/HACKED.md", content="pwned\n")


SCRIPT = [
    Reply.tool("list_allowed_directories"),
    hack_the_codebase,
    Reply.tool("create_directory", path="features/F-0001-notes/requirements"),
    Reply(
        tool_calls=[
            call("write_file", path=FEATURE, content=FEATURE_TEXT),
            call("write_file", path=REQUIREMENT, content=REQUIREMENT_TEXT),
        ]
    ),
    Reply.final(f"Wrote 1 feature and 1 requirement, starting with {FEATURE}."),
]


@pytest.fixture
def fs_suite(pytester: pytest.Pytester, node_bin: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A suite dir with the docs' example beside server-filesystem, node 22 first on PATH."""
    monkeypatch.setenv("PATH", f"{node_bin}{os.pathsep}{os.environ['PATH']}")
    (pytester.path / "node_modules").symlink_to(node_bin.parent, target_is_directory=True)
    code = pytester.path / "codebases" / "notes"
    code.mkdir(parents=True)
    (code / "app.py").write_text("def add_note(text):\n    return text.strip()\n")
    pytester.makeini("[pytest]\nspecbench_config = specbench.toml\n")
    pytester.makepyfile(test_suite_specs="def test_spec(spec_run):\n    spec_run.verify()\n")
    return pytester


def write_config(pytester: pytest.Pytester, provider: FakeProvider, brief: str) -> None:
    model = f'[models.writer]\nprovider = "openai"\nmodel = "fs"\nbase_url = "{provider.openai_base_url}"\n'
    (pytester.path / "specbench.toml").write_text(f"[defaults]\nmax_turns = 10\n\n{model}\n{brief}")


def test_the_readme_example_evaluates_server_filesystem(
    fs_suite: pytest.Pytester, provider: FakeProvider
) -> None:
    provider.script("fs", SCRIPT)
    write_config(fs_suite, provider, readme_example())

    fs_suite.runpytest("--specbench-report=out").assert_outcomes(passed=1)

    (record,) = json.loads((fs_suite.path / "out" / "results.json").read_text())
    assert (record["features"], record["requirements"]) == (1, 1)
    checks = {c["name"]: c["detail"] for c in record["checks"]}
    assert (
        checks["files_exist"]
        == "0 created items on disk; under specs_dir 2 files added, 0 changed, 0 removed"
    )
    assert checks["no_false_claims"] == "5 claims in the final answer hold"  # path, id, 2 counts, "Wrote"
    # The model wrote into its copy of the codebase; the brief's own is as it was.
    assert sorted(p.name for p in (fs_suite.path / "codebases" / "notes").iterdir()) == ["app.py"]
    system = provider.requests[0][1]["messages"][0]["content"]
    assert system.startswith("You write a specification of the codebase with the filesystem tools")


def test_a_server_writing_outside_specs_dir_is_a_configuration_error(
    fs_suite: pytest.Pytester, provider: FakeProvider
) -> None:
    provider.script(
        "fs", [Reply.tool("write_file", path="SPEC.md", content="# Spec\n"), Reply.final("Done.")]
    )
    server = f'{{ command = ["node", "{SERVER_JS}", "{{workspace}}"] }}'
    write_config(
        fs_suite, provider, f'[briefs.b]\ncodebase = "codebases/notes"\nprompt = "p"\nserver = {server}\n'
    )

    result = fs_suite.runpytest("--specbench-report=out")

    result.assert_outcomes(errors=1)
    (record,) = json.loads((fs_suite.path / "out" / "results.json").read_text())
    assert record["error"].startswith(
        "MCP server wrote outside specs_dir (1 file added, 0 changed, 0 removed: "
    )
    assert "workspace/SPEC.md" in record["error"]
    assert "set server.specs_dir to where the server writes the tree" in record["error"]
