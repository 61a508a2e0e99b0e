"""Properties over arbitrary text: slugs are always safe, and what the store writes reads back."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_specbench.server.store import (
    MAX_TITLE,
    SpecStore,
    clean_criterion,
    clean_text,
    clean_title,
    slugify,
)
from pytest_specbench.tree import read_tree

TRICKY = [
    "---",
    "...",
    "\n---\n",
    "## Acceptance Criteria",
    "\n## Acceptance Criteria\n- fake\n",
    "- [ ] ",
    "[x] ",
    "# ",
    "../",
    "/",
    "\x00",
    "\r\n",
    "\r",
    "\u2028",
    "\x85",
    "\ufeff",
    "'",
    '"',
    ": ",
    "#",
    "&a *b !tag",
    "null",
    "yes",
    "1e3",
    "con",
]
texts = st.lists(st.one_of(st.text(), st.sampled_from(TRICKY)), max_size=8).map("".join)
titles = texts.filter(lambda t: 0 < len(clean_title(t)) <= MAX_TITLE)
criteria = st.lists(texts.filter(lambda c: clean_criterion(c) != ""), min_size=1, max_size=5)
SAFE_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@given(st.text())
def test_slugs_are_always_safe(title: str) -> None:
    slug = slugify(title)
    assert SAFE_SLUG.match(slug)
    assert len(slug) <= 45
    assert slug not in {"con", "nul", "prn", "aux"}


@settings(max_examples=150, deadline=None)
@given(titles, texts, titles, texts, criteria)
def test_what_the_store_writes_reads_back(
    feature_title: str, feature_text: str, title: str, text: str, acceptance: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        specs = Path(tmp) / "specs"
        store = SpecStore(specs)
        store.create_feature(feature_title, feature_text)
        store.create_feature(title, text, parent_id="F-0001")
        store.create_requirement("F-0002", title, text, acceptance)
        tree = read_tree(specs)
        assert tree.errors == ()
        (feature,) = tree.features
        assert (feature.title, feature.description) == (clean_title(feature_title), clean_text(feature_text))
        (child,) = feature.children
        (requirement,) = child.requirements
        assert (requirement.title, requirement.description) == (clean_title(title), clean_text(text))
        assert requirement.acceptance_criteria == tuple(clean_criterion(c) for c in acceptance)
        assert all(p.resolve().is_relative_to(specs.resolve()) for p in Path(tmp).rglob("*"))


@settings(max_examples=50, deadline=None)
@given(titles, texts, criteria)
def test_an_update_reads_back_and_keeps_the_path(title: str, text: str, acceptance: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SpecStore(Path(tmp) / "specs")
        store.create_feature("Feature", "")
        before = store.create_requirement("F-0001", "Requirement", "", ["x"])
        store.update("R-0001", title=title, description=text, acceptance_criteria=acceptance)
        (requirement,) = read_tree(store.specs_dir).features[0].requirements
        assert requirement.path == str(before.path)
        assert (requirement.title, requirement.description) == (clean_title(title), clean_text(text))
        assert requirement.acceptance_criteria == tuple(clean_criterion(c) for c in acceptance)
