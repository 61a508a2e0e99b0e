"""What a final answer claims: files it names, item ids, counts, and that the work is done.

Claims are read from the model's own prose only: fenced code blocks, JSON objects and
arrays (a feature drafted as data is no claim that it exists), and runs of `ECHO_WORDS`
or more words copied from a prompt (a model echoing "what you have written") are skipped.
Reading is deliberately literal, so a verdict can quote the words it judged:

* a path is a token ending in .md, .markdown, .yaml, .yml, .json or .txt;
* an id is `F-0001` / `R-0001` style (a letter, a dash, four or more digits);
* a count is digits followed, within two words, by "feature(s)" or "requirement(s)":
  "30 features", "150 detailed requirements", "7 top-level features";
* "done" is a sentence saying done, complete, finished, wrote, written, created or added,
  unless it is negated ("I could not complete the spec" claims nothing).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["ECHO_WORDS", "ITEM_ID", "Claims", "Count", "PathClaim", "read_claims"]

ECHO_WORDS = 6
"""Words in a row, copied from a prompt, that make a stretch of the answer an echo rather than prose."""

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
_FENCE = re.compile(r"(```|~~~).*?(?:\1|\Z)", re.DOTALL)  # unclosed: cut off, runs to the end
_DATA_START = re.compile(r'[{\[]\s*["{\[]')  # `{"`, `[{`, `["`: JSON, not a bracket in prose
_UNQUOTED = re.compile(r'["*]')
_QUOTE_ENDS = ".,;:!?'`_ "


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


def read_claims(text: str, prompts: Sequence[str] = ()) -> Claims:
    """The claims in `text` (a final answer), leaving out data, code and what repeats `prompts`."""
    text = _prose(text, prompts)
    return Claims(
        paths=tuple(dict.fromkeys(_paths(text))),
        ids=tuple(dict.fromkeys(m.group(0) for m in ITEM_ID.finditer(text))),
        counts=tuple(dict.fromkeys(_counts(text))),
        done=next((quote for s in _SENTENCE_END.split(text) if (quote := _done(s))), None),
    )


def _prose(text: str, prompts: Sequence[str]) -> str:
    """`text` with code blocks, JSON and echoes of `prompts` replaced by line breaks."""
    text = _blank(text, (m.span() for m in _FENCE.finditer(text)))
    text = _blank(text, _data(text))
    return _blank(text, _echoes(text, prompts))


def _blank(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` with each span (in order, not overlapping) replaced by a line break, which ends a sentence."""
    parts, last = [], 0
    for start, end in spans:
        parts += [text[last:start], "\n"]
        last = end
    return "".join(parts) + text[last:]


def _data(text: str) -> Iterator[tuple[int, int]]:
    """Where JSON objects and arrays are, each to its closing bracket (or the end, if cut off)."""
    position = 0
    while match := _DATA_START.search(text, position):
        position = _closing(text, match.start())
        yield match.start(), position


def _closing(text: str, start: int) -> int:
    # Brackets only, not strings: a small model's JSON has stray quotes more often than
    # its titles have brackets.
    depth = 0
    for i in range(start, len(text)):
        depth += (text[i] in "{[") - (text[i] in "}]")
        if depth == 0:
            return i + 1
    return len(text)


def _echoes(text: str, prompts: Sequence[str]) -> Iterator[tuple[int, int]]:
    """Runs of words that repeat `ECHO_WORDS` or more words of a prompt in a row."""
    runs = {run for prompt in prompts for run in _runs(prompt.lower().split())}
    words = list(re.finditer(r"\S+", text))
    echoed = [False] * len(words)
    for i, run in enumerate(_runs([w.group(0).lower() for w in words])):
        if run in runs:
            echoed[i : i + ECHO_WORDS] = [True] * ECHO_WORDS
    for is_echo, group in itertools.groupby(zip(words, echoed, strict=True), key=lambda pair: pair[1]):
        if is_echo:
            stretch = [word for word, _ in group]
            yield stretch[0].start(), stretch[-1].end()


def _runs(words: list[str]) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + ECHO_WORDS]) for i in range(len(words) - ECHO_WORDS + 1)]


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
    # The verdict puts the words in double quotes of its own; the model's would nest or dangle,
    # and Markdown emphasis is no part of what it said.
    sentence = _UNQUOTED.sub("", sentence)
    if _NEGATED.search(sentence):
        return None
    match = _DONE_IN_CONTEXT.search(sentence)
    return " ".join(match.group(0).split()).strip(_QUOTE_ENDS) if match else None
