"""Matching the words of a brief (forbidden topics, reference features) against a spec tree.

A plain phrase (letters, digits, spaces, `'` and `-`) matches whole words only, in any
case, with any whitespace between its words and an optional plural ending: "billing"
matches "Billing" and "billings" but not "rebillingual". Anything else is a regular
expression, matched case-insensitively as written.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_specbench.tree import SpecTree

__all__ = ["first_match", "item_texts", "phrase_pattern"]

_PLAIN = re.compile(r"[\w\s'-]+")


@functools.lru_cache(maxsize=512)
def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """The pattern of one phrase (see the module); raises `re.error` for a bad regular expression."""
    if _PLAIN.fullmatch(phrase):
        words = r"\s+".join(re.escape(word) for word in phrase.split())
        return re.compile(rf"\b{words}(?:s|es)?\b", re.IGNORECASE)
    return re.compile(phrase, re.IGNORECASE)


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
