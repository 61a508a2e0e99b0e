"""Small text helpers shared by messages, outlines and tables."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["align", "clip", "flatten", "map_strings", "markdown_table", "phrase_pattern", "plural", "shorten"]

_PLAIN = re.compile(r"[\w\s'-]+")


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


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A GitHub-flavoured Markdown table; pipes in cells are escaped."""
    lines = [header, ["---"] * len(header), *rows]
    return ["| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in lines]


@functools.lru_cache(maxsize=512)
def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """The pattern of a brief's phrase (a forbidden topic, a reference feature).

    A plain phrase (letters, digits, spaces, `'` and `-`) matches whole words only, in any
    case, with any whitespace between its words and an optional plural ending: "billing"
    matches "Billing" and "billings" but not "rebillingual". Anything else is a regular
    expression, matched case-insensitively as written; a bad one raises `re.error`.
    """
    if _PLAIN.fullmatch(phrase):
        words = r"\s+".join(re.escape(word) for word in phrase.split())
        return re.compile(rf"\b{words}(?:s|es)?\b", re.IGNORECASE)
    return re.compile(phrase, re.IGNORECASE)


def map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """A copy of JSON-like data (dicts, lists, strings, numbers) with `change` applied to every string."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, Mapping):
        return {key: map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(map_strings(item, change) for item in value)
    return value
