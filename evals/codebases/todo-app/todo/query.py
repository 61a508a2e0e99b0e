"""Filtering and ordering the list."""

from __future__ import annotations

from datetime import date

from todo.models import Task


def select(tasks: list[Task], *, tag: str | None = None, status: str = "open",
           overdue: bool = False, today: date | None = None) -> list[Task]:
    """Tasks matching every filter given; status is open, done or all."""
    today = today or date.today()
    chosen = [t for t in tasks if status == "all" or t.done == (status == "done")]
    if tag:
        chosen = [t for t in chosen if tag.lower().lstrip("#") in t.tags]
    if overdue:
        chosen = [t for t in chosen if t.is_overdue(today)]
    return sorted(chosen, key=_order)


def _order(task: Task) -> tuple[date, int, int]:
    # Tasks without a due date sort last; ties go by priority, then by age.
    return (task.due or date.max, task.priority.rank, task.id)
