"""Scaffolding as a third axis, end to end: pytester runs of a suite with a scripted loopback model."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_specbench.scaffold.composite import REMINDER_HEAD
from pytest_specbench.testing import Call, FakeProvider, Reply, Step, call

pytestmark = pytest.mark.usefixtures("provider")

SCAFFOLD_TOOLS = {"todo_write", "todo_read", "plan_write", "plan_read", "notes_write", "notes_read"}
OPENAI, ANTHROPIC = "/v1/chat/completions", "/v1/messages"

INNER_TEST = """
import json

def test_spec(spec_run, specbench_scaffold):
    todo = spec_run.paths.workspace / "scaffold" / "todo.json"
    if specbench_scaffold.id == "bare":
        assert not todo.exists() and spec_run.stats.scaffold_calls == 0
    else:
        items = json.loads(todo.read_text())["items"]
        assert items == [{"content": "Specify the notes app", "status": "done"}]
        flags = [c.scaffold for c in spec_run.transcript.tool_calls() if c.name == "todo_write"]
        assert flags == [True, True]
"""


def offered(body: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """The tools of a request as {name: (description, schema)}, in either provider's format."""
    tools = [t.get("function", t) for t in body.get("tools", [])]
    return {t["name"]: (t["description"], t.get("parameters", t.get("input_schema"))) for t in tools}


def scaffold_aware_script() -> list[Step]:
    """A model that keeps a todo list when it has one, and then writes 5 requirements instead of 2."""

    def todo(status: str) -> Call:
        return call("todo_write", items=[{"content": "Specify the notes app", "status": status}])

    def start(body: dict[str, Any]) -> Reply:
        feature = call("create_feature", title="Notes", description="Taking notes.")
        return Reply(
            tool_calls=[todo("in_progress"), feature] if "todo_write" in offered(body) else [feature]
        )

    def write(body: dict[str, Any]) -> Reply:
        scaffolded = "todo_write" in offered(body)
        requirements = [
            call(
                "create_requirement",
                feature_id="F-0001",
                title=f"R{i}",
                description="d",
                acceptance_criteria=["c"],
            )
            for i in range(5 if scaffolded else 2)
        ]
        return Reply(tool_calls=[*requirements, todo("done")] if scaffolded else requirements)

    return [start, write, Reply.final("Done.")]


def test_bare_and_full_cross_product_reports_the_effect(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    for model_id, protocol in (("oai", "openai"), ("ant", "anthropic")):
        provider.script(suite.model(model_id, protocol), scaffold_aware_script())
    suite.brief("notes")
    suite.write(INNER_TEST)

    result = pytester.runpytest(
        "--specbench-scaffolds",
        "bare,full",
        "--specbench-transport=memory",
        "--specbench-report=out",
        *xdist_args,
    )

    result.assert_outcomes(passed=4)  # the inner test checks scaffold/todo.json and the transcript
    for model_id in ("oai", "ant"):
        result.stdout.fnmatch_lines(
            [
                "*specbench: scaffold effect (change against bare)*",
                f"test_spec[[]{model_id}-notes[]]*bare*PASSED*1*2*0",
                f"test_spec[[]{model_id}-notes[]]*full*PASSED*1*5*+0 (×1.00)*+3 (×2.50)*2",
            ]
        )
    assert_records_show_the_effect(json.loads((pytester.path / "out" / "results.json").read_text()))
    assert_both_providers_got_the_same_tools_and_reminders(provider.requests)


def assert_records_show_the_effect(records: list[dict[str, Any]]) -> None:
    by_id = {r["test_id"]: r for r in records}
    assert sorted(by_id) == [
        "test_spec[ant-notes-full]",
        "test_spec[ant-notes]",
        "test_spec[oai-notes-full]",
        "test_spec[oai-notes]",
    ]
    bare, full = by_id["test_spec[oai-notes]"], by_id["test_spec[oai-notes-full]"]
    assert (bare["scaffold"], bare["requirements"], bare["scaffold_calls"]) == ("bare", 2, 0)
    assert "requirements_vs_bare" not in bare
    assert (full["scaffold"], full["requirements"], full["scaffold_calls"]) == ("full", 5, 2)
    assert (full["requirements_vs_bare"], full["requirements_ratio_vs_bare"]) == (3, 2.5)
    assert (full["features_vs_bare"], full["features_ratio_vs_bare"]) == (0, 1.0)


def assert_both_providers_got_the_same_tools_and_reminders(
    requests: list[tuple[str, dict[str, Any]]],
) -> None:
    """Bare offers no scaffold tool, full all of them, with equal names, descriptions and schemas."""
    full: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
    for path, body in requests:
        tools = offered(body)
        scaffolded = bool(SCAFFOLD_TOOLS & set(tools))
        assert not scaffolded or set(tools) >= SCAFFOLD_TOOLS
        if scaffolded:
            full[path] = tools
        after_results = any(m.get("role") == "assistant" for m in body["messages"])
        assert (REMINDER_HEAD in json.dumps(body)) == (scaffolded and after_results)
    assert full[OPENAI] == full[ANTHROPIC]
    assert len(full[OPENAI]) == 8 + len(SCAFFOLD_TOOLS)


def test_scaffolds_select_a_third_axis_and_unknown_ids_are_usage_errors(
    suite: Any, pytester: pytest.Pytester
) -> None:
    suite.model("alpha")
    suite.brief("notes")
    suite.write(INNER_TEST + "\ndef test_tools(mcp_server, specbench_model, specbench_brief):\n    pass\n")
    with (pytester.path / "specbench.toml").open("a") as config:
        config.write('[scaffolds.todo-only]\ntools = ["todo"]\n')

    default = pytester.runpytest("--collect-only", "-q")
    default.stdout.fnmatch_lines(["*test_spec[[]alpha-notes[]]", "*test_tools[[]alpha-notes[]]", "*2 tests*"])
    chosen = pytester.runpytest("--collect-only", "-q", "--specbench-scaffolds", "bare,todo-only,full")
    chosen.stdout.fnmatch_lines(
        [
            "*test_spec[[]alpha-notes[]]",
            "*test_spec[[]alpha-notes-todo-only[]]",
            "*test_spec[[]alpha-notes-full[]]",
            "*test_tools[[]alpha-notes[]]",
            "*4 tests*",
        ]
    )
    unknown = pytester.runpytest("--specbench-scaffolds", "bare,fancy")
    assert unknown.ret == pytest.ExitCode.USAGE_ERROR
    unknown.stderr.fnmatch_lines(
        ["*--specbench-scaffolds names unknown id(s) fancy*known: bare, full, todo-only*"]
    )
