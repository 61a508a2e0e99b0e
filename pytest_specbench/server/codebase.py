"""Read-only tools over the brief's codebase, confined to its directory.

Everything the model names is a path relative to the codebase root. `Codebase.resolve`
is the one gate: it refuses absolute paths, `..`, and anything that resolves outside
the root (a symlink pointing out), and the readers then refuse whatever is not a
regular text file (devices, FIFOs, /proc, binaries). A refusal is a `ToolError` whose
message says why, and never carries a byte of the refused file.

Every output is capped (entries, lines, characters per line, total characters), so a
huge or minified file costs the model a bounded number of tokens.

search_code reads the tree once, at its first call, and answers every later call from that
index (`search.py` says how it stays exact): the codebase is a copy made for the run, and
no tool of this server writes into it (`writes_to` overlapping the root turns the index off).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from mcp.server.mcpserver.exceptions import ToolError

from pytest_specbench.server.search import (
    MAX_LINE_CHARS,
    Search,
    Text,
    clip,
    search_text,
)

__all__ = ["Codebase"]

SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".mypy_cache",
     ".pytest_cache", ".ruff_cache", ".tox", ".nox", ".idea", ".vscode", ".eggs"}
)  # fmt: skip
"""Version control, caches and installed packages: noise that would drown the project's own files."""
SYSTEM_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))
MAX_DEPTH = 10
MAX_ENTRIES = 500
MAX_READ_LINES = 2000
MAX_OUTPUT_CHARS = 100_000
MAX_RESULTS = 500
MAX_SEARCH_FILE_BYTES = 2_000_000
"""Larger files are skipped by search_code (read_file still reads them page by page)."""
MAX_INDEX_CHARS = 128_000_000
"""Text search_code keeps in memory (twice that for ASCII files, which keep a lowercase twin);
files past it are read again at each search."""
_SNIFF_BYTES = 8192
_LINE_BYTES = MAX_LINE_CHARS * 4
"""Enough bytes for MAX_LINE_CHARS characters of any UTF-8 text."""


class Codebase:
    """The directory a brief's model may read, and the three tools that read it."""

    def __init__(self, root: Path, writes_to: Path | None = None) -> None:
        """Serve the files under `root`.

        Args:
            root: The codebase directory; it must exist.
            writes_to: A directory the server writes into (the spec store's). When it overlaps
                `root`, search_code reads the files at every call instead of once.
        """
        if not root.is_dir():
            raise NotADirectoryError(f"codebase {root} is not a directory")
        self.root = root.resolve()
        written = writes_to.resolve() if writes_to is not None else None
        self._writes_inside = written is not None and (
            written.is_relative_to(self.root) or self.root.is_relative_to(written)
        )
        self._indexes: dict[Path, SearchIndex] = {}
        """search_code's files and their text per directory searched, built at its first search."""

    # --- The gate ------------------------------------------------------------------------------

    def resolve(self, path: str) -> Path:
        """The real path of `path`, which must lie inside the codebase."""
        relative = _relative(path)
        try:
            real = (self.root / relative).resolve()
            exists = real.exists()
        except (OSError, RuntimeError):  # RuntimeError: a symlink loop, on Python 3.11 and 3.12
            raise ToolError(f"{path!r} cannot be resolved (a symlink loop, or no permission)") from None
        if not real.is_relative_to(self.root):
            raise ToolError(f"{path!r} is a symlink to a place outside the codebase; it cannot be read")
        if any(real.is_relative_to(system) for system in SYSTEM_ROOTS):
            raise ToolError(f"{path!r} is a system file; only the project's own files can be read")
        if not exists:
            raise ToolError(f"{path!r} does not exist; call list_files to see what does")
        return real

    def display(self, real: Path) -> str:
        """`real` as the model names it: relative to the root, with forward slashes."""
        return real.relative_to(self.root).as_posix() or "."

    # --- list_files ----------------------------------------------------------------------------

    def list_files(self, path: str = ".", depth: int = 2) -> str:
        """A sorted tree of the files under `path`, directories marked with a trailing slash."""
        if depth < 1:
            raise ToolError("depth must be 1 or more (1 lists only the directory's own entries)")
        real = self.resolve(path)
        if not real.is_dir():
            raise ToolError(f"{path!r} is a file, not a directory; read it with read_file")
        lines = list(self._tree(real, min(depth, MAX_DEPTH), ""))
        if not lines:
            return f"{self.display(real)}/ is empty"
        shown = lines[:MAX_ENTRIES]
        if len(lines) > MAX_ENTRIES:
            shown.append(
                f"[{len(lines) - MAX_ENTRIES} more entries not shown; list a subdirectory or lower depth]"
            )
        return "\n".join([f"{self.display(real)}/", *shown])

    def _tree(self, directory: Path, depth: int, indent: str) -> Iterator[str]:
        for entry in self._entries(directory):
            is_dir = entry.is_dir()
            yield f"{indent}  {entry.name}{'/' if is_dir else ''}"
            # A symlinked directory is listed but not entered: it may loop back on itself.
            if is_dir and depth > 1 and not entry.is_symlink():
                yield from self._tree(entry, depth - 1, indent + "  ")

    def _entries(self, directory: Path) -> list[Path]:
        try:
            children = sorted(directory.iterdir(), key=lambda p: p.name)
        except OSError:
            return []
        return [child for child in children if child.name not in SKIPPED_DIRS and self._listable(child)]

    def _listable(self, entry: Path) -> bool:
        """Whether a listing shows `entry`: regular files and directories that stay inside the root."""
        try:
            real = entry.resolve()
            mode = real.stat().st_mode
        except (OSError, RuntimeError):
            return False
        return real.is_relative_to(self.root) and (stat.S_ISREG(mode) or stat.S_ISDIR(mode))

    # --- read_file -----------------------------------------------------------------------------

    def read_file(self, path: str, offset: int = 1, limit: int = 400) -> str:
        """Lines `offset`.. of a text file, numbered, with a footer saying how to read on."""
        if offset < 1 or limit < 1:
            raise ToolError("offset and limit must be 1 or more (offset is the first line number to read)")
        real = self.resolve(path)
        with self._open_text(real, path) as handle:
            lines, seen = _read_lines(handle, offset, min(limit, MAX_READ_LINES))
            if any("\x00" in line for line in lines):
                raise ToolError(f"{path!r} is a binary file; only text files can be read")
            total = seen + _count_lines(handle)
        if total == 0:
            return f"{path} is empty"
        if not lines:
            raise ToolError(f"offset {offset} is past the end of {path!r}, which has {total} lines")
        return _numbered(lines, offset, total, path)

    def _open_text(self, real: Path, path: str) -> BinaryIO:
        if real.is_dir():
            raise ToolError(f"{path!r} is a directory; call list_files on it")
        # O_NOFOLLOW | O_NONBLOCK: no symlink swapped in after resolve(), no hang opening a FIFO.
        try:
            fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            raise ToolError(f"{path!r} cannot be read ({exc.strerror})") from None
        handle = os.fdopen(fd, "rb")
        try:
            _check_regular_text(handle, path)
        except BaseException:
            handle.close()
            raise
        return handle

    # --- search_code ---------------------------------------------------------------------------

    def search_code(self, pattern: str, path: str = ".", max_results: int = 50) -> str:
        """Lines matching `pattern` (a case-insensitive regex) as `path:line: text`."""
        if not pattern:
            raise ToolError("pattern is empty; give a regular expression or a plain word to search for")
        if max_results < 1:
            raise ToolError("max_results must be 1 or more")
        search = Search.compile(pattern)
        limit = min(max_results, MAX_RESULTS)
        hits: list[str] = []
        for file in self._searched(self.resolve(path)):
            hits.extend(self._search_file(file, search, limit + 1 - len(hits)))
            if len(hits) > limit:
                break
        return _search_report(pattern, path, hits, limit, search.literal)

    def _searched(self, real: Path) -> Sequence[TextFile]:
        """The text files a search of `real` reads, in listing order; a directory's from the index."""
        if not real.is_dir():
            text = self._searchable_text(real)
            return [] if text is None else [TextFile(self.display(real), Text.of(text), real)]
        if self._writes_inside:
            return self._index(real).files
        index = self._cached_index(self.root)
        if (span := index.spans.get(real)) is not None:
            return index.files[span[0] : span[1]]
        # Under a skipped directory (node_modules named explicitly): indexed on its own.
        return self._cached_index(real).files

    def _cached_index(self, top: Path) -> SearchIndex:
        # Built once: the codebase is a copy made for this run, and no tool of this server
        # writes into it (writes_to overlapping it turns the cache off).
        if (index := self._indexes.get(top)) is None:
            index = self._indexes[top] = self._index(top)
        return index

    def _index(self, top: Path) -> SearchIndex:
        """The text files under `top` in listing order, read and decoded."""
        files: list[TextFile] = []
        spans: dict[Path, tuple[int, int]] = {}
        budget = MAX_INDEX_CHARS

        def walk(directory: Path) -> None:
            nonlocal budget
            first = len(files)
            for entry in self._entries(directory):
                if entry.is_symlink():
                    continue  # the link's target, if inside the codebase, is searched where it lives
                if entry.is_dir():
                    walk(entry)
                elif (text := self._searchable_text(entry)) is not None:
                    kept = len(text) <= budget
                    budget -= len(text) if kept else 0
                    files.append(TextFile(self.display(entry), Text.of(text) if kept else None, entry))
            spans[directory] = (first, len(files))

        walk(top)
        return SearchIndex(tuple(files), spans)

    def _search_file(self, file: TextFile, search: Search, limit: int) -> list[str]:
        if (text := file.text) is None:
            if (read := self._searchable_text(file.path)) is None:
                return []
            text = Text.of(read)
        return search_text(file.display, text, search, limit)

    def _searchable_text(self, file: Path) -> str | None:
        """The text of `file`, or None for what search skips: binaries, devices, files over the cap."""
        try:
            with self._open_text(file, self.display(file)) as handle:
                if os.fstat(handle.fileno()).st_size > MAX_SEARCH_FILE_BYTES:
                    return None
                text = handle.read().decode("utf-8", errors="replace")
        except ToolError:
            return None  # binaries, devices and the like are not searched, silently
        return None if "\x00" in text else text


@dataclass(frozen=True, slots=True)
class TextFile:
    """A file search_code reads, as the index keeps it."""

    display: str
    """Its path as the model names it."""
    text: Text | None
    """Its text; None when it did not fit in the index's budget and is read at each search."""
    path: Path
    """Where it was read from."""


@dataclass(frozen=True, slots=True)
class SearchIndex:
    """The text files under a directory in listing order, and each subdirectory's slice of them."""

    files: tuple[TextFile, ...]
    spans: dict[Path, tuple[int, int]]
    """A directory (a real path) -> the range of `files` under it."""


def _relative(path: str) -> PurePosixPath:
    """`path` as a relative path that cannot climb out of the root, before any symlink is followed."""
    if not isinstance(path, str) or not path.strip() or "\x00" in path:
        raise ToolError("path must be a non-empty relative path such as 'src/main.py' or '.'")
    relative = PurePosixPath(path.strip())
    if relative.is_absolute() or path.strip().startswith("~"):
        raise ToolError(f"{path!r} is absolute; paths are relative to the codebase root, e.g. 'src/main.py'")
    if ".." in relative.parts:
        raise ToolError(f"{path!r} uses '..'; only files inside the codebase can be read")
    return relative


def _check_regular_text(handle: BinaryIO, path: str) -> None:
    mode = os.fstat(handle.fileno()).st_mode
    if not stat.S_ISREG(mode):
        raise ToolError(f"{path!r} is not a regular file (a device, socket or pipe); it cannot be read")
    if b"\x00" in handle.read(_SNIFF_BYTES):
        raise ToolError(f"{path!r} is a binary file; only text files can be read")
    handle.seek(0)


def _read_lines(handle: BinaryIO, offset: int, limit: int) -> tuple[list[str], int]:
    """Lines offset..offset+limit-1, decoded and clipped, and how many lines were consumed.

    A huge line is never held in memory whole.
    """
    lines: list[str] = []
    number = 0
    while len(lines) < limit and (line := _read_line(handle)) is not None:
        number += 1
        if number >= offset:
            raw, cut = line
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            lines.append(text[:MAX_LINE_CHARS] + "…" if cut else clip(text, MAX_LINE_CHARS))
    return lines, number


def _read_line(handle: BinaryIO) -> tuple[bytes, bool] | None:
    """The next line and whether it was cut (the rest of it is skipped); None at the end of the file."""
    raw = handle.readline(_LINE_BYTES)
    if not raw:
        return None
    cut = len(raw) == _LINE_BYTES and not raw.endswith(b"\n")
    if cut:
        while (rest := handle.readline(1 << 16)) and not rest.endswith(b"\n"):
            pass
    return raw, cut


def _count_lines(handle: BinaryIO) -> int:
    """Lines left in the file: newlines, plus one for a last line without one."""
    count, last = 0, b"\n"
    while chunk := handle.read(1 << 20):
        count, last = count + chunk.count(b"\n"), chunk[-1:]
    return count + (last != b"\n")


def _numbered(lines: list[str], offset: int, total: int, path: str) -> str:
    body: list[str] = []
    size = 0
    for number, line in enumerate(lines, offset):
        row = f"{number:>6}\t{line}"
        if body and size + len(row) > MAX_OUTPUT_CHARS:
            break
        body.append(row)
        size += len(row) + 1
    last = offset + len(body) - 1
    footer = f"[lines {offset}-{last} of {total}"
    if last < total:
        footer += f"; call read_file with offset={last + 1} for more"
    return "\n".join([*body, footer + "]"])


def _search_report(pattern: str, path: str, hits: list[str], limit: int, literal: bool) -> str:
    note = " (not a valid regular expression, so searched as plain text)" if literal else ""
    if not hits:
        return f"No matches for {pattern!r} in {path}{note}"
    lines = hits[:limit]
    if len(hits) > limit:
        lines.append(f"[first {limit} matches shown; narrow the pattern or the path, or raise max_results]")
    elif note:
        lines.append(f"[{pattern!r}{note}]")
    return "\n".join(lines)
