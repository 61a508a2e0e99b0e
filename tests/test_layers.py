"""The package's folders are its architecture: every import points down the map below.

Read from the source with `ast`, so it sees imports inside functions and under
TYPE_CHECKING too (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pytest_specbench

PACKAGE = Path(pytest_specbench.__file__).parent

# Lowest first. A module may import its own room and any room listed before it, never one after.
# CONTRIBUTING.md's "Map of the package" says the same in words; keep the two in step.
LAYERS: list[set[str]] = [
    {"errors", "_files", "_text", "_record"},
    {"config"},
    {"tree"},
    {"models"},
    {"testing"},
    {"replay"},
    {"server"},
    {"agent"},
    {"scaffold"},
    {"redact"},
    {"verdicts"},
    {"_run"},
    {"report"},
    {"cli"},
    {"_session"},
    {"plugin", "__init__", "__main__"},
]
RANK = {room: rank for rank, rooms in enumerate(LAYERS) for room in rooms}


def _room(module: str) -> str:
    """`pytest_specbench.agent.loop` -> `agent`; the package itself -> `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every `pytest_specbench...` module the file imports, relative imports resolved."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return _imports_in(path.read_text(encoding="utf-8"), package)


def _imports_in(source: str, package: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] == "pytest_specbench" and "." in name}


def _module_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_room_is_on_the_map() -> None:
    rooms = {_room(_module_name(path)) for path in _module_files()}
    assert rooms - set(RANK) == set(), "a new module or package: add it to LAYERS and CONTRIBUTING.md's map"


@pytest.mark.parametrize("path", _module_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_the_map(path: Path) -> None:
    room = _room(_module_name(path))
    upward = sorted(
        f"{target} ({_room(target)})"
        for target in _imports(path)
        if _room(target) in RANK and RANK[_room(target)] > RANK[room]
    )
    assert upward == [], f"{room} may not import a later stage"


def test_the_check_sees_an_upward_import() -> None:
    """The test above can fail: upward imports, relative, absolute and lazy, are all found."""
    source = (
        "from ..verdicts import checks\n"
        "import pytest_specbench.report.summary\n"
        "def later():\n    from pytest_specbench._run.result import SpecRun\n"
    )
    found = _imports_in(source, "pytest_specbench.agent")
    assert {
        "pytest_specbench.verdicts",
        "pytest_specbench.report.summary",
        "pytest_specbench._run.result",
    } <= found
    assert all(RANK[_room(name)] > RANK["agent"] for name in found)
