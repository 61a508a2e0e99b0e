"""The reference spec MCP server: three read tools over the codebase, five spec tools.

The tool names, arguments and result texts are a public contract: models are
prompted with them and briefs are written against them. Every tool returns plain
text; a call the server cannot honour raises `ToolError`, which reaches the model
as an `is_error` result carrying the message, and the server carries on.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from pydantic import Field

from pytest_specbench._text import plural
from pytest_specbench.server.codebase import Codebase
from pytest_specbench.server.protocol import checked_arguments, tools_only
from pytest_specbench.server.store import SpecStore, StoredItem

__all__ = ["INSTRUCTIONS", "build_server", "outline"]

INSTRUCTIONS = """\
Write a specification of the codebase as a tree of features and requirements.
Read the code with list_files, read_file and search_code (paths are relative to the codebase root).
Record what you learn with create_feature (a capability; nest related ones with parent_id) and
create_requirement (one testable behaviour of a feature, with acceptance criteria).
Check your progress with get_spec_tree; fix mistakes with update_item and delete_item."""

_TITLE_CLIP = 120
_READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
_ADDITIVE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
_UPDATING = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)

# strict: a model that sends "5" or true for a count is told so, not silently coerced.
Count = Annotated[int, Field(strict=True)]
DirPath = Annotated[str, Field(description="A directory relative to the codebase root; '.' is the root.")]
FilePath = Annotated[str, Field(description="A file relative to the codebase root, e.g. 'src/app.py'.")]
Title = Annotated[str, Field(description="A short name, e.g. 'User login'.")]
Description = Annotated[str, Field(description="What it is and why it matters, in Markdown.")]
Criteria = Annotated[
    list[str], Field(description="Testable statements, one per item, e.g. 'Given ..., when ..., then ...'.")
]
ItemId = Annotated[str, Field(description="A feature id (F-0001) or requirement id (R-0001).")]
FeatureId = Annotated[str, Field(description="The id of the feature it belongs to, e.g. F-0001.")]


def build_server(codebase: Path, specs_dir: Path) -> MCPServer:
    """The reference server of one run.

    Args:
        codebase: The directory the read tools may read (and nothing outside it).
        specs_dir: Where the spec tree is written; created if missing, continued if not empty.
    """
    store = SpecStore(specs_dir)
    code = Codebase(codebase, writes_to=store.specs_dir)
    tools = [*_read_tools(code), *_spec_tools(store)]
    server = MCPServer(
        "specbench-spec-server",
        version=_version(),
        instructions=INSTRUCTIONS,
        log_level="WARNING",
        middleware=[tools_only, checked_arguments([tool for tool, _ in tools])],
    )
    for tool, hints in tools:
        description = inspect.cleandoc(tool.__doc__ or "")
        server.add_tool(tool, description=description, annotations=hints, structured_output=False)
    return server


def _version() -> str:
    try:
        return version("pytest-specbench")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


def _read_tools(code: Codebase) -> list[tuple[Callable[..., str], ToolAnnotations]]:
    def list_files(
        path: DirPath = ".", depth: Annotated[Count, Field(description="Levels to descend.")] = 2
    ) -> str:
        """List the files and directories under a codebase directory as an indented tree.

        Directories end with '/'. Version control and cache directories are left out.
        Start with the defaults, then list interesting subdirectories more deeply.
        """
        return code.list_files(path, depth)

    def read_file(
        path: FilePath,
        offset: Annotated[Count, Field(description="First line to read, counting from 1.")] = 1,
        limit: Annotated[Count, Field(description="Lines to read at most (up to 2000).")] = 400,
    ) -> str:
        """Read a text file of the codebase, with line numbers.

        Long files come in pages: the last line says which lines you got and which offset reads on.
        Very long lines are cut at 2000 characters.
        """
        return code.read_file(path, offset, limit)

    def search_code(
        pattern: Annotated[str, Field(description="A regular expression, matched case-insensitively.")],
        path: Annotated[
            str, Field(description="A directory or file to search in, relative to the root.")
        ] = ".",
        max_results: Annotated[Count, Field(description="Matching lines to return at most.")] = 50,
    ) -> str:
        """Search the codebase's text files for lines matching a pattern; results are `path:line: text`.

        The pattern is a case-insensitive regular expression; one that does not compile is searched
        as plain text. Use it to find where a name is defined or used before reading the file.
        """
        return code.search_code(pattern, path, max_results)

    return [(list_files, _READ_ONLY), (read_file, _READ_ONLY), (search_code, _READ_ONLY)]


def _spec_tools(store: SpecStore) -> list[tuple[Callable[..., str], ToolAnnotations]]:
    def create_feature(
        title: Title,
        description: Description,
        parent_id: Annotated[
            str | None, Field(description="The id of the parent feature (F-0001) to nest this one under.")
        ] = None,
    ) -> str:
        """Create a feature: a user-visible capability of the system. Returns its new id (F-0001, ...).

        Give parent_id to make it a sub-feature of an existing feature.
        """
        item = store.create_feature(title, description, parent_id)
        return f"Created feature {item.id} at {store.workspace_path(item)}"

    def create_requirement(
        feature_id: FeatureId, title: Title, description: Description, acceptance_criteria: Criteria
    ) -> str:
        """Create a requirement of a feature: one behaviour the system must have.

        Returns its new id (R-0001, ...). acceptance_criteria is a list of testable statements,
        each a non-empty string.
        """
        item = store.create_requirement(feature_id, title, description, acceptance_criteria)
        return f"Created requirement {item.id} at {store.workspace_path(item)}"

    def update_item(
        id: ItemId,
        title: Annotated[str | None, Field(description="A new title; omit to keep it.")] = None,
        description: Annotated[str | None, Field(description="A new description; omit to keep it.")] = None,
        acceptance_criteria: Annotated[
            list[str] | None, Field(description="New criteria replacing all old ones (requirements only).")
        ] = None,
    ) -> str:
        """Change the title, description or acceptance criteria of a feature or requirement.

        Only the fields you pass change; the id and file stay the same.
        """
        item, changed = store.update(id, title, description, acceptance_criteria)
        return f"Updated {item.id} ({', '.join(changed)}) at {store.workspace_path(item)}"

    def delete_item(id: ItemId) -> str:
        """Delete a feature or requirement; a feature goes with all its requirements and sub-features."""
        return _deleted(store.delete(id))

    def get_spec_tree() -> str:
        """Show the spec tree written so far: every feature and requirement with ids, titles and counts."""
        return outline(store.items())

    return [
        (create_feature, _ADDITIVE),
        (create_requirement, _ADDITIVE),
        (update_item, _UPDATING),
        (delete_item, ToolAnnotations(destructive_hint=True, open_world_hint=False)),
        (get_spec_tree, _READ_ONLY),
    ]


def outline(items: list[StoredItem]) -> str:
    """The get_spec_tree text: features with their requirements indented by depth, then a total line."""
    features = [i for i in items if i.kind == "feature"]
    requirements = len(items) - len(features)
    if not features:
        return "The spec tree is empty (0 features, 0 requirements). Start with create_feature."
    lines = [line for f in features if f.owner is None for line in _outline_feature(f, items, "")]
    lines.append(f"Total: {plural(len(features), 'feature')}, {plural(requirements, 'requirement')}")
    return "\n".join(lines)


def _outline_feature(feature: StoredItem, items: list[StoredItem], indent: str) -> Iterator[str]:
    owned = [i for i in items if i.owner == feature.id]
    requirements = [i for i in owned if i.kind == "requirement"]
    yield f"{indent}{feature.id} {_clip(feature.title)} ({plural(len(requirements), 'requirement')})"
    yield from (f"{indent}  {r.id} {_clip(r.title)}" for r in requirements)
    for child in (i for i in owned if i.kind == "feature"):
        yield from _outline_feature(child, items, indent + "  ")


def _deleted(removed: list[StoredItem]) -> str:
    first, rest = removed[0], removed[1:]
    if first.kind == "requirement":
        return f"Deleted requirement {first.id}"
    requirements = sum(1 for i in rest if i.kind == "requirement")
    children = len(rest) - requirements
    along = f"{plural(requirements, 'requirement')} and {plural(children, 'sub-feature')}"
    return f"Deleted feature {first.id} with {along}"


def _clip(title: str) -> str:
    return title if len(title) <= _TITLE_CLIP else title[:_TITLE_CLIP] + "…"
