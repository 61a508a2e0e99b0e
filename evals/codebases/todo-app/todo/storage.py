"""The JSON file that holds the list, and one level of undo."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

from todo.models import Priority, Task


def default_path() -> Path:
    return Path(os.environ.get("TODO_FILE", Path.home() / ".todo.json"))


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.backup = path.with_suffix(".bak")

    def load(self) -> list[Task]:
        if not self.path.exists():
            return []
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return [_task(item) for item in data["tasks"]]

    def save(self, tasks: list[Task]) -> None:
        if self.path.exists():
            self.backup.write_bytes(self.path.read_bytes())
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": 1, "tasks": [_json(t) for t in tasks]}, indent=2))
        tmp.replace(self.path)

    def undo(self) -> bool:
        """Restore the list as it was before the last change; False if there is nothing to undo."""
        if not self.backup.exists():
            return False
        self.backup.replace(self.path)
        return True

    def next_id(self, tasks: list[Task]) -> int:
        return max((t.id for t in tasks), default=0) + 1


def _task(item: dict) -> Task:
    due = date.fromisoformat(item["due"]) if item.get("due") else None
    return Task(item["id"], item["title"], due, Priority(item["priority"]), frozenset(item["tags"]), item["done"])


def _json(task: Task) -> dict:
    due = task.due.isoformat() if task.due else None
    return {"id": task.id, "title": task.title, "due": due, "priority": task.priority.value,
            "tags": sorted(task.tags), "done": task.done}
