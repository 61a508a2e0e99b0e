"""`[scaffolds.<id>]` tables, the built-ins, and the test-id rule with a third axis."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_specbench.config.settings import BARE, FULL, Config, ScaffoldConfig, ScaffoldTool, run_id

MODEL = '[models.m]\nprovider = "openai"\nmodel = "gpt"\n'
BRIEF = '[briefs.b]\ncodebase = "code"\nprompt = "Write specs."\n'


def load(toml: Any, text: str) -> Config:
    return toml.load(MODEL + BRIEF + text)


def failure(toml: Any, text: str) -> str:
    return toml.failure(MODEL + BRIEF + text)


def test_bare_and_full_are_built_in() -> None:
    assert (BARE.tools, BARE.remind) == ((), False)
    assert (FULL.tools, FULL.remind) == ((ScaffoldTool.TODO, ScaffoldTool.PLAN, ScaffoldTool.NOTES), True)


def test_a_config_without_scaffolds_has_the_built_ins(toml: Any) -> None:
    assert load(toml, "").scaffolds == {"bare": BARE, "full": FULL}


def test_a_scaffold_table_adds_a_scaffold(toml: Any) -> None:
    text = '[scaffolds.todo-only]\ntools = ["todo", "todo"]\nremind = true\n'
    text += '[scaffolds.memo]\ntools = ["notes"]\n'
    scaffolds = load(toml, text).scaffolds
    assert list(scaffolds) == ["bare", "full", "todo-only", "memo"]
    assert scaffolds["todo-only"] == ScaffoldConfig("todo-only", (ScaffoldTool.TODO,), remind=True)
    assert scaffolds["memo"] == ScaffoldConfig("memo", (ScaffoldTool.NOTES,), remind=False)


@pytest.mark.parametrize(
    ("table", "fragments"),
    [
        (
            '[scaffolds.s]\ntools = ["todos"]\n',
            ['[scaffolds.s]: tools: unknown tool set "todos"', 'did you mean "todo"?'],
        ),
        (
            '[scaffolds.s]\ntools = "todo"\n',
            ["tools: expected array of str", 'write tools = ["todo", "plan", "notes"]'],
        ),
        ("[scaffolds.s]\nremind = false\n", ["tools: required key is missing"]),
        (
            '[scaffolds.s]\ntools = ["notes"]\nremind = true\n',
            ["remind: reminds the model of its todo list", 'add "todo" to tools, or set remind = false'],
        ),
        ('[scaffolds.bare]\ntools = ["todo"]\n', ['"bare" is a built-in scaffold', "[scaffolds.my-bare]"]),
        ("[scaffolds.s]\ntools = []\nreminder = true\n", ["reminder: unknown key", 'did you mean "remind"?']),
        ("[scaffolds]\n", ["no scaffolds defined"]),
    ],
    ids=["unknown-tool", "not-a-list", "no-tools", "remind-without-todo", "built-in", "typo", "empty"],
)
def test_a_broken_scaffold_table_names_the_fix(toml: Any, table: str, fragments: list[str]) -> None:
    message = failure(toml, table)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_the_bare_run_keeps_its_two_part_id() -> None:
    assert run_id("gpt", "todo-app") == run_id("gpt", "todo-app", "bare") == "gpt-todo-app"
    assert run_id("gpt", "todo-app", "full") == "gpt-todo-app-full"


def test_ids_are_checked_across_every_scaffold(toml: Any) -> None:
    text = '[briefs.b-full]\ncodebase = "code"\nprompt = "x"\n'
    message = failure(toml, text)
    assert 'test id "m-b-full" is ambiguous' in message
    assert 'model "m" with brief "b" and scaffold "full"' in message
    assert 'model "m" with brief "b-full"' in message
    assert 'rename model "m" or brief "b-full", e.g. to "b_full"' in message


def test_a_custom_scaffold_may_be_the_one_to_rename(toml: Any) -> None:
    text = '[briefs.b-x]\ncodebase = "code"\nprompt = "x"\n[scaffolds.x]\ntools = ["plan"]\n'
    assert 'rename model "m" or brief "b-x" or scaffold "x"' in failure(toml, text)
