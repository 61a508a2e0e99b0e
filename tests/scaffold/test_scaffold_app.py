"""The scaffold MCP server through a real in-memory MCP client."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.types import TextContent

from pytest_specbench.config.settings import ScaffoldTool
from pytest_specbench.scaffold import build_scaffold_server

ALL = list(ScaffoldTool)


async def call(client: Client, tool: str, **arguments: Any) -> tuple[bool, str]:
    result = await client.call_tool(tool, arguments)
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    return result.is_error, "\n".join(texts)


def run_with(tools: list[ScaffoldTool], directory: Path, body: Callable[[Client], Awaitable[None]]) -> None:
    async def main() -> None:
        async with Client(build_scaffold_server(tools, directory)) as client:
            await body(client)

    anyio.run(main)


def listed(tools: list[ScaffoldTool], directory: Path) -> dict[str, dict[str, Any]]:
    """The input schema of each tool the server lists, in listing order."""
    found: dict[str, dict[str, Any]] = {}

    async def body(client: Client) -> None:
        found.update({t.name: t.input_schema for t in (await client.list_tools()).tools})

    run_with(tools, directory, body)
    return found


def test_each_tool_set_adds_its_writer_and_reader(tmp_path: Path) -> None:
    assert list(listed(ALL, tmp_path)) == [
        "todo_write",
        "todo_read",
        "plan_write",
        "plan_read",
        "notes_write",
        "notes_read",
    ]
    assert list(listed([ScaffoldTool.NOTES], tmp_path)) == ["notes_write", "notes_read"]


def test_todo_schema_is_flat_with_the_three_statuses(tmp_path: Path) -> None:
    schemas = listed([ScaffoldTool.TODO], tmp_path)
    todo = schemas["todo_write"]
    assert "$ref" not in json.dumps(todo) and todo["required"] == ["items"]
    item = todo["properties"]["items"]["items"]
    assert item["properties"]["status"]["enum"] == ["pending", "in_progress", "done"]
    assert item["required"] == ["content"]
    assert schemas["todo_read"]["properties"] == {}


def test_todo_list_round_trips_and_lands_in_todo_json(tmp_path: Path) -> None:
    seen: list[tuple[bool, str]] = []

    async def body(client: Client) -> None:
        seen.append(await call(client, "todo_read"))
        items = [{"content": "Read the code", "status": "done"}, {"content": "Write features"}]
        seen.append(await call(client, "todo_write", items=items))
        seen.append(await call(client, "todo_read"))

    run_with(ALL, tmp_path, body)
    assert seen[0] == (False, "The todo list is empty. Use todo_write to list the work left.")
    listing = "Todo list (1 of 2 done, 0 in progress):\n1. [done] Read the code\n2. [pending] Write features"
    assert seen[1] == seen[2] == (False, listing)
    assert json.loads((tmp_path / "todo.json").read_text()) == {
        "version": 1,
        "items": [
            {"content": "Read the code", "status": "done"},
            {"content": "Write features", "status": "pending"},
        ],
    }


def test_an_empty_write_says_what_it_did_and_shows_a_filled_one(tmp_path: Path) -> None:
    seen: list[tuple[bool, str]] = []

    async def body(client: Client) -> None:
        await call(client, "todo_write", items=[{"content": "Read the code"}])
        seen.append(await call(client, "todo_write", items=[]))
        seen.append(await call(client, "todo_read"))
        seen.append(await call(client, "plan_write", steps=[]))

    run_with(ALL, tmp_path, body)
    (cleared_error, cleared), after, (plan_error, plan) = seen
    # Not the empty list's nudge to call todo_write: that answer kept a small model calling it empty.
    assert not cleared_error and cleared.startswith("todo_write got no items, so the todo list is now empty")
    assert '{"items": [{"content": "Specify the add command", "status": "in_progress"}' in cleared
    assert after == (False, "The todo list is empty. Use todo_write to list the work left.")
    assert json.loads((tmp_path / "todo.json").read_text())["items"] == []
    assert not plan_error and plan.startswith("plan_write got no steps") and '{"steps": [' in plan


def test_bad_todo_items_are_validation_errors_the_model_can_act_on(tmp_path: Path) -> None:
    seen: list[tuple[bool, str]] = []

    async def body(client: Client) -> None:
        seen.append(await call(client, "todo_write", items=[{"content": "x", "status": "finished"}]))
        seen.append(await call(client, "todo_write", items=[{"content": ""}]))

    run_with(ALL, tmp_path, body)
    (bad_status, wrong), (empty, short) = seen
    assert bad_status and "validation error" in wrong and "'pending', 'in_progress' or 'done'" in wrong
    assert empty and "at least 1 character" in short
    assert not (tmp_path / "todo.json").exists()


def test_plan_replaces_and_lands_in_plan_json(tmp_path: Path) -> None:
    seen: list[tuple[bool, str]] = []

    async def body(client: Client) -> None:
        seen.append(await call(client, "plan_read"))
        await call(client, "plan_write", steps=["Skim everything"])
        seen.append(await call(client, "plan_write", steps=["Read the code", "Write the features"]))
        seen.append(await call(client, "plan_read"))

    run_with(ALL, tmp_path, body)
    assert seen[0] == (False, "There is no plan yet. Use plan_write to set out the steps.")
    assert seen[1] == seen[2] == (False, "Plan (2 steps):\n1. Read the code\n2. Write the features")
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan == {"version": 1, "steps": ["Read the code", "Write the features"]}


def test_notes_append_by_default_and_replace_on_request(tmp_path: Path) -> None:
    seen: list[tuple[bool, str]] = []

    async def body(client: Client) -> None:
        seen.append(await call(client, "notes_read"))
        seen.append(await call(client, "notes_write", text="app.py adds notes"))
        await call(client, "notes_write", text="README: a note-taking app")
        seen.append(await call(client, "notes_read"))
        seen.append(await call(client, "notes_write", text="start over", append=False))

    run_with(ALL, tmp_path, body)
    assert seen[0] == (False, "The notes are empty. Use notes_write to keep what you learn.")
    assert seen[1] == (False, "Appended to the notes; they now hold 17 characters.")
    assert seen[2] == (False, "app.py adds notes\nREADME: a note-taking app")
    assert seen[3] == (False, "Replaced the notes; they now hold 10 characters.")
    assert (tmp_path / "notes.md").read_text() == "start over"


def test_reads_write_no_files(tmp_path: Path) -> None:
    async def body(client: Client) -> None:
        for tool in ("todo_read", "plan_read", "notes_read"):
            await call(client, tool)

    run_with(ALL, tmp_path / "scaffold", body)
    assert not (tmp_path / "scaffold").exists()
