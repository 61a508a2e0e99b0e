"""The scaffold MCP server: a todo list, a plan and a scratchpad for the model, as MCP tools.

The tool names, arguments and result texts are served identically to every provider,
so a scaffold's effect is the same harness for every model. Arguments are checked by
the SDK against the schema (a violation reaches the model as a validation error);
every result is plain text.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field, WithJsonSchema

from pytest_specbench.config.settings import ScaffoldTool
from pytest_specbench.scaffold.state import ScaffoldState, TodoItem, TodoStatus

__all__ = ["TOOL_NAMES", "build_scaffold_server"]

TOOL_NAMES: dict[ScaffoldTool, tuple[str, str]] = {
    ScaffoldTool.TODO: ("todo_write", "todo_read"),
    ScaffoldTool.PLAN: ("plan_write", "plan_read"),
    ScaffoldTool.NOTES: ("notes_write", "notes_read"),
}
"""The tools each tool set adds, writer first."""

_READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
_REPLACE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)
_APPEND = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
)

_Tool = tuple[Callable[..., str], ToolAnnotations]


class TodoEntry(BaseModel):
    """One todo item as the model sends it."""

    content: Annotated[str, Field(min_length=1, description="The piece of work, e.g. 'Specify login'.")]
    status: Annotated[TodoStatus, Field(description="pending, in_progress or done.")] = "pending"


# Inlined rather than a `$ref` into `$defs`: small local models follow flat schemas better.
TodoItems = Annotated[
    list[TodoEntry],
    WithJsonSchema({"type": "array", "items": TodoEntry.model_json_schema()}),
    Field(description="The whole list, in order: every item, not only the changed ones."),
]
Steps = Annotated[
    list[Annotated[str, Field(min_length=1)]],
    Field(description="The steps in order, one short sentence each."),
]


def build_scaffold_server(tools: Iterable[ScaffoldTool], directory: Path) -> MCPServer:
    """A scaffold server offering `tools`, keeping its state for one run.

    Args:
        tools: The tool sets to offer (todo, plan, notes).
        directory: Where todo.json, plan.json and notes.md are written (created on first write).
    """
    server = MCPServer("specbench-scaffold", log_level="WARNING")
    state = ScaffoldState(directory)
    for tool_set in dict.fromkeys(tools):
        for tool, hints in _TOOL_SETS[tool_set](state):
            description = inspect.cleandoc(tool.__doc__ or "")
            server.add_tool(tool, description=description, annotations=hints, structured_output=False)
    return server


def _todo(state: ScaffoldState) -> list[_Tool]:
    def todo_write(items: TodoItems) -> str:
        """Replace your todo list with these items, in order; returns the saved list.

        Send the whole list each time. Each item has content and a status: pending, in_progress
        or done. Mark an item in_progress when you start it and done as soon as it is finished.
        """
        return state.write_todo([TodoItem(item.content, item.status) for item in items])

    def todo_read() -> str:
        """Show your todo list with the status of each item."""
        return state.todo_text()

    return [(todo_write, _REPLACE), (todo_read, _READ)]


def _plan(state: ScaffoldState) -> list[_Tool]:
    def plan_write(steps: Steps) -> str:
        """Replace your plan with these steps: your approach from start to finish; returns the saved plan.

        Write it before you start and rewrite it when your approach changes.
        """
        return state.write_plan(steps)

    def plan_read() -> str:
        """Show your plan, its steps numbered."""
        return state.plan_text()

    return [(plan_write, _REPLACE), (plan_read, _READ)]


def _notes(state: ScaffoldState) -> list[_Tool]:
    def notes_write(
        text: Annotated[str, Field(description="Markdown to keep, e.g. what a module does.")],
        append: Annotated[bool, Field(description="Add to the notes (true) or replace them (false).")] = True,
    ) -> str:
        """Write to your scratchpad, which keeps what you learn for later in the run.

        By default the text is appended on a new line; append=false replaces all notes.
        """
        return state.write_notes(text, append)

    def notes_read() -> str:
        """Show everything in your scratchpad."""
        return state.notes_text()

    return [(notes_write, _APPEND), (notes_read, _READ)]


_TOOL_SETS: dict[ScaffoldTool, Callable[[ScaffoldState], list[_Tool]]] = {
    ScaffoldTool.TODO: _todo,
    ScaffoldTool.PLAN: _plan,
    ScaffoldTool.NOTES: _notes,
}
