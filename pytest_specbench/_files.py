"""Writing files so that no reader, and no crash, ever sees half of one."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["SYSTEM_TREES", "copy_tree", "is_system_tree", "write_json_atomic", "write_text_atomic"]

SYSTEM_TREES = tuple(Path(p) for p in ("/proc", "/sys", "/dev"))
"""Trees of the kernel's, not of files: reading them never ends, or ends in a device."""


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


def copy_tree(source: Path, target: Path) -> Path:
    """Copy a directory tree: symlinks as links, and no FIFO, socket or device (reading one could block).

    Returns `target`.
    """

    def special(directory: str, names: list[str]) -> list[str]:
        return [name for name in names if _is_special(os.path.join(directory, name))]

    shutil.copytree(source, target, symlinks=True, ignore=special)
    return target


def _is_special(path: str) -> bool:
    mode = os.lstat(path).st_mode
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode))


def is_system_tree(path: Path) -> bool:
    """`/` itself, or /proc, /sys, /dev or anything under them (symlinks resolved)."""
    real = Path(os.path.realpath(path))
    return real == Path(real.anchor) or any(real == tree or tree in real.parents for tree in SYSTEM_TREES)
