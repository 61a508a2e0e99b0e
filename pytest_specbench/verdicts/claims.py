"""What a final answer claims: files it names, item ids, counts, and that the work is done.

Reading is deliberately literal, so a verdict can quote the words it judged:

* a path is a token ending in .md, .markdown, .yaml, .yml, .json or .txt;
* an id is `F-0001` / `R-0001` style (a letter, a dash, four or more digits);
* a count is digits followed, within two words, by "feature(s)" or "requirement(s)":
  "30 features", "150 detailed requirements", "7 top-level features";
* "done" is a sentence saying done, complete, finished, wrote, written, created or added,
  unless it is negated ("I could not complete the spec" claims nothing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["ITEM_ID", "Claims", "Count", "PathClaim", "read_claims"]

ITEM_ID = re.compile(r"\b[FR]-\d{4,}\b")
# A path-like token ending in a file extension a spec writer would claim to have written.
_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.(?:md|markdown|ya?ml|json|txt))\b")
_WORD_BEFORE = re.compile(r"([\w'-]+)[:\s`'\"*]*$")
_COUNT = re.compile(
    r"(?<![\w.,-])(\d{1,3}(?:,\d{3})+|\d+)\s+(?:[A-Za-z-]+\s+){0,2}?(feature|requirement)s?\b",
    re.IGNORECASE,
)
_DONE_IN_CONTEXT = re.compile(
    r"(?:\S+\s+){0,2}\b(?:done|complete|completed|finished|wrote|written|created|added)\b(?:\s+\S+){0,2}",
    re.IGNORECASE,
)
_NEGATED = re.compile(
    r"\b(?:not|no|never|nothing|none|unable|cannot|failed|0)\b|n't\b|\bwithout\b", re.IGNORECASE
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True, slots=True)
class PathClaim:
    """A file the answer names, with the word before it for the verdict to quote."""

    path: str
    quote: str


@dataclass(frozen=True, slots=True)
class Count:
    """A number of features or requirements, as in "30 features"."""

    number: int
    noun: Literal["feature", "requirement"]


@dataclass(frozen=True, slots=True)
class Claims:
    """Everything checkable that a final answer says, in order, without repeats."""

    paths: tuple[PathClaim, ...] = ()
    ids: tuple[str, ...] = ()
    counts: tuple[Count, ...] = ()
    done: str | None = None
    """The words claiming the work is done (the first such, with two words either side), or None."""

    @property
    def total(self) -> int:
        """How many claims there are to check."""
        return len(self.paths) + len(self.ids) + len(self.counts) + (self.done is not None)


def read_claims(text: str) -> Claims:
    """The claims in `text` (a final answer)."""
    return Claims(
        paths=tuple(dict.fromkeys(_paths(text))),
        ids=tuple(dict.fromkeys(m.group(0) for m in ITEM_ID.finditer(text))),
        counts=tuple(dict.fromkeys(_counts(text))),
        done=next((quote for s in _SENTENCE_END.split(text) if (quote := _done(s))), None),
    )


def _paths(text: str) -> list[PathClaim]:
    claims = []
    for match in _PATH.finditer(text):
        before = _WORD_BEFORE.search(text[: match.start()])
        quote = f"{before.group(1)} {match.group(1)}" if before else match.group(1)
        claims.append(PathClaim(match.group(1), quote))
    return claims


def _counts(text: str) -> list[Count]:
    counts = []
    for match in _COUNT.finditer(text):
        number = int(match.group(1).replace(",", ""))
        counts.append(Count(number, "feature" if match.group(2).lower() == "feature" else "requirement"))
    return counts


def _done(sentence: str) -> str | None:
    """The done-word with two words either side, if the sentence claims the work is done."""
    if _NEGATED.search(sentence):
        return None
    match = _DONE_IN_CONTEXT.search(sentence)
    return " ".join(match.group(0).split()).strip(".,;:!") if match else None
