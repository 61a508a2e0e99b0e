"""Matching the words of a brief (forbidden topics, reference features) against a spec tree.

How one phrase matches is `pytest_specbench._text.phrase_pattern`, which the config
loader also uses to refuse a bad regular expression at load time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from pytest_specbench._text import phrase_pattern

if TYPE_CHECKING:
    from pytest_specbench.tree import SpecTree

__all__ = ["first_match", "item_texts", "phrase_pattern"]


def first_match(phrases: Iterable[str], text: str) -> str | None:
    """The first phrase that matches `text`, as written, or None."""
    return next((p for p in phrases if phrase_pattern(p).search(text)), None)


def item_texts(tree: SpecTree, *, requirements: bool = True) -> Iterator[tuple[str, str, str]]:
    """`(id, title, title and description)` of every feature and, unless told not to, requirement."""
    for feature in tree.all_features():
        yield feature.id, feature.title, f"{feature.title}\n{feature.description}"
        if requirements:
            for req in feature.requirements:
                yield req.id, req.title, f"{req.title}\n{req.description}"
