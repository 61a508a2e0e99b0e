"""The reference server's spec store: ids, slugs and SPECLAN-style Markdown files.

The store keeps an index of every item in memory and writes each change to disk at
once, in the layout `tree.read_tree` reads back::

    specs/features/F-0001-canvas/F-0001-canvas.md
    specs/features/F-0001-canvas/requirements/R-0001-draw-shapes.md
    specs/features/F-0001-canvas/F-0003-layers/F-0003-layers.md

Ids come from two counters that only go up, so the same sequence of calls gives the
same ids and a deleted id is never handed out again. On start the counters continue
after the highest id already on disk, so a restarted server does not collide with
its own earlier files.

The model chooses every title, so nothing it sends reaches a file name unfiltered:
names are built from the id and an ASCII slug, and no write goes through a symlink
or leaves the specs directory. Tool calls arrive on worker threads, hence the lock.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Literal

import yaml
from mcp.server.mcpserver.exceptions import ToolError

from pytest_specbench._files import write_text_atomic
from pytest_specbench.tree import Feature, id_sort_key, read_tree

__all__ = [
    "MAX_DEPTH",
    "MAX_TITLE",
    "SpecStore",
    "StoredItem",
    "clean_criterion",
    "clean_text",
    "clean_title",
    "render_item",
    "slugify",
]

MAX_DEPTH = 8
"""Features nest at most this deep, which keeps paths far below the OS limits."""
SLUG_LENGTH = 40
MAX_TITLE = 200
"""Characters a title may have: it is a name, and it goes into the frontmatter on one line."""
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_CHECKBOX = re.compile(r"^\[[ xX]\]\s+")
_NAME_ID = re.compile(r"^([FR])-(\d+)", re.IGNORECASE)
_CRITERIA_HEADING = "## Acceptance Criteria"
_LOOK_UP = "call get_spec_tree to see the existing ids"

Kind = Literal["feature", "requirement"]


@dataclass(frozen=True, slots=True)
class StoredItem:
    """One feature or requirement as the store holds it."""

    kind: Kind
    id: str
    title: str
    description: str
    acceptance_criteria: tuple[str, ...]
    path: PurePosixPath
    """Relative to the specs directory."""
    owner: str | None
    """The feature of a requirement, the parent of a child feature, None for a top-level feature."""


def slugify(title: str) -> str:
    """A file-name-safe slug: lowercase ASCII letters, digits and single dashes, never empty."""
    # Only the start of a title can reach the slug, so a huge title costs nothing here.
    folded = unicodedata.normalize("NFKD", title[: SLUG_LENGTH * 10]).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")[:SLUG_LENGTH].rstrip("-")
    if not slug:
        return "item"
    return f"{slug}-item" if slug in _RESERVED else slug


def clean_title(text: str) -> str:
    """A title on one line: control characters and runs of whitespace become one space."""
    return " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in text).split())


def clean_criterion(text: str) -> str:
    """A criterion on one line, without the checkbox a model may have typed (the renderer adds one)."""
    text = clean_title(text)
    while match := _CHECKBOX.match(text):
        text = text[match.end() :]
    return text


def clean_text(text: str) -> str:
    """A description: Unix newlines, no control characters besides newline and tab, trimmed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc").strip()


class SpecStore:
    """The spec tree of one run, kept in memory and mirrored to Markdown files."""

    def __init__(self, specs_dir: Path) -> None:
        """Open (and create) `specs_dir`, continuing any tree already in it.

        Args:
            specs_dir: The directory that holds `features/`; its last component names
                it in the paths the tools report (`specs/features/...`).
        """
        specs_dir.mkdir(parents=True, exist_ok=True)
        self.specs_dir = specs_dir.resolve()
        self._lock = threading.Lock()
        self._items: dict[str, StoredItem] = {}
        self._next = {"F": 1, "R": 1}
        self._load()

    # --- Public operations ---------------------------------------------------------------------

    def create_feature(self, title: str, description: str, parent_id: str | None = None) -> StoredItem:
        """Create a feature, top-level or under `parent_id`."""
        with self._lock:
            title, description = _required_title(title), clean_text(description)
            clean = StoredItem("feature", "", title, description, (), PurePosixPath(), None)
            if parent_id is None:
                base = PurePosixPath("features")
            else:
                parent = self._feature(parent_id)
                if self._depth(parent) >= MAX_DEPTH:
                    raise ToolError(f"features nest at most {MAX_DEPTH} deep; add it higher up the tree")
                base, clean = parent.path.parent, replace(clean, owner=parent.id)
            item_id = self._take_id("F")
            name = f"{item_id}-{slugify(clean.title)}"
            return self._save(replace(clean, id=item_id, path=base / name / f"{name}.md"))

    def create_requirement(
        self, feature_id: str, title: str, description: str, acceptance_criteria: Sequence[str]
    ) -> StoredItem:
        """Create a requirement of `feature_id`."""
        with self._lock:
            feature = self._feature(feature_id)
            clean = StoredItem(
                "requirement",
                "",
                _required_title(title),
                clean_text(description),
                _criteria(acceptance_criteria),
                PurePosixPath(),
                feature.id,
            )
            item_id = self._take_id("R")
            name = f"{item_id}-{slugify(clean.title)}.md"
            return self._save(replace(clean, id=item_id, path=feature.path.parent / "requirements" / name))

    def update(
        self,
        item_id: str,
        title: str | None = None,
        description: str | None = None,
        acceptance_criteria: Sequence[str] | None = None,
    ) -> tuple[StoredItem, list[str]]:
        """Change the given fields of an item in place; returns it and the names of the changed fields."""
        with self._lock:
            updated, changed = _apply(self._get(item_id), title, description, acceptance_criteria)
            if not changed:
                raise ToolError(
                    "nothing to update: pass at least one of title, description, acceptance_criteria"
                )
            return self._save(updated), changed

    def delete(self, item_id: str) -> list[StoredItem]:
        """Delete an item; a feature goes with its requirements and child features.

        Returns:
            The deleted item first, then everything deleted along with it, by id.
        """
        with self._lock:
            item = self._get(item_id)
            removed = {i.id: i for i in self._subtree(item)}
            home = item.path.parent if item.path.parent.name == item.path.stem else None
            if home is not None:
                # A feature with a directory of its own takes everything inside it along.
                removed |= {i.id: i for i in self._items.values() if home in i.path.parents}
            for each in removed.values():
                self._remove(each.path, directory=False)
                del self._items[each.id]
            if home is not None:
                self._remove(home, directory=True)
            others = sorted((i for i in removed.values() if i.id != item.id), key=lambda i: id_sort_key(i.id))
            return [item, *others]

    def items(self) -> list[StoredItem]:
        """Every item, ordered by id."""
        with self._lock:
            return sorted(self._items.values(), key=lambda i: id_sort_key(i.id))

    def workspace_path(self, item: StoredItem) -> str:
        """The item's path as the model sees it: relative to the workspace, e.g. `specs/features/...`."""
        return f"{self.specs_dir.name}/{item.path}"

    # --- Index ---------------------------------------------------------------------------------

    def _load(self) -> None:
        for feature in read_tree(self.specs_dir).features:
            self._index(feature, None)
        names = (match for name in _names(self.specs_dir / "features") if (match := _NAME_ID.match(name)))
        ids = (match for item_id in self._items if (match := _NAME_ID.match(item_id.upper())))
        for match in (*names, *ids):
            kind = match.group(1).upper()
            self._next[kind] = max(self._next[kind], int(match.group(2)) + 1)

    def _index(self, feature: Feature, parent: str | None) -> None:
        path = PurePosixPath(feature.path)
        self._items[feature.id] = StoredItem(
            "feature", feature.id, feature.title, feature.description, (), path, parent
        )
        for req in feature.requirements:
            self._items[req.id] = StoredItem(
                "requirement",
                req.id,
                req.title,
                req.description,
                req.acceptance_criteria,
                PurePosixPath(req.path),
                feature.id,
            )
        for child in feature.children:
            self._index(child, feature.id)

    def _take_id(self, kind: Literal["F", "R"]) -> str:
        number = self._next[kind]
        self._next[kind] = number + 1
        return f"{kind}-{number:04d}"

    def _get(self, item_id: str | None) -> StoredItem:
        key = (item_id or "").strip().upper()
        if key not in self._items:
            raise ToolError(f"unknown id {item_id!r}; {_LOOK_UP}")
        return self._items[key]

    def _feature(self, feature_id: str | None) -> StoredItem:
        key = (feature_id or "").strip().upper()
        item = self._items.get(key)
        if item is None:
            raise ToolError(f"unknown feature id {feature_id!r}; {_LOOK_UP}")
        if item.kind != "feature":
            raise ToolError(f"{item.id} is a requirement, not a feature; give the id of a feature (F-####)")
        return item

    def _depth(self, feature: StoredItem) -> int:
        depth = 1
        while feature.owner is not None:
            feature, depth = self._items[feature.owner], depth + 1
        return depth

    def _subtree(self, item: StoredItem) -> Iterator[StoredItem]:
        yield item
        if item.kind == "feature":
            for owned in [i for i in self._items.values() if i.owner == item.id]:
                yield from self._subtree(owned)

    # --- Files ---------------------------------------------------------------------------------

    def _save(self, item: StoredItem) -> StoredItem:
        target = self._checked(item.path)
        self._make_dirs(item.path.parent)
        write_text_atomic(target, render_item(item))  # never through a symlink planted at the target
        self._items[item.id] = item
        return item

    def _checked(self, rel: PurePosixPath) -> Path:
        """The absolute path of `rel`, refusing anything that could land outside the specs directory."""
        if rel.is_absolute() or any(part in ("", ".", "..") for part in rel.parts):
            raise ToolError(f"refusing to write to {rel}: not a plain path inside the specs directory")
        current = self.specs_dir
        for part in rel.parts:
            current = current / part
            if current.is_symlink():
                raise ToolError(f"refusing to write through the symlink {self.specs_dir.name}/{rel}")
        return current

    def _make_dirs(self, rel: PurePosixPath) -> None:
        current = self.specs_dir
        for part in rel.parts:
            current = current / part
            if not current.exists():
                current.mkdir()
            elif current.is_symlink() or not current.is_dir():
                raise ToolError(f"refusing to write under {self.specs_dir.name}/{rel}: not a plain directory")

    def _remove(self, rel: PurePosixPath, *, directory: bool) -> None:
        target = self._checked(rel)
        if directory:
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)


def render_item(item: StoredItem) -> str:
    """The Markdown file of one item: YAML frontmatter, the description, and any criteria."""
    meta: dict[str, str] = {"id": item.id, "type": item.kind, "title": item.title, "status": "draft"}
    if item.owner is not None:
        meta["feature" if item.kind == "requirement" else "parent"] = item.owner
    # A huge width keeps every value on one line, so no frontmatter line can read as '---'.
    frontmatter = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=2**30)
    body = item.description
    if item.kind == "requirement":
        criteria = "".join(f"- {c}\n" for c in item.acceptance_criteria)
        body = f"{body}\n\n{_CRITERIA_HEADING}\n\n{criteria}".lstrip("\n")
    return f"---\n{frontmatter}---\n\n{body.rstrip()}\n"


def _required_title(title: str) -> str:
    clean = clean_title(title)
    if not clean:
        raise ToolError("title is empty; give a short name such as 'User login'")
    if len(clean) > MAX_TITLE:
        raise ToolError(
            f"title is {len(clean)} characters, over the limit of {MAX_TITLE}; "
            "give a short name and put the rest in the description"
        )
    return clean


def _criteria(criteria: Sequence[str]) -> tuple[str, ...]:
    if isinstance(criteria, str) or not isinstance(criteria, Sequence):
        raise ToolError("acceptance_criteria must be a list of strings, one testable statement each")
    if not criteria:
        raise ToolError("acceptance_criteria is empty; a requirement needs at least one testable statement")
    cleaned: list[str] = []
    for index, criterion in enumerate(criteria):
        text = clean_criterion(criterion) if isinstance(criterion, str) else ""
        if not text:
            raise ToolError(f"acceptance_criteria[{index}] is empty or not a string; each must be a sentence")
        cleaned.append(text)
    return tuple(cleaned)


def _apply(
    item: StoredItem, title: str | None, description: str | None, criteria: Sequence[str] | None
) -> tuple[StoredItem, list[str]]:
    changed: list[str] = []
    if title is not None:
        item, changed = replace(item, title=_required_title(title)), [*changed, "title"]
    if description is not None:
        item, changed = replace(item, description=clean_text(description)), [*changed, "description"]
    if criteria is not None:
        if item.kind == "feature":
            raise ToolError(f"{item.id} is a feature; only requirements have acceptance_criteria")
        item, changed = (
            replace(item, acceptance_criteria=_criteria(criteria)),
            [*changed, "acceptance_criteria"],
        )
    return item, changed


def _names(features_dir: Path) -> Iterator[str]:
    """Every file and directory name, so that even a file that no longer parses keeps its id."""
    for _dirpath, dirnames, filenames in os.walk(features_dir, followlinks=False):
        yield from dirnames
        yield from filenames
