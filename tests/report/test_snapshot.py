"""render_tree and the syrupy extension built on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from pytest_specbench.report.snapshot import SpecTreeSnapshotExtension, render_tree
from pytest_specbench.server.store import SpecStore
from pytest_specbench.tree import Feature, Requirement, SpecTree, TreeFileError, read_tree

TREE = SpecTree(
    features=(
        Feature(
            "F-0001",
            "Canvas",
            "Where drawings live.\r\n",
            "features/F-0001-canvas/F-0001-canvas.md",
            (Requirement("R-0001", "Draw shapes", "Basic shapes.", ("Circles", "Lines"), "r1.md"),),
            (Feature("F-0003", "Layers", "", "c.md", (Requirement("R-0002", "Reorder", "", (), "r2.md"),)),),
        ),
        Feature("F-0002", "Export", "PNG and SVG.", "e.md"),
    ),
    errors=(TreeFileError("features/x.md", "has no YAML frontmatter"),),
)

EXPECTED = """\
# Spec tree: 3 features (2 top-level), 2 requirements, 1 unreadable file

## F-0001 Canvas

Where drawings live.

### R-0001 Draw shapes

Basic shapes.

- [ ] Circles
- [ ] Lines

### F-0003 Layers

#### R-0002 Reorder

## F-0002 Export

PNG and SVG.

## Unreadable files

- `features/x.md`: has no YAML frontmatter
"""


def test_render_tree() -> None:
    assert render_tree(TREE) == EXPECTED


def test_render_of_an_empty_tree() -> None:
    assert render_tree(SpecTree()) == "# Spec tree: 0 features (0 top-level), 0 requirements\n"


def test_render_depends_on_content_only(tmp_path: Path) -> None:
    def build(specs: Path) -> str:
        store = SpecStore(specs)
        store.create_feature("Canvas", "Drawings.")
        store.create_requirement("F-0001", "Draw", "Shapes.", ["Circles"])
        return render_tree(read_tree(specs))

    first, second = build(tmp_path / "a" / "specs"), build(tmp_path / "b" / "specs")
    assert first == second
    assert str(tmp_path) not in first


def test_headings_stop_at_level_six() -> None:
    feature = Feature("F-0009", "Deep", "", "d.md")
    for number in range(8, 0, -1):
        feature = Feature(f"F-000{number}", "Level", "", "l.md", (), (feature,))
    assert "###### F-0009 Deep" in render_tree(SpecTree(features=(feature,)))


def test_extension_serializes_trees_only() -> None:
    extension = SpecTreeSnapshotExtension()
    assert extension.serialize(TREE) == EXPECTED
    with pytest.raises(TypeError, match=r"not dict; .*use_extension\(AmberSnapshotExtension\)"):
        extension.serialize({"not": "a tree"})


def test_extension_with_syrupy(snapshot: SnapshotAssertion) -> None:
    assert snapshot.use_extension(SpecTreeSnapshotExtension) == TREE
