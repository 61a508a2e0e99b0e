"""What makes a spec tree look unfinished, for the `tree_quality` check.

* a feature without requirements: none of its own and none in its child features;
* a requirement without acceptance criteria;
* a duplicate title: a feature (or requirement) titled like an earlier one of its kind,
  ignoring case and spacing;
* a placeholder in a title, description or criterion: "TBD", "lorem ipsum", "... goes here",
  "to be determined", or an upper-case TODO / FIXME that stands as a marker (`TODO:`,
  `[TODO]`, or at the end of a line) — so "the todo CLI" and "the TODO app" are not flagged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from pytest_specbench.tree import SpecTree

__all__ = ["PLACEHOLDER", "Problem", "tree_problems"]

PLACEHOLDER = re.compile(
    r"(?i:\btbd\b|\blorem ipsum\b|\bgoes here\b|\bto be (?:determined|defined|decided|written)\b)"
    r"|\b(?:TODO|FIXME)\b(?=[ \t]*(?::|$))|[\[<(](?:TODO|FIXME)\b",
    re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class Problem:
    """One kind of flaw, the setting that allows some, and the items that have it."""

    singular: str
    plural: str
    setting: str
    offenders: tuple[str, ...]
    """Each offending item as a verdict names it, e.g. `F-0002 "Undo"`."""

    def describe(self) -> str:
        """`2 features without requirements`."""
        count = len(self.offenders)
        return f"{count} {self.singular if count == 1 else self.plural}"


def tree_problems(tree: SpecTree) -> list[Problem]:
    """Every kind of flaw, each with its offenders (possibly none), in a fixed order."""
    return [
        Problem(
            "feature without requirements",
            "features without requirements",
            "max_empty_features",
            tuple(_empty_features(tree)),
        ),
        Problem(
            "requirement without acceptance criteria",
            "requirements without acceptance criteria",
            "max_requirements_without_criteria",
            tuple(f"{r.id}" for r in tree.all_requirements() if not r.acceptance_criteria),
        ),
        Problem("duplicate title", "duplicate titles", "max_duplicate_titles", tuple(_duplicates(tree))),
        Problem("placeholder", "placeholders", "max_placeholders", tuple(_placeholders(tree))),
    ]


def _empty_features(tree: SpecTree) -> Iterator[str]:
    for feature in tree.all_features():
        if not any(f.requirements for f in feature.walk()):
            yield f'{feature.id} "{feature.title}"'


def _duplicates(tree: SpecTree) -> Iterator[str]:
    features = [(f.id, f.title) for f in tree.all_features()]
    requirements = [(r.id, r.title) for r in tree.all_requirements()]
    for kind in (features, requirements):
        seen: dict[str, str] = {}
        for item, title in kind:
            key = " ".join(title.casefold().split())
            if key in seen:
                yield f'{item} "{title}" repeats {seen[key]}'
            else:
                seen[key] = item


def _placeholders(tree: SpecTree) -> Iterator[str]:
    fields = [(f.id, [f.title, f.description]) for f in tree.all_features()]
    fields += [(r.id, [r.title, r.description, *r.acceptance_criteria]) for r in tree.all_requirements()]
    for item, texts in fields:
        match = next((m for text in texts if (m := PLACEHOLDER.search(text))), None)
        if match:
            yield f'"{match.group(0).strip("[<(")}" in {item}'
