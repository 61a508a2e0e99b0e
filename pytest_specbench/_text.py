"""Small text helpers shared by messages, outlines and tables."""

from __future__ import annotations

__all__ = ["align", "clip", "flatten", "plural", "shorten"]


def plural(n: int, noun: str) -> str:
    """`1 feature`, `2 features`."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def flatten(text: str) -> str:
    """The text on one line: every run of whitespace becomes one space."""
    return " ".join(text.split())


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, the last one `…` when the text was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shorten(text: str, limit: int) -> str:
    """The text flattened to one line and clipped to `limit` characters."""
    return clip(flatten(text), limit)


def align(rows: list[list[str]]) -> list[str]:
    """Rows of cells as lines, each column padded to its widest cell, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
