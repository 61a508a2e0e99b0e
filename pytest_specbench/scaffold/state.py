"""What a scaffold's tools remember during one run, kept in memory and mirrored to files.

Each write replaces the file it owns, so the workspace always shows the latest state:

    scaffold/todo.json   {"version": 1, "items": [{"content": "...", "status": "pending"}, ...]}
    scaffold/plan.json   {"version": 1, "steps": ["...", ...]}
    scaffold/notes.md    the notes, as the model wrote them

The texts returned here are what the model reads back, so they say how to go on.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

from pytest_specbench._files import write_text_atomic
from pytest_specbench._text import plural

__all__ = ["STATE_VERSION", "TODO_STATUSES", "ScaffoldState", "TodoItem", "TodoStatus"]

STATE_VERSION = 1

TodoStatus: TypeAlias = Literal["pending", "in_progress", "done"]
TODO_STATUSES: tuple[TodoStatus, ...] = ("pending", "in_progress", "done")


@dataclass(frozen=True, slots=True)
class TodoItem:
    """One entry of the todo list."""

    content: str
    status: TodoStatus = "pending"


EMPTY_TODO_WRITE = (
    "todo_write got no items, so the todo list is now empty. Send the work left as items, e.g. "
    '{"items": [{"content": "Specify the add command", "status": "in_progress"}, '
    '{"content": "Specify the list command", "status": "pending"}]}'
)
EMPTY_PLAN_WRITE = (
    "plan_write got no steps, so there is no plan. Send the steps in order, e.g. "
    '{"steps": ["Read README.md", "Write one feature per command"]}'
)


class ScaffoldState:
    """The todo list, plan and notes of one run; every write lands in `directory` at once."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.todo: tuple[TodoItem, ...] = ()
        self.plan: tuple[str, ...] = ()
        self.notes = ""

    def write_todo(self, items: Sequence[TodoItem]) -> str:
        """Replace the todo list; returns it as `todo_text` does, or what an empty write did."""
        self.todo = tuple(items)
        self._save("todo.json", {"items": [asdict(item) for item in self.todo]})
        # An empty write answered with the empty list's own nudge reads as "call me again":
        # a small model did, five times in a row. Say what the call did and show a filled one.
        return self.todo_text() if self.todo else EMPTY_TODO_WRITE

    def todo_text(self) -> str:
        """The todo list, numbered, under a line of counts."""
        if not self.todo:
            return "The todo list is empty. Use todo_write to list the work left."
        counts = Counter(item.status for item in self.todo)
        head = f"{counts['done']} of {len(self.todo)} done, {counts['in_progress']} in progress"
        lines = [f"{n}. [{item.status}] {item.content}" for n, item in enumerate(self.todo, 1)]
        return "\n".join([f"Todo list ({head}):", *lines])

    def write_plan(self, steps: Sequence[str]) -> str:
        """Replace the plan; returns it as `plan_text` does, or what an empty write did."""
        self.plan = tuple(steps)
        self._save("plan.json", {"steps": list(self.plan)})
        return self.plan_text() if self.plan else EMPTY_PLAN_WRITE

    def plan_text(self) -> str:
        """The plan's steps, numbered."""
        if not self.plan:
            return "There is no plan yet. Use plan_write to set out the steps."
        lines = [f"{n}. {step}" for n, step in enumerate(self.plan, 1)]
        return "\n".join([f"Plan ({plural(len(self.plan), 'step')}):", *lines])

    def write_notes(self, text: str, append: bool) -> str:
        """Add to the notes (on a new line) or replace them; returns a short confirmation."""
        if append and self.notes and not self.notes.endswith("\n"):
            self.notes += "\n"
        self.notes = self.notes + text if append else text
        self.directory.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.directory / "notes.md", self.notes)
        verb = "Appended to" if append else "Replaced"
        return f"{verb} the notes; they now hold {plural(len(self.notes), 'character')}."

    def notes_text(self) -> str:
        """The notes as written."""
        return self.notes or "The notes are empty. Use notes_write to keep what you learn."

    def _save(self, name: str, data: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"version": STATE_VERSION, **data}, indent=2, ensure_ascii=False)
        write_text_atomic(self.directory / name, text + "\n")
