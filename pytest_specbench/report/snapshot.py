"""A spec tree as one readable Markdown file, and the syrupy extension that snapshots it.

`render_tree` depends on the tree's content alone (ids, titles, descriptions,
criteria and unreadable files), never on paths, times or the machine, so the same
tree renders byte for byte the same in every run and a snapshot diff shows only
what the model changed.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
from syrupy.types import PropertyFilter, PropertyMatcher, SerializedData

from pytest_specbench._text import flatten, plural
from pytest_specbench.tree import Feature, Requirement, SpecTree

__all__ = ["LiveSpecTreeSnapshotExtension", "SpecTreeSnapshotExtension", "render_tree", "tree_diff"]

_MAX_HEADING = 6


def render_tree(tree: SpecTree) -> str:
    """The tree as a Markdown outline: a count line, then features nested by depth.

    Args:
        tree: The tree to render, as `read_tree` returns it.

    Returns:
        Markdown ending in one newline; a feature is `## F-0001 Title` (one more `#`
        per level of nesting), a requirement `### R-0001 Title` under its feature,
        and acceptance criteria a `- [ ]` list.
    """
    blocks = [_header(tree)]
    for feature in tree.features:
        blocks.extend(_feature(feature, 2))
    if tree.errors:
        blocks.append("## Unreadable files")
        blocks.append("\n".join(f"- `{error.path}`: {flatten(error.problem)}" for error in tree.errors))
    return "\n\n".join(blocks) + "\n"


class SpecTreeSnapshotExtension(SingleFileSnapshotExtension):
    """Snapshots a `SpecTree` as one `.md` file per test.

    Use it as `snapshot.use_extension(SpecTreeSnapshotExtension)`.
    """

    _write_mode = WriteMode.TEXT
    file_extension = "md"

    def serialize(
        self,
        data: Any,
        *,
        exclude: PropertyFilter | None = None,
        include: PropertyFilter | None = None,
        matcher: PropertyMatcher | None = None,
    ) -> SerializedData:
        """Render a SpecTree; anything else is a TypeError that says which extension to use instead."""
        if not isinstance(data, SpecTree):
            raise TypeError(
                f"SpecTreeSnapshotExtension snapshots a SpecTree (e.g. read_tree(specs_dir)), "
                f"not {type(data).__name__}; for other data use the plain `snapshot` fixture or "
                f"snapshot.use_extension(AmberSnapshotExtension)"
            )
        return render_tree(data)


class LiveSpecTreeSnapshotExtension(SpecTreeSnapshotExtension):
    """A live run's tree against its snapshot: a difference is handed to `on_difference`, not failed.

    A live model's exact output depends on the CPU, the build, the threads and the cache, so
    its tree is judged by its checks and the baseline gate; what changed is still shown. Use
    `for_run(callback)` for a class bound to one test.
    """

    on_difference: ClassVar[Callable[[str], None]]

    @classmethod
    def for_run(cls, on_difference: Callable[[str], None]) -> type[LiveSpecTreeSnapshotExtension]:
        """A subclass that reports the unified diff of one test's tree to `on_difference`."""
        return type("LiveSpecTreeSnapshot", (cls,), {"on_difference": staticmethod(on_difference)})

    def matches(self, *, serialized_data: Any, snapshot_data: Any) -> bool:
        """Always a match; a tree that differs is reported with its diff."""
        if serialized_data != snapshot_data:
            type(self).on_difference(tree_diff(str(snapshot_data), str(serialized_data)))
        return True


def tree_diff(snapshot: str, tree: str, context: int = 1) -> str:
    """The unified diff from a committed snapshot to a run's tree, both rendered by `render_tree`."""
    lines = difflib.unified_diff(
        snapshot.splitlines(), tree.splitlines(), "snapshot", "this run", n=context, lineterm=""
    )
    return "\n".join(lines)


def _header(tree: SpecTree) -> str:
    parts = [
        f"{plural(tree.total_feature_count, 'feature')} ({tree.feature_count} top-level)",
        plural(tree.requirement_count, "requirement"),
    ]
    if tree.errors:
        parts.append(plural(len(tree.errors), "unreadable file"))
    return f"# Spec tree: {', '.join(parts)}"


def _feature(feature: Feature, level: int) -> Iterator[str]:
    yield f"{_heading(level)} {feature.id} {flatten(feature.title)}"
    yield from _paragraph(feature.description)
    for requirement in feature.requirements:
        yield from _requirement(requirement, level + 1)
    for child in feature.children:
        yield from _feature(child, level + 1)


def _requirement(requirement: Requirement, level: int) -> Iterator[str]:
    yield f"{_heading(level)} {requirement.id} {flatten(requirement.title)}"
    yield from _paragraph(requirement.description)
    if requirement.acceptance_criteria:
        yield "\n".join(f"- [ ] {flatten(c)}" for c in requirement.acceptance_criteria)


def _paragraph(text: str) -> Iterator[str]:
    # Trees from other servers may carry Windows newlines; syrupy would rewrite them anyway.
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if text:
        yield text


def _heading(level: int) -> str:
    return "#" * min(level, _MAX_HEADING)
