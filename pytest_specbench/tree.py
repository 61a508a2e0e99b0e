"""The spec tree as read back from disk: features, nested requirements, counts.

The layout is SPECLAN's, written by the reference server and by any server that
follows it::

    specs/features/F-0001-canvas/F-0001-canvas.md
    specs/features/F-0001-canvas/requirements/R-0001-draw-shapes.md
    specs/features/F-0001-canvas/F-0003-layers/F-0003-layers.md      (a child feature)

Each file is Markdown with YAML frontmatter (`id`, `type`, `title`, `status`, and
`feature` or `parent`); the body is the description, and a requirement's
`## Acceptance Criteria` section is a list.

`read_tree` reads any such tree back. It is lenient with trees from other servers
(extra keys, no `status`, an id only in the file name, ownership only implied by
the directories) and never raises for one bad file: that file becomes a
`TreeFileError` and the rest of the tree is still read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml

from pytest_specbench._record import FeatureRecord
from pytest_specbench._text import flatten

__all__ = ["Feature", "Requirement", "SpecTree", "TreeFileError", "feature_data", "id_sort_key", "read_tree"]


@dataclass(frozen=True, slots=True)
class Requirement:
    """One requirement file."""

    id: str
    title: str
    description: str
    acceptance_criteria: tuple[str, ...]
    path: str
    """Path relative to the specs directory, with forward slashes."""


@dataclass(frozen=True, slots=True)
class Feature:
    """One feature file with its requirements and child features."""

    id: str
    title: str
    description: str
    path: str
    """Path relative to the specs directory, with forward slashes."""
    requirements: tuple[Requirement, ...] = ()
    children: tuple[Feature, ...] = ()

    def walk(self) -> Iterator[Feature]:
        """This feature and every descendant, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, slots=True)
class TreeFileError:
    """A file under the specs directory that could not be parsed."""

    path: str
    problem: str


@dataclass(frozen=True, slots=True)
class SpecTree:
    """A whole spec tree, ordered by id so that it renders the same every time."""

    features: tuple[Feature, ...] = ()
    """Top-level features."""
    errors: tuple[TreeFileError, ...] = ()

    def all_features(self) -> Iterator[Feature]:
        """Every feature at any depth, depth first."""
        for feature in self.features:
            yield from feature.walk()

    def all_requirements(self) -> Iterator[Requirement]:
        """Every requirement at any depth."""
        for feature in self.all_features():
            yield from feature.requirements

    @property
    def feature_count(self) -> int:
        """Top-level features (what `min_features` counts)."""
        return len(self.features)

    @property
    def total_feature_count(self) -> int:
        """Features at any depth."""
        return sum(1 for _ in self.all_features())

    @property
    def requirement_count(self) -> int:
        """Requirements at any depth (what `min_requirements` counts)."""
        return sum(1 for _ in self.all_requirements())

    def ids(self) -> set[str]:
        """Every feature and requirement id in the tree."""
        return {f.id for f in self.all_features()} | {r.id for r in self.all_requirements()}


def feature_data(feature: Feature) -> FeatureRecord:
    """A feature with its requirements and children as plain data (no paths), for records."""
    return {
        "id": feature.id,
        "title": feature.title,
        "description": feature.description,
        "requirements": [
            {
                "id": r.id,
                "title": r.title,
                "description": r.description,
                "criteria": list(r.acceptance_criteria),
            }
            for r in feature.requirements
        ],
        "children": [feature_data(child) for child in feature.children],
    }


# --- Reading a tree back from disk -------------------------------------------------------------

_ID = re.compile(r"^([A-Za-z]+)-(\d+)")
_CRITERIA_HEADING = re.compile(r"^#{2,6}\s+acceptance\s+criteria\s*:?\s*#*\s*$", re.IGNORECASE)
_ANY_HEADING = re.compile(r"^#{1,6}\s")
_LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?(.*)$")
_KINDS = ("feature", "requirement")
_Kind = Literal["feature", "requirement"]


@dataclass(frozen=True, slots=True)
class _Parsed:
    """One spec file parsed, before it is placed in the tree."""

    kind: _Kind
    id: str
    title: str
    description: str
    criteria: tuple[str, ...]
    path: PurePosixPath
    """Relative to the specs directory."""
    owner: str | None
    """The `feature` (requirement) or `parent` (feature) named in the frontmatter."""


def read_tree(specs_dir: Path) -> SpecTree:
    """Read the spec tree under `specs_dir/features`; never raises for a bad file.

    Args:
        specs_dir: The directory holding `features/`; a missing one is an empty tree.

    Returns:
        Features and requirements ordered by id; files that could not be read or
        placed are listed in `errors`.
    """
    features_dir = specs_dir / "features"
    if not features_dir.is_dir() or features_dir.is_symlink():
        return SpecTree()
    parsed: list[_Parsed] = []
    errors: list[TreeFileError] = []
    for path in _markdown_files(features_dir):
        result = _parse_file(path, PurePosixPath(path.relative_to(specs_dir).as_posix()))
        if isinstance(result, TreeFileError):
            errors.append(result)
        else:
            parsed.append(result)
    return _assemble(parsed, errors)


def id_sort_key(item_id: str) -> tuple[str, int, str]:
    """Sort ids by prefix then number, so F-10000 comes after F-9999."""
    match = _ID.match(item_id)
    if match is None:
        return ("~", 0, item_id)
    return (match.group(1).upper(), int(match.group(2)), item_id)


def _markdown_files(features_dir: Path) -> list[Path]:
    # followlinks=False: a symlinked directory could point anywhere on the machine.
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(features_dir, followlinks=False):
        dirnames.sort()
        found.extend(Path(dirpath, name) for name in sorted(filenames) if name.endswith(".md"))
    return found


def _parse_file(path: Path, rel: PurePosixPath) -> _Parsed | TreeFileError:
    try:
        text = _read_text(path)
        meta, body = _split_frontmatter(text)
        return _interpret(meta, body, rel)
    except _BadFile as exc:
        return TreeFileError(path=str(rel), problem=str(exc))


class _BadFile(Exception):
    """Why one file cannot be part of the tree."""


def _read_text(path: Path) -> str:
    if path.is_symlink():
        raise _BadFile("is a symlink; spec files must be regular files")
    try:
        return path.read_bytes().decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise _BadFile(f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise _BadFile(f"cannot be read ({exc.strerror})") from None


def _split_frontmatter(text: str) -> tuple[dict[str, Any], str]:
    lines = text.replace("\r", "\n").split("\n")
    if not lines or lines[0].strip() != "---":
        raise _BadFile("has no YAML frontmatter (the file must start with a '---' line)")
    end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() in ("---", "...")), None)
    if end is None:
        raise _BadFile("has an unterminated YAML frontmatter (no closing '---' line)")
    try:
        meta = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        raise _BadFile(f"has invalid YAML frontmatter: {flatten(str(exc))}") from None
    if not isinstance(meta, dict):
        raise _BadFile("has frontmatter that is not a mapping of keys to values")
    return meta, "\n".join(lines[end + 1 :])


def _interpret(meta: dict[str, Any], body: str, rel: PurePosixPath) -> _Parsed:
    item_id = _text(meta.get("id")) or _id_from_name(rel.stem)
    if not item_id:
        raise _BadFile("has no `id` in its frontmatter and no id in its file name")
    kind = _kind(meta, item_id, rel)
    title = _text(meta.get("title")) or item_id
    if kind == "feature":
        return _Parsed(kind, item_id, title, body.strip(), (), rel, _text(meta.get("parent")) or None)
    description, criteria = _split_criteria(body)
    return _Parsed(kind, item_id, title, description, criteria, rel, _text(meta.get("feature")) or None)


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _id_from_name(stem: str) -> str:
    match = _ID.match(stem)
    return match.group(0).upper() if match else ""


def _kind(meta: dict[str, Any], item_id: str, rel: PurePosixPath) -> _Kind:
    declared = _text(meta.get("type")).lower()
    if declared in _KINDS:
        return "feature" if declared == "feature" else "requirement"
    if item_id.upper().startswith("F-"):
        return "feature"
    if item_id.upper().startswith("R-") or "requirements" in rel.parts:
        return "requirement"
    raise _BadFile(f"is neither a feature nor a requirement (type {declared or 'missing'!r})")


def _split_criteria(body: str) -> tuple[str, tuple[str, ...]]:
    lines = body.split("\n")
    # The last heading wins: the writer appends the section, so a description may quote one.
    start = next((i for i in reversed(range(len(lines))) if _CRITERIA_HEADING.match(lines[i])), None)
    if start is None:
        return body.strip(), ()
    end = next((i for i in range(start + 1, len(lines)) if _ANY_HEADING.match(lines[i])), len(lines))
    description = "\n".join([*lines[:start], *lines[end:]]).strip()
    return description, _list_items(lines[start + 1 : end])


def _list_items(lines: list[str]) -> tuple[str, ...]:
    items: list[str] = []
    for line in lines:
        match = _LIST_ITEM.match(line)
        if match:
            items.append(match.group(1).strip())
        elif items and line[:1].isspace() and line.strip():
            items[-1] = f"{items[-1]} {line.strip()}"  # a wrapped list item
    return tuple(item for item in items if item)


# --- Placing parsed files in the tree ----------------------------------------------------------


def _assemble(parsed: list[_Parsed], errors: list[TreeFileError]) -> SpecTree:
    unique = _drop_duplicates(parsed, errors)
    features = {p.id: p for p in unique if p.kind == "feature"}
    homes = {p.path.parent: p.id for p in features.values() if p.path.parent.name == p.path.stem}
    parents = {p.id: _owner(p, features, homes) for p in features.values()}
    requirements: dict[str, list[_Parsed]] = {}
    for req in (p for p in unique if p.kind == "requirement"):
        owner = _owner(req, features, homes)
        if owner is None:
            errors.append(TreeFileError(str(req.path), f"requirement {req.id} belongs to no known feature"))
        else:
            requirements.setdefault(owner, []).append(req)
    roots = _build(None, parents, features, requirements)
    _report_unplaced(features, roots, errors)
    return SpecTree(features=roots, errors=tuple(sorted(errors, key=lambda e: e.path)))


def _drop_duplicates(parsed: list[_Parsed], errors: list[TreeFileError]) -> list[_Parsed]:
    seen: dict[str, _Parsed] = {}
    for item in parsed:
        if item.id in seen:
            errors.append(TreeFileError(str(item.path), f"repeats id {item.id} of {seen[item.id].path}"))
        else:
            seen[item.id] = item
    return list(seen.values())


def _owner(item: _Parsed, features: dict[str, _Parsed], homes: dict[PurePosixPath, str]) -> str | None:
    """The owning feature: the frontmatter's if it exists, else the enclosing feature directory's."""
    if item.owner in features and item.owner != item.id:
        return item.owner
    directory = item.path.parent
    if item.kind == "feature" and homes.get(directory) == item.id:
        directory = directory.parent
    for candidate in (directory, *directory.parents):
        if candidate in homes and homes[candidate] != item.id:
            return homes[candidate]
    return None


def _build(
    parent: str | None,
    parents: dict[str, str | None],
    features: dict[str, _Parsed],
    requirements: dict[str, list[_Parsed]],
) -> tuple[Feature, ...]:
    # Starting from the roots means a cycle of parents is never entered, so this always ends.
    ids = sorted((fid for fid, pid in parents.items() if pid == parent), key=id_sort_key)
    built: list[Feature] = []
    for fid in ids:
        children = _build(fid, parents, features, requirements)
        reqs = tuple(
            _requirement(r) for r in sorted(requirements.get(fid, []), key=lambda r: id_sort_key(r.id))
        )
        f = features[fid]
        built.append(Feature(f.id, f.title, f.description, str(f.path), reqs, children))
    return tuple(built)


def _requirement(item: _Parsed) -> Requirement:
    return Requirement(item.id, item.title, item.description, item.criteria, str(item.path))


def _report_unplaced(
    features: dict[str, _Parsed], roots: tuple[Feature, ...], errors: list[TreeFileError]
) -> None:
    placed = {f.id for root in roots for f in root.walk()}
    for fid in sorted(features.keys() - placed, key=id_sort_key):
        errors.append(TreeFileError(str(features[fid].path), f"feature {fid} is part of a cycle of parents"))
