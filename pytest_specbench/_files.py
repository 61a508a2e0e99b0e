"""Writing files so that no reader, and no crash, ever sees half of one."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_FILE_NAME",
    "SYSTEM_TREES",
    "TreeTooLarge",
    "copy_tree",
    "file_name",
    "is_system_tree",
    "tree_over",
    "write_json_atomic",
    "write_text_atomic",
]

SYSTEM_TREES = tuple(Path(p) for p in ("/proc", "/sys", "/dev"))
"""Trees of the kernel's, not of files: reading them never ends, or ends in a device."""

MAX_FILE_NAME = 255
"""Bytes of a file name on the common file systems (ext4, APFS; NTFS counts 255 characters)."""


def file_name(stem: str, suffix: str) -> str:
    """`stem + suffix`, or, past MAX_FILE_NAME bytes, the stem clipped and a short hash of it appended.

    A test id names its transcript; a long test name with its own parameters and the run id can
    pass what a file system takes, and two clipped ids never share a name.
    """
    name = stem + suffix
    if len(name.encode()) <= MAX_FILE_NAME:
        return name
    digest = hashlib.sha256(stem.encode()).hexdigest()[:12]
    room = MAX_FILE_NAME - len(suffix.encode()) - len(digest) - 1
    clipped = stem.encode()[:room].decode(errors="ignore")
    return f"{clipped}-{digest}{suffix}"


def write_text_atomic(path: Path, text: str, *, errors: str = "strict") -> None:
    """Write `text` (UTF-8, `\\n` line ends) to a temporary file beside `path`, then rename it over `path`.

    The rename also replaces a symlink planted at `path` instead of writing through it.
    """
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors=errors, newline="\n") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    """Write `data` as indented JSON, creating the parent directory if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # backslashreplace: a lone surrogate a model produced is written as its \u escape.
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    write_text_atomic(path, text, errors="backslashreplace")


class TreeTooLarge(Exception):
    """A tree holds more than a copy of it may write; the message says which limit."""


def tree_over(root: Path, max_files: int, max_bytes: int) -> str | None:
    """Which limit the tree under `root` passes (`20000 files`, `256 MiB`), or None; links not followed.

    Stops at the first file past a limit, so a huge tree costs no more than the limit.
    """
    budget = _Budget(max_files, max_bytes)
    try:
        for directory, _, names in os.walk(root):
            for name in names:
                budget.take(os.path.join(directory, name))
    except TreeTooLarge as over:
        return str(over)
    return None


class _Budget:
    """Files and bytes still allowed; `take` raises TreeTooLarge past either."""

    def __init__(self, max_files: int, max_bytes: int) -> None:
        self.max_files, self.max_bytes = max_files, max_bytes
        self.files = self.bytes = 0

    def take(self, path: str) -> None:
        self.files += 1
        with contextlib.suppress(OSError):  # gone between the listing and the look
            self.bytes += os.lstat(path).st_size
        if self.files > self.max_files:
            raise TreeTooLarge(f"{self.max_files} files")
        if self.bytes > self.max_bytes:
            raise TreeTooLarge(f"{self.max_bytes // (1024 * 1024)} MiB")


def copy_tree(source: Path, target: Path, max_files: int | None = None, max_bytes: int | None = None) -> Path:
    """Copy a directory tree: symlinks as links, and no FIFO, socket or device (reading one could block).

    With `max_files` or `max_bytes`, the copy stops with TreeTooLarge once it would pass either
    (the tree may have grown since it was counted). Returns `target`.
    """
    budget = _Budget(max_files or sys.maxsize, max_bytes or sys.maxsize)

    def special(directory: str, names: list[str]) -> list[str]:
        return [name for name in names if _is_special(os.path.join(directory, name))]

    def counted(src: str, dst: str) -> object:
        budget.take(src)
        return shutil.copy2(src, dst)

    shutil.copytree(source, target, symlinks=True, ignore=special, copy_function=counted)
    return target


def _is_special(path: str) -> bool:
    mode = os.lstat(path).st_mode
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode))


def is_system_tree(path: Path) -> bool:
    """`/` itself, or /proc, /sys, /dev or anything under them (symlinks resolved)."""
    real = Path(os.path.realpath(path))
    return real == Path(real.anchor) or any(real == tree or tree in real.parents for tree in SYSTEM_TREES)
