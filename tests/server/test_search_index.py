"""search_code over its index finds exactly what reading every file at every call found.

The oracle below is the search as it was before the index (a copy, kept here and not in
the package): it walks the tree and reads every file at every call, and matches line by
line. The new search must give the same text, the same order and the same truncation, on a
real tree nobody here wrote (the installed `anthropic` SDK) and on a small tree of traps.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp.server.mcpserver.exceptions import ToolError

from pytest_specbench.server.codebase import MAX_RESULTS, MAX_SEARCH_FILE_BYTES, Codebase
from pytest_specbench.server.search import MAX_LINE_CHARS, MAX_SEARCH_LINE_CHARS, Search, Text, search_text

SDK = Path(anthropic.__file__).parent

# --- The oracle: search_code before the index -----------------------------------------------


def old_search_code(code: Codebase, pattern: str, path: str = ".", max_results: int = 50) -> str:
    regex, literal = _old_compile(pattern)
    limit = min(max_results, MAX_RESULTS)
    hits: list[str] = []
    for file in _old_files(code, code.resolve(path)):
        hits.extend(_old_search_file(code, file, regex, limit + 1 - len(hits)))
        if len(hits) > limit:
            break
    return _old_report(pattern, path, hits, limit, literal)


def _old_files(code: Codebase, real: Path) -> Iterator[Path]:
    if not real.is_dir():
        yield real
        return
    for entry in code._entries(real):
        if entry.is_symlink():
            continue
        yield from _old_files(code, entry) if entry.is_dir() else [entry]


def _old_search_file(code: Codebase, file: Path, regex: re.Pattern[str], limit: int) -> list[str]:
    try:
        with code._open_text(file, code.display(file)) as handle:
            if os.fstat(handle.fileno()).st_size > MAX_SEARCH_FILE_BYTES:
                return []
            text = handle.read().decode("utf-8", errors="replace")
    except ToolError:
        return []
    if "\x00" in text:
        return []
    hits: list[str] = []
    for number, line in enumerate(text.split("\n"), 1):
        if regex.search(line[:MAX_LINE_CHARS]):
            hits.append(f"{code.display(file)}:{number}: {_old_clip(line.strip(), MAX_SEARCH_LINE_CHARS)}")
            if len(hits) >= limit:
                break
    return hits


def _old_compile(pattern: str) -> tuple[re.Pattern[str], bool]:
    try:
        return re.compile(pattern, re.IGNORECASE), False
    except re.error:
        return re.compile(re.escape(pattern), re.IGNORECASE), True


def _old_report(pattern: str, path: str, hits: list[str], limit: int, literal: bool) -> str:
    note = " (not a valid regular expression, so searched as plain text)" if literal else ""
    if not hits:
        return f"No matches for {pattern!r} in {path}{note}"
    lines = hits[:limit]
    if len(hits) > limit:
        lines.append(f"[first {limit} matches shown; narrow the pattern or the path, or raise max_results]")
    elif note:
        lines.append(f"[{pattern!r}{note}]")
    return "\n".join(lines)


def _old_clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


# --- A real tree ----------------------------------------------------------------------------

SDK_SEARCHES = [
    ("zq-no-such-thing-xj", ".", 50),  # no match: every file is scanned
    ("def ", ".", 500),  # truncated at the cap
    (r"^class \w+\(", ".", 50),
    (r"^\s*$", "types", 20),  # empty lines, the last line after a final newline
    (r"client$", ".", 50),
    (r"\bself\b(?!\.)", "resources", 50),  # negative lookahead: line by line
    (r"\Aimport", "lib", 50),  # \A: line by line
    ("(?<=def )__init__", ".", 100),
    ("ANTHROPIC_API_KEY", ".", 500),
    ("print(", ".", 10),  # not a regex: searched literally
    ("x*", "types", 7),  # an empty match on every line
    (r"import\s+httpx", ".", 500),
    ("Stream", "_streaming.py", 50),  # a file, not a directory
]


@pytest.fixture(scope="module")
def sdk() -> Codebase:
    """One Codebase over the installed anthropic SDK, so its index is built once for the module."""
    return Codebase(SDK)


def test_the_sdk_is_a_real_tree() -> None:
    assert sum(1 for _ in SDK.rglob("*") if _.is_file()) > 1000


@pytest.mark.parametrize(("pattern", "path", "max_results"), SDK_SEARCHES)
def test_same_results_as_before_on_the_sdk(sdk: Codebase, pattern: str, path: str, max_results: int) -> None:
    assert sdk.search_code(pattern, path, max_results) == old_search_code(sdk, pattern, path, max_results)


# --- A tree of traps ------------------------------------------------------------------------


def _traps(root: Path) -> Path:
    code = root / "code"
    (code / "a" / "b").mkdir(parents=True)
    (code / "a-b").mkdir()
    (code / "node_modules" / "pkg").mkdir(parents=True)
    (code / "a" / "crlf.txt").write_bytes(b"alpha\r\nbeta\r\nalpha end\r\n")
    (code / "a" / "b" / "deep.py").write_text("def alpha():\n    return 'Alpha'\n")  # no final newline left
    (code / "a-b" / "x.txt").write_text("alpha in a-b\n")
    cut = "k" * (MAX_LINE_CHARS - 5) + "alpha" + "beta" * 10
    (code / "long.txt").write_text(f"short alpha\n{cut}\nalpha\n")
    (code / "late_nul.txt").write_bytes(b"alpha\n" * 3000 + b"\x00")  # NUL past the 8 KiB sniff
    (code / "bin.dat").write_bytes(b"\x00alpha")
    (code / "big.txt").write_text("alpha\n" * (MAX_SEARCH_FILE_BYTES // 6 + 1))
    (code / "empty.txt").write_text("")
    (code / "unicode.txt").write_text("\u212a kelvin\n\u017ftraße\nİstanbul alpha\n")
    (code / "node_modules" / "pkg" / "index.js").write_text("alpha()\n")
    (code / "link.txt").symlink_to(code / "a-b" / "x.txt")
    return code


TRAP_PATTERNS = [
    "alpha",
    "alpha$",
    "^alpha",
    r"alpha\b",
    "alpha(?!beta)",
    r"alpha\Z",
    "alpha.*",
    "(?-i:Alpha)",
    "k",
    "s",
    "stra",
    "i̇stanbul",
    r"^$",
    "a\nb",
    "x*",
]


@pytest.fixture(scope="module")
def traps(tmp_path_factory: pytest.TempPathFactory) -> Codebase:
    """The tree of traps, built once for the module (its index too)."""
    return Codebase(_traps(tmp_path_factory.mktemp("traps")))


@pytest.mark.parametrize("pattern", TRAP_PATTERNS)
@pytest.mark.parametrize(
    "path", [".", "a", "a/b", "node_modules", "node_modules/pkg", "long.txt", "link.txt"]
)
@pytest.mark.parametrize("max_results", [1, 3, 50])
def test_same_results_as_before_on_traps(traps: Codebase, pattern: str, path: str, max_results: int) -> None:
    assert traps.search_code(pattern, path, max_results) == old_search_code(traps, pattern, path, max_results)


PIECES = [
    "a",
    "b",
    "\\b",
    "^",
    "$",
    ".",
    "\\w",
    "\\s",
    "*",
    "+",
    "?",
    "(?=a)",
    "(?!a)",
    "(?<=a)",
    "|",
    "\\A",
    "[^b]",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=5), st.text("abAB \n\r\u212a", max_size=40))
def test_whole_text_scan_agrees_with_line_by_line(pieces: list[str], text: str) -> None:
    pattern = "".join(pieces)
    try:
        search = Search.compile(pattern)
    except re.error:
        return
    lines = [f"f:{n}: " for n, line in enumerate(text.split("\n"), 1) if search.regex.search(line)]
    found = search_text("f", Text.of(text), search, 10_000)
    assert [hit.split(": ", 1)[0] + ": " for hit in found] == lines


def test_the_index_is_read_once(tmp_path: Path) -> None:
    root = tmp_path / "code"
    root.mkdir()
    (root / "a.txt").write_text("alpha\n")
    code = Codebase(root)
    assert code.search_code("alpha") == "a.txt:1: alpha"
    (root / "a.txt").write_text("beta\n")  # nothing in a run does this: the codebase is a copy
    assert code.search_code("alpha") == "a.txt:1: alpha"


def test_no_index_when_the_server_writes_into_the_codebase(tmp_path: Path) -> None:
    root = tmp_path / "code"
    root.mkdir()
    (root / "a.txt").write_text("alpha\n")
    code = Codebase(root, writes_to=root / "specs")
    assert code.search_code("alpha") == "a.txt:1: alpha"
    (root / "a.txt").write_text("beta\n")
    assert code.search_code("alpha").startswith("No matches")
