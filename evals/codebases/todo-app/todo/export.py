"""Writing the list as CSV or Markdown."""

from __future__ import annotations

import csv
import io

from todo.models import Task


def to_csv(tasks: list[Task]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "title", "due", "priority", "tags", "done"])
    for t in tasks:
        writer.writerow([t.id, t.title, t.due or "", t.priority.value, " ".join(sorted(t.tags)), t.done])
    return out.getvalue()


def to_markdown(tasks: list[Task]) -> str:
    lines = []
    for t in tasks:
        box = "x" if t.done else " "
        due = f" (due {t.due})" if t.due else ""
        tags = "".join(f" #{tag}" for tag in sorted(t.tags))
        lines.append(f"- [{box}] {t.title}{due}{tags}")
    return "\n".join(lines) + "\n"


FORMATS = {"csv": to_csv, "md": to_markdown}
