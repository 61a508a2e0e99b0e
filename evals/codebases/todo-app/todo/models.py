"""Tasks and their validation."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from enum import Enum


class Priority(Enum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return {"high": 0, "normal": 1, "low": 2}[self.value]


MAX_TITLE = 200


@dataclass(frozen=True)
class Task:
    id: int
    title: str
    due: date | None = None
    priority: Priority = Priority.NORMAL
    tags: frozenset[str] = field(default_factory=frozenset)
    done: bool = False

    def __post_init__(self) -> None:
        if not self.title.strip():
            raise ValueError("a task needs a title")
        if len(self.title) > MAX_TITLE:
            raise ValueError(f"a title has at most {MAX_TITLE} characters")

    def is_overdue(self, today: date) -> bool:
        return not self.done and self.due is not None and self.due < today

    def complete(self) -> Task:
        return replace(self, done=True)

    def retitle(self, title: str) -> Task:
        return replace(self, title=title)


def parse_tags(raw: list[str]) -> frozenset[str]:
    """Tags are lower-case words; '#home' and 'Home' are the same tag."""
    return frozenset(tag.lstrip("#").strip().lower() for tag in raw if tag.strip("# "))
