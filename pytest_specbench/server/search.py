"""search_code's matching: a whole-text scan that finds the lines a line-by-line scan would.

The result is defined line by line: a line matches when the pattern, compiled
case-insensitively, finds a match in its first `MAX_LINE_CHARS` characters. Running the
pattern once per line is slow in Python (a 3,000-file tree is ~500,000 calls), so a file is
first scanned whole with the same pattern plus `re.MULTILINE`, and only the line holding
each hit of that scan is checked line by line. The whole-text scan finds a superset: a
match inside a line is still a match with the rest of the file around it, as long as the
pattern has nothing that can fail because of what lies beyond the line (`\\A`, `\\Z`,
negative lookarounds, atomic groups and possessive repeats, conditionals, turning
MULTILINE off). Patterns with any of those, and files with a line cut at
`MAX_LINE_CHARS`, are searched line by line, exactly as before.

Most searches are a plain word (an identifier, a config key). For those, in a file of ASCII
text, the scan is `str.find` in the file's lowercased text: for ASCII characters a
case-insensitive match is exactly an equal lowercase, and lowercasing ASCII keeps every
position, so the same lines are found several times faster than by the regex.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["MAX_LINE_CHARS", "MAX_SEARCH_LINE_CHARS", "Search", "Text", "clip", "search_text"]

MAX_LINE_CHARS = 2000
MAX_SEARCH_LINE_CHARS = 300

_LINE_BOUND = re.compile(r"\\[AZ]|\(\?<?!|\(\?>|[*+?}]\+|\(\?\(|\(\?[a-zA-Z]*-")
"""What may make a pattern match a lone line but not the same line inside its file.

Read as text, so it also flags harmless look-alikes (an escaped `\\\\A`): those only take the
slow path.
"""
_SYNTAX = re.compile(r"[.^$*+?{}\[\]\\|()]")


@dataclass(frozen=True, slots=True)
class Search:
    """A compiled search_code pattern."""

    regex: re.Pattern[str]
    """The pattern as each line is matched (case-insensitive)."""
    literal: bool
    """The pattern was not a valid regex and is searched as plain text."""
    whole: re.Pattern[str] | None
    """The same pattern for a whole file (MULTILINE), or None when only line by line is exact."""
    word: str | None
    """The pattern lowercased, when it is plain ASCII text without regex syntax."""

    @classmethod
    def compile(cls, pattern: str) -> Search:
        """`pattern` as a case-insensitive regex, or literally when it is not a valid regex."""
        try:
            regex, literal = re.compile(pattern, re.IGNORECASE), False
        except re.error:
            regex, literal = re.compile(re.escape(pattern), re.IGNORECASE), True
        whole = None
        if not _LINE_BOUND.search(regex.pattern):
            whole = re.compile(regex.pattern, re.IGNORECASE | re.MULTILINE)
        plain = pattern.isascii() and (literal or not _SYNTAX.search(pattern))
        return cls(regex, literal, whole, pattern.lower() if plain else None)


@dataclass(frozen=True, slots=True)
class Text:
    """A file's text as search_code reads it, with what the fast scans need."""

    value: str
    """The decoded text."""
    long_lines: bool
    """A line is longer than MAX_LINE_CHARS, so only its first part is matched: line by line only."""
    lower: str | None
    """`value.lower()` when the text is ASCII (so every position is kept), else None."""

    @classmethod
    def of(cls, value: str) -> Text:
        """`value` with its long-line flag and its lowercase twin."""
        long_lines = len(value) > MAX_LINE_CHARS and any(len(ln) > MAX_LINE_CHARS for ln in value.split("\n"))
        return cls(value, long_lines, value.lower() if value.isascii() else None)


def search_text(display: str, text: Text, search: Search, limit: int) -> list[str]:
    """Up to `limit` hits of `search` in `text` (a file shown as `display`), as `path:line: text`.

    Args:
        display: The file's path as the model names it.
        text: The file's text.
        search: The compiled pattern.
        limit: Hits to return at most.
    """
    if search.whole is None or text.long_lines:
        return _by_line(display, text.value, search.regex, limit)
    return _by_scan(display, text, search, limit)


def clip(text: str, limit: int) -> str:
    """`text`, cut at `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[:limit] + "…"


def _by_line(display: str, text: str, regex: re.Pattern[str], limit: int) -> list[str]:
    hits: list[str] = []
    for number, line in enumerate(text.split("\n"), 1):
        if regex.search(line[:MAX_LINE_CHARS]):
            hits.append(_hit(display, number, line))
            if len(hits) >= limit:
                break
    return hits


def _by_scan(display: str, file: Text, search: Search, limit: int) -> list[str]:
    """The lines holding a whole-text hit, each confirmed line by line; `pos` is always a line start."""
    text, find = file.value, _finder(file, search)
    hits: list[str] = []
    pos, number, counted = 0, 1, 0
    while len(hits) < limit and (at := find(pos)) >= 0:
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at)
        end = len(text) if end < 0 else end
        number, counted = number + text.count("\n", counted, start), start
        line = text[start:end]
        if search.regex.search(line):
            hits.append(_hit(display, number, line))
        if end == len(text):
            break
        pos = end + 1
    return hits


def _finder(file: Text, search: Search) -> Callable[[int], int]:
    """Where the next whole-text hit at or after a position starts, or -1."""
    if search.word is not None and file.lower is not None:
        return functools.partial(file.lower.find, search.word)
    whole = search.whole
    assert whole is not None

    def find(pos: int) -> int:
        found = whole.search(file.value, pos)
        return -1 if found is None else found.start()

    return find


def _hit(display: str, number: int, line: str) -> str:
    return f"{display}:{number}: {clip(line.strip(), MAX_SEARCH_LINE_CHARS)}"
