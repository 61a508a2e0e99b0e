"""The eval suite of the report's tests: 2 scripted models (one hostile) on one brief, bare and full."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_specbench.testing import FakeProvider, Reply, Step, call

HOSTILE = "<script>alert(1)</script>"
"""A feature title a hostile model writes; the page must show it as text."""
HOSTILE_DESCRIPTION = '<img src="x" onerror="alert(2)"> and <b>bold</b>'

CONFIG = """\
[defaults]
max_turns = 8

[models.alpha]
provider = "openai"
model = "scripted-alpha"
base_url = "{openai}"

[models.beta]
provider = "anthropic"
model = "scripted-beta"
base_url = "{anthropic}"
api_key_env = "SPECBENCH_TEST_KEY"

[briefs.notes]
codebase = "codebase"
prompt = "Specify this notes app."
min_requirements = 4
min_features = 2
reference_features = [{{ name = "notes", aliases = ["note"] }}, {{ name = "search" }}, {{ name = "export" }}]
min_feature_recall = 0.6
"""

TEST_FILE = """
def test_spec(spec_run, specbench_scaffold):
    spec_run.verify()
"""


def offered(body: dict[str, Any]) -> set[str]:
    """The tool names a request offers, in either provider's format."""
    return {t.get("function", t)["name"] for t in body.get("tools", [])}


def writer(features: list[tuple[str, str]], bare: int, full: int, *, bad_call: bool = False) -> list[Step]:
    """A model that writes `features`, then `bare` requirements on the first (scaffolded: `full` on all)."""

    def start(body: dict[str, Any]) -> Reply:
        calls = [call("create_feature", title=t, description=d) for t, d in features]
        if bad_call:
            calls.append(call("create_requirement", feature_id="F-0099", title="x", description="y"))
        return Reply(tool_calls=calls, input_tokens=1200, output_tokens=300)

    def write(body: dict[str, Any]) -> Reply:
        scaffolded = "todo_write" in offered(body)
        count, spread = (full, len(features)) if scaffolded else (bare, 1)
        todo = [call("todo_write", items=[{"content": "Specify every feature", "status": "done"}])]
        calls = todo if scaffolded else []
        calls += [
            call(
                "create_requirement",
                feature_id=f"F-{1 + i % spread:04d}",
                title=f"Requirement {i}",
                description=f"The app does thing {i}.",
                acceptance_criteria=[f"Given {i}, then {i}"],
            )
            for i in range(count)
        ]
        return Reply(tool_calls=calls, input_tokens=2400, output_tokens=900)

    return [start, write, Reply(text=f"Wrote {len(features)} features.", input_tokens=3000, output_tokens=20)]


ALPHA = [
    ("Note taking", "Write and keep notes."),
    ("Search notes", "Find a note by text."),
    (HOSTILE, HOSTILE_DESCRIPTION),
]
BETA = [("Taking notes", "Notes are written and stored."), ("Export to CSV", "Export every note.")]


def script_models(provider: FakeProvider, alpha: str = "scripted-alpha", beta: str = "scripted-beta") -> None:
    """Script both models: alpha writes more, beta makes a tool error and fewer requirements."""
    provider.script(alpha, writer(ALPHA, bare=3, full=6))
    provider.script(beta, writer(BETA, bare=1, full=4, bad_call=True))


def write_suite(directory: Path, provider: FakeProvider) -> None:
    """The eval suite of the report session: config, codebase and test file in `directory`."""
    codebase = directory / "codebase"
    codebase.mkdir(parents=True)
    (codebase / "README.md").write_text("# notes\nA note-taking app with search and CSV export.\n")
    (codebase / "app.py").write_text("def add_note(text):\n    return text.strip()\n")
    config = CONFIG.format(openai=provider.openai_base_url, anthropic=provider.anthropic_base_url)
    (directory / "specbench.toml").write_text(config)
    (directory / "pytest.ini").write_text("[pytest]\nspecbench_config = specbench.toml\n")
    (directory / "test_report_suite.py").write_text(TEST_FILE)
