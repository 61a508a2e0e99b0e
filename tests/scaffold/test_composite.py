"""The spec server and the scaffold behind one ToolSession, through real in-memory MCP clients."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from pytest_specbench.agent.loop import Limits, ToolOutcome, run_agent
from pytest_specbench.agent.stats import RunStats
from pytest_specbench.agent.tools import RunPaths, Transport, open_tool_session
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.config.settings import BARE, FULL, BriefConfig, ScaffoldConfig, ScaffoldTool
from pytest_specbench.errors import ServerError
from pytest_specbench.models.types import AssistantTurn, Message, ToolResultsMessage, ToolSpec
from pytest_specbench.scaffold import ScaffoldedTools, open_scaffolded_tools, scaffold_prompt
from pytest_specbench.scaffold.composite import REMINDER_HEAD
from pytest_specbench.testing import Reply, ScriptedClient, call

SPEC_TOOLS = [
    "list_files",
    "read_file",
    "search_code",
    "create_feature",
    "create_requirement",
    "update_item",
    "delete_item",
    "get_spec_tree",
]
SCAFFOLD_TOOLS = ["todo_write", "todo_read", "plan_write", "plan_read", "notes_write", "notes_read"]
TODO_ONLY = ScaffoldConfig("todo-only", (ScaffoldTool.TODO,))


@asynccontextmanager
async def scaffolded(tmp_path: Path, scaffold: ScaffoldConfig) -> AsyncIterator[ScaffoldedTools]:
    """The reference server (in memory) merged with `scaffold`'s tools."""
    codebase = tmp_path / "code"
    codebase.mkdir(exist_ok=True)
    (codebase / "app.py").write_text("def main():\n    return 1\n")
    paths = RunPaths(tmp_path / "ws", tmp_path / "ws" / "specs", codebase)
    paths.workspace.mkdir(exist_ok=True)
    brief = BriefConfig(id="b", codebase=codebase, prompt="Specify it.")
    async with (
        open_tool_session(brief, paths, Transport.MEMORY, timeout_s=10) as spec,
        open_scaffolded_tools(spec, scaffold, paths.workspace / "scaffold", timeout_s=10) as tools,
    ):
        yield tools


def with_tools(
    tmp_path: Path, scaffold: ScaffoldConfig, body: Callable[[ScaffoldedTools], Awaitable[Any]]
) -> Any:
    async def main() -> Any:
        async with scaffolded(tmp_path, scaffold) as tools:
            return await body(tools)

    return anyio.run(main)


async def names(tools: ScaffoldedTools) -> list[str]:
    return [spec.name for spec in await tools.list_tools()]


def test_bare_offers_only_the_spec_servers_tools(tmp_path: Path) -> None:
    assert with_tools(tmp_path, BARE, names) == SPEC_TOOLS
    assert not (tmp_path / "ws" / "scaffold").exists()


def test_full_offers_the_spec_tools_then_every_scaffold_tool(tmp_path: Path) -> None:
    assert with_tools(tmp_path, FULL, names) == SPEC_TOOLS + SCAFFOLD_TOOLS
    assert with_tools(tmp_path, TODO_ONLY, names) == [*SPEC_TOOLS, "todo_write", "todo_read"]


def test_calls_are_routed_by_name_and_scaffold_outcomes_marked(tmp_path: Path) -> None:
    async def body(tools: ScaffoldedTools) -> list[ToolOutcome]:
        return [
            await tools.call_tool("create_feature", {"title": "Main", "description": "d"}),
            await tools.call_tool("todo_write", {"items": [{"content": "Specify Main", "status": "done"}]}),
            await tools.call_tool("plan_write", {"steps": []}),
            await tools.call_tool("todo_read", {}),
        ]

    feature, todo, plan, read = with_tools(tmp_path, FULL, body)
    assert (feature.scaffold, feature.is_error) == (False, False) and "F-0001" in feature.content
    assert (todo.scaffold, todo.is_error) == (True, False)
    assert (plan.scaffold, plan.is_error) == (True, False)
    assert read.content == "Todo list (1 of 1 done, 0 in progress):\n1. [done] Specify Main"
    todo_file = json.loads((tmp_path / "ws" / "scaffold" / "todo.json").read_text())
    assert todo_file["items"] == [{"content": "Specify Main", "status": "done"}]


def test_reminder_shows_the_todo_list_only_when_the_scaffold_reminds(tmp_path: Path) -> None:
    async def body(tools: ScaffoldedTools) -> str:
        assert tools.reminder is not None
        await tools.call_tool("todo_write", {"items": [{"content": "Read", "status": "in_progress"}]})
        return await tools.reminder()

    reminder = with_tools(tmp_path, FULL, body)
    assert reminder == f"{REMINDER_HEAD}\nTodo list (0 of 1 done, 1 in progress):\n1. [in_progress] Read"
    assert with_tools(tmp_path, TODO_ONLY, _reminder_of) is None
    assert with_tools(tmp_path, BARE, _reminder_of) is None


async def _reminder_of(tools: ScaffoldedTools) -> Callable[[], Awaitable[str]] | None:
    return tools.reminder


class ClashingServer:
    """A spec server that happens to offer a tool called todo_read."""

    async def list_tools(self) -> list[ToolSpec]:
        return [ToolSpec("todo_read", "", {"type": "object"}), ToolSpec("read_file", "", {"type": "object"})]

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        return ToolOutcome("spec server's")


def test_a_name_both_offer_is_refused_when_opening(tmp_path: Path) -> None:
    async def main() -> None:
        async with open_scaffolded_tools(ClashingServer(), FULL, tmp_path, timeout_s=10):
            pytest.fail("opened despite the clash")

    with pytest.raises(ServerError, match=r"offers todo_read, which scaffold 'full' also offers: rename"):
        anyio.run(main)


def test_scaffold_prompt_names_the_tools_and_the_reminder() -> None:
    assert scaffold_prompt(BARE) == ""
    full = scaffold_prompt(FULL)
    for name in SCAFFOLD_TOOLS:
        assert name in full
    assert "shown your todo list" in full
    assert "plan_write" not in scaffold_prompt(TODO_ONLY)
    assert "shown your todo list" not in scaffold_prompt(TODO_ONLY)


class RemindedClient(ScriptedClient):
    """A scripted model that also keeps the reminders it was sent."""

    reminders: list[str]

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec]) -> AssistantTurn:
        self.reminders = [m.reminder for m in messages if isinstance(m, ToolResultsMessage)]
        return await super().generate(system, messages, tools)


def test_the_loop_records_scaffold_calls_and_sends_reminders(tmp_path: Path) -> None:
    client = RemindedClient(
        [
            Reply(tool_calls=[call("todo_write", items=[{"content": "Specify main"}]), call("list_files")]),
            Reply.tool("create_feature", title="Main", description="d"),
            Reply.final("Done."),
        ]
    )
    transcript = Transcript()

    async def body(tools: ScaffoldedTools) -> None:
        limits = Limits(max_turns=5, timeout_s=30)
        await run_agent(
            client,
            tools,
            system="s",
            prompt="p",
            limits=limits,
            transcript=transcript,
            reminder=tools.reminder,
        )

    with_tools(tmp_path, FULL, body)
    assert [(c.name, c.scaffold) for c in transcript.tool_calls()] == [
        ("todo_write", True),
        ("list_files", False),
        ("create_feature", False),
    ]
    assert RunStats.from_transcript(transcript, 0).scaffold_calls == 1
    pending = f"{REMINDER_HEAD}\nTodo list (0 of 1 done, 0 in progress):\n1. [pending] Specify main"
    assert client.reminders == [pending, pending]
