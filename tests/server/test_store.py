"""SpecStore: layout, ids, validation, and writes that stay inside the specs directory."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from mcp.server.mcpserver.exceptions import ToolError

from pytest_specbench.server.store import MAX_DEPTH, MAX_TITLE, SpecStore, slugify
from pytest_specbench.tree import read_tree


@pytest.fixture
def store(tmp_path: Path) -> SpecStore:
    """A store over an empty specs directory."""
    return SpecStore(tmp_path / "specs")


def frontmatter(path: Path) -> dict[str, object]:
    text = path.read_text(encoding="utf-8")
    _, meta, _ = text.split("---\n", 2)
    loaded = yaml.safe_load(meta)
    assert isinstance(loaded, dict)
    return loaded


def test_feature_file_layout_and_frontmatter(store: SpecStore) -> None:
    item = store.create_feature("Canvas", "Where drawings live.")
    assert item.id == "F-0001"
    assert str(item.path) == "features/F-0001-canvas/F-0001-canvas.md"
    assert store.workspace_path(item) == "specs/features/F-0001-canvas/F-0001-canvas.md"
    path = store.specs_dir / item.path
    assert frontmatter(path) == {"id": "F-0001", "type": "feature", "title": "Canvas", "status": "draft"}
    assert path.read_text(encoding="utf-8").endswith("---\n\nWhere drawings live.\n")


def test_requirement_and_child_feature_layout(store: SpecStore) -> None:
    store.create_feature("Canvas", "")
    store.create_feature("Export", "")
    child = store.create_feature("Layers", "Stacking.", parent_id="F-0001")
    req = store.create_requirement(
        "F-0001", "Draw shapes", "Basic shapes.", ["Circles can be drawn", "Lines too"]
    )
    assert str(child.path) == "features/F-0001-canvas/F-0003-layers/F-0003-layers.md"
    assert str(req.path) == "features/F-0001-canvas/requirements/R-0001-draw-shapes.md"
    assert frontmatter(store.specs_dir / child.path)["parent"] == "F-0001"
    text = (store.specs_dir / req.path).read_text(encoding="utf-8")
    assert frontmatter(store.specs_dir / req.path)["feature"] == "F-0001"
    assert text.endswith("Basic shapes.\n\n## Acceptance Criteria\n\n- Circles can be drawn\n- Lines too\n")


def test_ids_are_deterministic_for_the_same_calls(tmp_path: Path) -> None:
    def run(specs: Path) -> list[str]:
        s = SpecStore(specs)
        ids = [s.create_feature("A", "").id, s.create_feature("B", "", "F-0001").id]
        ids.append(s.create_requirement("F-0002", "R", "", ["x"]).id)
        return [*ids, *(str(i.path) for i in s.items())]

    assert run(tmp_path / "one") == run(tmp_path / "two")


def test_ids_are_never_reused_after_delete(store: SpecStore) -> None:
    store.create_feature("A", "")
    store.create_requirement("F-0001", "R", "", ["kept"])
    store.delete("F-0001")
    assert store.create_feature("B", "").id == "F-0002"
    assert store.create_requirement("F-0002", "R", "", ["kept"]).id == "R-0002"


def test_a_restarted_store_continues_numbering_and_edits_old_items(tmp_path: Path) -> None:
    first = SpecStore(tmp_path / "specs")
    first.create_feature("A", "")
    first.create_feature("B", "")
    first.create_requirement("F-0002", "R", "", ["x"])
    second = SpecStore(tmp_path / "specs")
    assert [i.id for i in second.items()] == ["F-0001", "F-0002", "R-0001"]
    assert second.create_feature("C", "").id == "F-0003"
    item, changed = second.update("R-0001", title="Renamed")
    assert changed == ["title"]
    assert item.owner == "F-0002"


def test_numbering_skips_ids_of_files_that_no_longer_parse(tmp_path: Path) -> None:
    broken = tmp_path / "specs" / "features" / "F-0007-broken"
    broken.mkdir(parents=True)
    (broken / "F-0007-broken.md").write_text("no frontmatter here", encoding="utf-8")
    assert SpecStore(tmp_path / "specs").create_feature("New", "").id == "F-0008"


def test_update_rewrites_in_place(store: SpecStore) -> None:
    store.create_feature("Canvas", "")
    req = store.create_requirement("F-0001", "Draw", "old", ["a"])
    updated, changed = store.update("r-0001", title="Draw shapes", acceptance_criteria=["b", "c"])
    assert changed == ["title", "acceptance_criteria"]
    assert updated.path == req.path
    text = (store.specs_dir / req.path).read_text(encoding="utf-8")
    assert "title: Draw shapes" in text
    assert text.endswith("old\n\n## Acceptance Criteria\n\n- b\n- c\n")
    assert sorted(p.name for p in (store.specs_dir / req.path).parent.iterdir()) == [req.path.name]


def test_delete_feature_removes_its_directory(store: SpecStore) -> None:
    store.create_feature("Canvas", "")
    store.create_feature("Layers", "", "F-0001")
    store.create_requirement("F-0002", "Order", "", ["x"])
    store.create_feature("Export", "")
    removed = store.delete("F-0001")
    assert [i.id for i in removed] == ["F-0001", "F-0002", "R-0001"]
    assert not (store.specs_dir / "features" / "F-0001-canvas").exists()
    assert [i.id for i in store.items()] == ["F-0003"]


def test_delete_requirement_removes_its_file(store: SpecStore) -> None:
    store.create_feature("Canvas", "")
    req = store.create_requirement("F-0001", "Draw", "", ["x"])
    assert [i.id for i in store.delete("R-0001")] == ["R-0001"]
    assert not (store.specs_dir / req.path).exists()
    assert [i.id for i in store.items()] == ["F-0001"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.create_feature("", "d"), "title is empty"),
        (lambda s: s.create_feature(" \n\t ", "d"), "title is empty"),
        (lambda s: s.create_feature("x", "d", parent_id="F-0099"), "unknown feature id 'F-0099'"),
        (lambda s: s.create_feature("x", "d", parent_id="R-0001"), "R-0001 is a requirement, not a feature"),
        (lambda s: s.create_requirement("F-0042", "x", "d", []), "unknown feature id"),
        (
            lambda s: s.create_requirement("F-0001", "x", "d", ["ok", " "]),
            r"acceptance_criteria\[1\] is empty",
        ),
        (lambda s: s.create_requirement("F-0001", "x", "d", "one string"), "must be a list of strings"),
        (lambda s: s.create_requirement("F-0001", "x", "d", [3]), r"acceptance_criteria\[0\]"),
        (lambda s: s.update("X-1", title="t"), "unknown id 'X-1'"),
        (lambda s: s.update("F-0001"), "nothing to update"),
        (lambda s: s.update("F-0001", title=""), "title is empty"),
        (
            lambda s: s.update("F-0001", acceptance_criteria=["a"]),
            "only requirements have acceptance_criteria",
        ),
        (lambda s: s.delete("F-0404"), "unknown id 'F-0404'"),
    ],
)
def test_bad_calls_raise_tool_error_and_change_nothing(
    store: SpecStore, call: Callable[[SpecStore], object], message: str
) -> None:
    store.create_feature("Canvas", "")
    store.create_requirement("F-0001", "Draw", "", ["x"])
    before = sorted(p.relative_to(store.specs_dir) for p in store.specs_dir.rglob("*"))
    with pytest.raises(ToolError, match=message):
        call(store)
    assert sorted(p.relative_to(store.specs_dir) for p in store.specs_dir.rglob("*")) == before
    assert store.create_feature("Next", "").id == "F-0002"  # a refused call takes no id


def test_nesting_is_capped(store: SpecStore) -> None:
    parent = None
    for level in range(MAX_DEPTH):
        parent = store.create_feature(f"Level {level}", "", parent).id
    with pytest.raises(ToolError, match="nest at most"):
        store.create_feature("Too deep", "", parent)


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Draw Shapes!", "draw-shapes"),
        ("../../etc/passwd", "etc-passwd"),
        ("/", "item"),
        ("a\x00b", "a-b"),
        ("con", "con-item"),
        ("NUL", "nul-item"),
        ("Café Über Straße", "cafe-uber-strae"),
        ("🎨🖌️", "item"),
        ("x" * 10_000, "x" * 40),
        ("a" * 39 + " b", "a" * 39),
    ],
)
def test_slugify(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_hostile_titles_stay_inside_the_specs_dir(store: SpecStore, tmp_path: Path) -> None:
    for title in ["../../escape", "/etc/passwd", "..", "a/../../b", "nul\x00byte", "con", "x" * MAX_TITLE]:
        item = store.create_feature(title, "")
        assert (store.specs_dir / item.path).resolve().is_relative_to(store.specs_dir)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["specs"]


def test_refuses_to_write_through_a_symlinked_directory(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "features").symlink_to(outside)
    store = SpecStore(tmp_path / "specs")
    with pytest.raises(ToolError, match="symlink"):
        store.create_feature("Canvas", "")
    assert list(outside.iterdir()) == []


def test_refuses_to_write_through_a_planted_requirements_symlink(store: SpecStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    feature = store.create_feature("Canvas", "")
    os.symlink(outside, store.specs_dir / feature.path.parent / "requirements")
    with pytest.raises(ToolError, match="symlink"):
        store.create_requirement("F-0001", "Draw", "", ["x"])
    assert list(outside.iterdir()) == []


def test_text_is_cleaned_before_it_is_written(store: SpecStore) -> None:
    store.create_feature("  Multi\nline\ttitle\x07 ", "line one\r\nline two\x00\n")
    store.create_requirement("F-0001", "R", "", ["  [ ] check me ", "[x] [ ] twice"])
    feature, req = store.items()
    assert feature.title == "Multi line title"
    assert feature.description == "line one\nline two"
    assert req.acceptance_criteria == ("check me", "twice")


def test_concurrent_calls_get_distinct_ids(store: SpecStore) -> None:
    store.create_feature("Root", "")
    with ThreadPoolExecutor(max_workers=8) as pool:
        items = list(pool.map(lambda i: store.create_requirement("F-0001", f"R {i}", "", ["x"]), range(40)))
    assert sorted(i.id for i in items) == [f"R-{n:04d}" for n in range(1, 41)]
    assert len(read_tree(store.specs_dir).features[0].requirements) == 40
