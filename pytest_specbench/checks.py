"""Verdicts on a finished run: each check is a name, passed or not, and one line saying why.

A check is a plain function of the run's `Evidence`; `CHECKS` lists them in the
order they are reported. A check that does not apply (its threshold unset)
still reports, and passes with a detail that says it was not asked for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_specbench.settings import BriefConfig
from pytest_specbench.transcript import ToolCallEvent, Transcript
from pytest_specbench.tree import SpecTree

__all__ = ["CHECKS", "Check", "Evidence", "created_items", "run_checks"]

ITEM_ID = re.compile(r"\b[FR]-\d{4,}\b")
# A path-like token ending in a file extension a spec writer would claim to have written.
CLAIMED_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.(?:md|markdown|ya?ml|json|txt))\b")


@dataclass(frozen=True, slots=True)
class Check:
    """One verdict."""

    name: str
    passed: bool
    detail: str

    def __str__(self) -> str:
        return f"{self.name}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything a check may look at."""

    transcript: Transcript
    tree: SpecTree
    brief: BriefConfig
    workspace: Path
    specs_dir: Path
    settings: dict[str, Any]
    """Check settings resolved for this run (brief and model `extra`, defaults)."""


CheckFn = Callable[[Evidence], Check]


def check_terminated(ev: Evidence) -> Check:
    """The model ended with a final answer, not by a limit."""
    stop = ev.transcript.stop
    if stop is None:
        return Check("terminated", False, "the run has no end recorded")
    return Check("terminated", stop.reason == "final_answer", stop.detail)


def check_files_exist(ev: Evidence) -> Check:
    """Every created item is on disk and parses; the final answer names only files that exist."""
    problems = [f"{e.path} does not parse ({e.problem})" for e in ev.tree.errors]
    created = created_items(ev.transcript)
    missing = sorted(created - ev.tree.ids() - _removed(ev.transcript, created))
    problems += [f"{item} was reported created but is not on disk" for item in missing]
    named = claimed_paths(ev.transcript.final_text)
    problems += [f'final answer names "{p}" — no such file' for p in named if not _exists(p, ev)]
    if problems:
        return Check("files_exist", False, "; ".join(problems))
    return Check("files_exist", True, f"{len(created)} created items on disk; {len(named)} named files exist")


def check_min_requirements(ev: Evidence) -> Check:
    """At least the brief's `min_requirements`, counted at any depth."""
    return _at_least("min_requirements", ev.tree.requirement_count, ev.brief.min_requirements)


def check_min_features(ev: Evidence) -> Check:
    """At least the brief's `min_features`, counted at the top level."""
    return _at_least("min_features", ev.tree.feature_count, ev.brief.min_features)


def _at_least(name: str, actual: int, minimum: int) -> Check:
    if actual < minimum:
        return Check(name, False, f"{actual} < {minimum}")
    return Check(name, True, f"{actual} ≥ {minimum}")


CHECKS: list[CheckFn] = [check_terminated, check_files_exist, check_min_requirements, check_min_features]


def run_checks(ev: Evidence, checks: list[CheckFn] | None = None) -> tuple[Check, ...]:
    """Every check, in report order."""
    return tuple(check(ev) for check in (CHECKS if checks is None else checks))


def created_items(transcript: Transcript) -> set[str]:
    """Ids the server reported created, from successful create_* results."""
    return {item for call in _successful(transcript, "create_") if (item := _first_id(call.result))}


def claimed_paths(text: str) -> list[str]:
    """File paths the text names, in order, without repeats."""
    return list(dict.fromkeys(match.group(1) for match in CLAIMED_PATH.finditer(text)))


def _successful(transcript: Transcript, prefix: str) -> list[ToolCallEvent]:
    return [c for c in transcript.tool_calls() if c.name.startswith(prefix) and not c.is_error]


def _first_id(text: str) -> str | None:
    match = ITEM_ID.search(text)
    return match.group(0) if match else None


def _removed(transcript: Transcript, created: set[str]) -> set[str]:
    """Items deleted on purpose: deleted ids and everything created beneath them."""
    deleted = {_argument(c, "id") for c in _successful(transcript, "delete_item")}
    parents = _parent_map(transcript)
    return {item for item in created if _beneath(item, deleted, parents)}


def _beneath(item: str | None, deleted: set[str | None], parents: dict[str, str]) -> bool:
    seen: set[str] = set()
    while item is not None and item not in seen:
        if item in deleted:
            return True
        seen.add(item)
        item = parents.get(item)
    return False


def _parent_map(transcript: Transcript) -> dict[str, str]:
    parents: dict[str, str] = {}
    for call in _successful(transcript, "create_"):
        item, parent = _first_id(call.result), _argument(call, "feature_id") or _argument(call, "parent_id")
        if item and parent:
            parents[item] = parent
    return parents


def _argument(call: ToolCallEvent, key: str) -> str | None:
    import json

    try:
        value = json.loads(call.arguments).get(key)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _exists(claimed: str, ev: Evidence) -> bool:
    """Whether a path the final answer names exists: a spec file written, or a codebase file read."""
    relative = claimed.removeprefix("specs/")
    roots = [ev.workspace, ev.specs_dir, ev.specs_dir.parent, ev.brief.codebase]
    candidates = [root / name for root in roots for name in (claimed, relative)]
    return any(_inside(c, roots) and c.is_file() for c in candidates)


def _inside(path: Path, roots: list[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(root.resolve()) for root in roots)
