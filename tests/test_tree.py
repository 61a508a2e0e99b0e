"""read_tree: the reference server's trees read back exactly, other servers' trees read leniently."""

from __future__ import annotations

from pathlib import Path

from pytest_specbench.server.store import SpecStore
from pytest_specbench.tree import Feature, Requirement, SpecTree, TreeFileError, read_tree


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_a_missing_specs_dir_is_an_empty_tree(tmp_path: Path) -> None:
    assert read_tree(tmp_path / "nothing") == SpecTree()
    (tmp_path / "specs").mkdir()
    assert read_tree(tmp_path / "specs") == SpecTree()


def test_round_trip_of_a_store_tree(tmp_path: Path) -> None:
    store = SpecStore(tmp_path / "specs")
    store.create_feature("Canvas", "Where drawings live.\n\nWith *Markdown*.")
    store.create_feature("Export", "")
    store.create_feature("Layers", "Stacking.", "F-0001")
    store.create_requirement("F-0001", "Draw shapes", "Basic shapes.", ["Circles", "Lines: yes"])
    store.create_requirement("F-0003", "Reorder", "", ["Layers keep their order"])
    store.create_requirement("F-0001", "Quote", "## Acceptance Criteria\n- not one", ["real one"])
    layers = Feature(
        "F-0003",
        "Layers",
        "Stacking.",
        "features/F-0001-canvas/F-0003-layers/F-0003-layers.md",
        (
            Requirement(
                "R-0002",
                "Reorder",
                "",
                ("Layers keep their order",),
                "features/F-0001-canvas/F-0003-layers/requirements/R-0002-reorder.md",
            ),
        ),
    )
    canvas = Feature(
        "F-0001",
        "Canvas",
        "Where drawings live.\n\nWith *Markdown*.",
        "features/F-0001-canvas/F-0001-canvas.md",
        (
            Requirement(
                "R-0001",
                "Draw shapes",
                "Basic shapes.",
                ("Circles", "Lines: yes"),
                "features/F-0001-canvas/requirements/R-0001-draw-shapes.md",
            ),
            Requirement(
                "R-0003",
                "Quote",
                "## Acceptance Criteria\n- not one",
                ("real one",),
                "features/F-0001-canvas/requirements/R-0003-quote.md",
            ),
        ),
        (layers,),
    )
    export = Feature("F-0002", "Export", "", "features/F-0002-export/F-0002-export.md")
    assert read_tree(tmp_path / "specs") == SpecTree(features=(canvas, export))


def test_a_bad_file_becomes_an_error_and_the_rest_is_read(tmp_path: Path) -> None:
    store = SpecStore(tmp_path / "specs")
    store.create_feature("Canvas", "")
    features = tmp_path / "specs" / "features"
    write(features / "F-0009-x" / "F-0009-x.md", "no frontmatter")
    write(features / "F-0010-y" / "F-0010-y.md", "---\ntitle: [unclosed\n---\n")
    write(features / "F-0011-z" / "F-0011-z.md", "---\n- a list\n---\n")
    write(features / "F-0012-w" / "F-0012-w.md", "---\nid: F-0012\n")
    (features / "F-0013.md").write_bytes(b"---\nid: F-0013\n---\n\xff\xfe")
    tree = read_tree(tmp_path / "specs")
    assert [f.id for f in tree.features] == ["F-0001"]
    assert [(e.path, e.problem.split(" ")[:2]) for e in tree.errors] == [
        ("features/F-0009-x/F-0009-x.md", ["has", "no"]),
        ("features/F-0010-y/F-0010-y.md", ["has", "invalid"]),
        ("features/F-0011-z/F-0011-z.md", ["has", "frontmatter"]),
        ("features/F-0012-w/F-0012-w.md", ["has", "an"]),
        ("features/F-0013.md", ["is", "not"]),
    ]


def test_a_foreign_speclan_tree(tmp_path: Path) -> None:
    features = tmp_path / "specs" / "features"
    write(
        features / "F-0001-auth" / "F-0001-auth.md",
        "---\nid: F-0001\ntype: feature\ntitle: Authentication\nowner: team-a\ncreated: 2024-05-01\n---\n"
        "# Authentication\r\n\r\nUsers sign in.\r\n",
    )
    write(
        features / "F-0001-auth" / "requirements" / "R-0001-login.md",
        "---\ntitle: Login\npriority: high\n---\nUsers log in.\n\n## Acceptance criteria\n\n"
        "- [ ] valid password logs in\n- [x] wrong password\n  is refused\n1. numbered works\n"
        "\n## Notes\n\nLater.\n",
    )
    write(features / "F-0001-auth" / "F-0002-sso" / "F-0002-sso.md", "---\nid: F-0002\ntitle: 42\n---\n")
    write(features / "orphan.md", "---\nid: R-0009\ntitle: Nobody's\n---\n")
    tree = read_tree(tmp_path / "specs")
    (auth,) = tree.features
    assert (auth.id, auth.title, auth.description) == (
        "F-0001",
        "Authentication",
        "# Authentication\n\nUsers sign in.",
    )
    (login,) = auth.requirements
    assert login.id == "R-0001"
    assert login.description == "Users log in.\n\n## Notes\n\nLater."
    assert login.acceptance_criteria == (
        "valid password logs in",
        "wrong password is refused",
        "numbered works",
    )
    assert [(c.id, c.title) for c in auth.children] == [("F-0002", "42")]
    assert tree.errors == (
        TreeFileError("features/orphan.md", "requirement R-0009 belongs to no known feature"),
    )


def test_ownership_from_frontmatter_in_a_flat_layout(tmp_path: Path) -> None:
    features = tmp_path / "specs" / "features"
    write(features / "F-0002.md", "---\nid: F-0002\ntype: feature\ntitle: B\nparent: F-0001\n---\n")
    write(features / "F-0001.md", "---\nid: F-0001\ntype: feature\ntitle: A\n---\n")
    write(features / "R-0001.md", "---\nid: R-0001\ntype: requirement\ntitle: R\nfeature: F-0002\n---\n")
    (a,) = read_tree(tmp_path / "specs").features
    assert [c.id for c in a.children] == ["F-0002"]
    assert [r.id for r in a.children[0].requirements] == ["R-0001"]


def test_duplicates_cycles_and_symlinks_are_errors(tmp_path: Path) -> None:
    features = tmp_path / "specs" / "features"
    write(features / "a.md", "---\nid: F-0001\ntitle: A\n---\n")
    write(features / "b.md", "---\nid: F-0001\ntitle: Again\n---\n")
    write(features / "c.md", "---\nid: F-0002\ntitle: C\nparent: F-0003\n---\n")
    write(features / "d.md", "---\nid: F-0003\ntitle: D\nparent: F-0002\n---\n")
    write(tmp_path / "elsewhere.md", "---\nid: F-0004\ntitle: Outside\n---\n")
    (features / "e.md").symlink_to(tmp_path / "elsewhere.md")
    tree = read_tree(tmp_path / "specs")
    assert [f.title for f in tree.features] == ["A"]
    assert [(e.path, e.problem) for e in tree.errors] == [
        ("features/b.md", "repeats id F-0001 of features/a.md"),
        ("features/c.md", "feature F-0002 is part of a cycle of parents"),
        ("features/d.md", "feature F-0003 is part of a cycle of parents"),
        ("features/e.md", "is a symlink; spec files must be regular files"),
    ]


def test_features_are_ordered_by_number(tmp_path: Path) -> None:
    features = tmp_path / "specs" / "features"
    for number in (10000, 2, 9999):
        write(features / f"F-{number:04d}.md", f"---\nid: F-{number:04d}\ntitle: T\n---\n")
    assert [f.id for f in read_tree(tmp_path / "specs").features] == ["F-0002", "F-9999", "F-10000"]
