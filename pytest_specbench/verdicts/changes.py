"""What a run changed on disk: files added, changed and removed under a directory.

An external server's tools are not ours to read (`write_file`, `save_spec`, `put`...), so
"something was written" is judged from the disk: a snapshot of file signatures (size,
mtime, kind) before the model's first turn and another after its last.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DiskChanges", "Snapshot", "compare", "snapshot"]

Snapshot = dict[str, tuple[int, int, int]]
"""Path relative to the snapshot's root → (mode, size, mtime_ns)."""


@dataclass(frozen=True, slots=True)
class DiskChanges:
    """Files (relative paths) that appeared, changed or disappeared between two snapshots."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def summary(self) -> str:
        """`2 files added, 1 changed, 0 removed`."""
        noun = "file" if len(self.added) == 1 else "files"
        return f"{len(self.added)} {noun} added, {len(self.changed)} changed, {len(self.removed)} removed"

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path that changed, added first."""
        return self.added + self.changed + self.removed


def snapshot(root: Path, skip: Collection[Path] = ()) -> Snapshot:
    """The signature of every file under `root` (symlinks as links), leaving out the trees in `skip`."""
    skipped = {os.path.abspath(path) for path in skip}
    found: Snapshot = {}
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if os.path.join(directory, d) not in skipped]
        for name in filenames:
            path = os.path.join(directory, name)
            if path in skipped:
                continue
            try:
                info = os.lstat(path)
            except OSError:
                continue  # gone between the listing and the look
            found[os.path.relpath(path, root)] = (stat.S_IFMT(info.st_mode), info.st_size, info.st_mtime_ns)
    return found


def compare(before: Snapshot, after: Snapshot) -> DiskChanges:
    """The files added, changed and removed from `before` to `after`, each sorted."""
    return DiskChanges(
        added=tuple(sorted(after.keys() - before.keys())),
        changed=tuple(sorted(p for p in before.keys() & after.keys() if before[p] != after[p])),
        removed=tuple(sorted(before.keys() - after.keys())),
    )
