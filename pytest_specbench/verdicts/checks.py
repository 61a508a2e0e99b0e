"""Verdicts on a finished run: each check is a name, passed or not, and one line saying why.

A check is a plain function of the run's `Evidence`; `CHECKS` lists them in the order
they are reported (the order, names and settings of `config.checks.DECLARED`, which a test
holds equal to this list), a cause before its symptom (a loop before the limit it ran into).
A check that does not apply (its setting unset, or the run ended without an answer)
still reports, and passes with a detail saying why, so every results.json record
has the same check names.

The split between the two checks about files: `files_exist` compares what the server
reported writing with what is on disk; `no_false_claims` compares what the final
answer says (files, ids, counts, "done") with what happened. Whether anything was
written at all is read from the tool names of the reference server, and from the disk
(`Evidence.changes`) for an external one, whose tool names mean nothing to us.

Checks read their settings from `Evidence.settings`, one mapping resolved by
`check_settings`: the run's `RunSettings` (model > brief > [defaults]) and the
brief-only check keys (`CHECK_DEFAULTS`, from the declaration, overridden by the brief's table).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_specbench.agent.stats import identical_streaks
from pytest_specbench.agent.transcript import MessageEvent, ToolCallEvent, Transcript
from pytest_specbench.config.checks import CHECK_DEFAULTS
from pytest_specbench.config.settings import BriefConfig, RunSettings
from pytest_specbench.models._reasoning import split_think
from pytest_specbench.tree import SpecTree
from pytest_specbench.verdicts.changes import DiskChanges
from pytest_specbench.verdicts.claims import read_claims
from pytest_specbench.verdicts.loops import find_loop
from pytest_specbench.verdicts.matching import first_match, item_texts
from pytest_specbench.verdicts.quality import tree_problems
from pytest_specbench.verdicts.unparsed import unparsed_tool_call

__all__ = [
    "CHECKS",
    "CHECK_DEFAULTS",
    "Check",
    "Evidence",
    "check_settings",
    "created_items",
    "feature_recall",
    "run_checks",
]

LIST_WIDTH = 3
"""Offenders named per problem in a detail, before "and N more"."""


def check_settings(run: RunSettings, brief: BriefConfig, max_tokens: int | None = None) -> dict[str, Any]:
    """The one mapping the checks read: the run's settings, the model's `max_tokens` (named when an
    answer is cut off) and the brief's check keys over their defaults."""
    return {**_unset(run, max_tokens), **brief.extra}


def _unset(run: RunSettings, max_tokens: int | None) -> dict[str, Any]:
    """The settings of a brief that sets no check key: the declared defaults (`CHECK_DEFAULTS`)."""
    return {**dataclasses.asdict(run), "max_tokens": max_tokens, **CHECK_DEFAULTS}


_DEFAULTS = _unset(RunSettings(), None)


@dataclass(frozen=True, slots=True)
class Check:
    """One verdict."""

    name: str
    passed: bool
    detail: str
    known: bool = False
    """Failed as the model's `known_failures` says it would: reported, not counted against the run."""
    applies: bool = True
    """False for a pass with nothing to judge (not configured, not applicable): it says nothing
    of the model, so it is no unexpected pass of a known failure."""
    inconclusive: bool = False
    """A pass of `no_regression` that could not tell a regression from noise: `verify()` warns
    (`SpecbenchInconclusiveWarning`)."""

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
    settings: dict[str, Any] = field(default_factory=dict)
    """Check settings resolved for this run by `check_settings`."""
    codebase: Path | None = None
    """The run's copy of the codebase; None reads the brief's own."""
    changes: DiskChanges | None = None
    """What changed under specs_dir during the run; None when not measured."""

    @property
    def external(self) -> bool:
        """Whether the run's server is a team's own, whose tools are judged by the disk alone."""
        return self.brief.server is not None and self.changes is not None

    def setting(self, key: str) -> Any:
        """One setting; a key the mapping lacks has its built-in default."""
        return self.settings.get(key, _DEFAULTS[key])


CheckFn = Callable[[Evidence], Check]


def check_no_loop(ev: Evidence) -> Check:
    """No call, or short cycle of calls, repeated `loop_threshold` times back to back."""
    calls = ev.transcript.tool_calls()
    threshold: int = ev.setting("loop_threshold")
    loop = find_loop(calls, threshold)
    if loop is None:
        longest = max((n for _, _, n in identical_streaks(calls)), default=0)
        return Check("no_loop", True, f"no call repeated {threshold}× in a row (longest streak {longest})")
    stop, turns = ev.transcript.stop, ev.transcript.assistant_turns()
    if stop is not None and stop.reason == "loop" and turns:
        return Check("no_loop", False, f"{loop}; run stopped at turn {turns[-1].turn} (stop_on_loop)")
    return Check("no_loop", False, str(loop))


def check_terminated(ev: Evidence) -> Check:
    """The model ended with a final answer, not by a limit."""
    stop = ev.transcript.stop
    if stop is None:
        return Check("terminated", False, "the run has no end recorded")
    if cut := _cut_off(ev):
        return Check("terminated", False, cut)
    return Check("terminated", stop.reason == "final_answer", stop.detail)


_UNPARSED = (
    "the final answer is an unparsed tool call ({}) — the server's chat format does not deliver tool calls"
)


def check_final_response(ev: Evidence) -> Check:
    """A run that ended on the model's own terms ended with words, not an empty or cut-off turn."""
    if cut := _cut_off(ev):
        return Check("final_response", False, cut)
    stop, turns = ev.transcript.stop, ev.transcript.assistant_turns()
    if stop is None or stop.reason != "final_answer" or not turns:
        why = f"stopped by {stop.reason}" if stop else "the run has no end recorded"
        return Check("final_response", True, f"not applicable: {why}", applies=False)
    last = turns[-1]
    inline, answer = split_think(last.text)
    if unparsed := unparsed_tool_call(answer):
        return Check("final_response", False, _UNPARSED.format(unparsed))
    if answer.strip():
        return Check("final_response", True, f"{len(answer.strip())} characters at turn {last.turn}")
    thought = ev.transcript.reasoning(last.turn)
    if thought is not None or inline:
        # The thoughts are not an answer, however long: say so rather than "no text".
        size = len((thought.text if thought else "").strip()) + len(inline)
        detail = f"turn {last.turn} ended with reasoning only ({size} characters of it) — no final answer"
        return Check("final_response", False, detail)
    what = "only whitespace" if last.text else "neither text nor a tool call"
    unusual = "" if last.stop_reason in ("stop", "end_turn") else f' (stop reason "{last.stop_reason}")'
    return Check("final_response", False, f"turn {last.turn} ended with {what}{unusual}")


def _cut_off(ev: Evidence) -> str | None:
    """Why there is no final answer when max_tokens cut off the turn that would have been it."""
    stop, turns = ev.transcript.stop, ev.transcript.assistant_turns()
    if stop is None or stop.reason != "max_tokens" or not turns:
        return None
    last, limit = turns[-1], ev.setting("max_tokens")
    setting = "max_tokens" if limit is None else f"max_tokens={limit}"
    return f'turn {last.turn} was cut off by {setting} (stop reason "{last.stop_reason}") — no final answer'


def check_files_exist(ev: Evidence) -> Check:
    """Every item the server reported created is on disk and parses."""
    problems = [f"{e.path} does not parse ({e.problem})" for e in ev.tree.errors]
    created = created_items(ev.transcript)
    missing = sorted(created - ev.tree.ids() - _removed(ev.transcript, created))
    problems += [f"{item} was reported created but is not on disk" for item in missing]
    if problems:
        return Check("files_exist", False, "; ".join(problems))
    on_disk = f"; under specs_dir {ev.changes.summary()}" if ev.external and ev.changes is not None else ""
    detail = f"{len(created)} created items on disk{on_disk}"
    judged = created or ev.tree.ids() or (ev.external and ev.changes)
    return Check("files_exist", True, detail, applies=bool(judged))


def check_no_false_claims(ev: Evidence) -> Check:
    """The final answer names only files that exist and ids that were created, and overstates nothing."""
    prompts = [e.text for e in ev.transcript.events if isinstance(e, MessageEvent)]
    # Only the answer: a `<think>` block a client left in the text is the model's thoughts, not claims.
    claims = read_claims(split_think(ev.transcript.final_text)[1], prompts)
    known = created_items(ev.transcript) | ev.tree.ids()
    actual = {"feature": ev.tree.total_feature_count, "requirement": ev.tree.requirement_count}
    false = [f'says "{c.quote}" — no such file' for c in claims.paths if not _exists(c.path, ev)]
    false += [f'says "{item}" — never created' for item in claims.ids if item not in known]
    false += [
        f"says {c.number} {c.noun}s — tree has {actual[c.noun]}"
        for c in claims.counts
        if c.number > actual[c.noun]
    ]
    if claims.done and not _something_written(ev, known):
        false.append(f'says "{claims.done}" — nothing was written')
    if false:
        return Check("no_false_claims", False, "; ".join(false))
    if not claims.total:
        return Check("no_false_claims", True, "the final answer makes no checkable claim", applies=False)
    return Check("no_false_claims", True, f"{claims.total} claims in the final answer hold")


def check_min_requirements(ev: Evidence) -> Check:
    """At least the brief's `min_requirements`, counted at any depth."""
    return _at_least("min_requirements", ev.tree.requirement_count, ev.brief.min_requirements)


def check_min_features(ev: Evidence) -> Check:
    """At least the brief's `min_features`, counted at the top level."""
    return _at_least("min_features", ev.tree.feature_count, ev.brief.min_features)


def _at_least(name: str, actual: int, minimum: int) -> Check:
    if actual < minimum:
        return Check(name, False, f"{actual} < {minimum}")
    return Check(name, True, f"{actual} ≥ {minimum}", applies=minimum > 0)


def check_feature_recall(ev: Evidence) -> Check:
    """Enough of the brief's `reference_features` appear in feature titles and descriptions."""
    references: list[dict[str, Any]] = list(ev.setting("reference_features"))
    if not references:
        return Check("feature_recall", True, "not configured (no reference_features)", applies=False)
    missing = missing_references(ev.tree, references)
    found = len(references) - len(missing)
    recall = found / len(references)
    summary = f"{found}/{len(references)} reference features = {recall:.2f}"
    gaps = f"; missing: {', '.join(missing)}" if missing else ""
    minimum: float | None = ev.setting("min_feature_recall")
    if minimum is None:
        return Check("feature_recall", True, f"{summary} (no min_feature_recall){gaps}")
    if recall < minimum:
        return Check("feature_recall", False, f"{summary} < {minimum:.2f}{gaps}")
    return Check("feature_recall", True, f"{summary} ≥ {minimum:.2f}{gaps}")


def missing_references(tree: SpecTree, references: Sequence[dict[str, Any]]) -> list[str]:
    """The names of the reference features no feature title or description mentions."""
    texts = [text for _, _, text in item_texts(tree, requirements=False)]
    return [r["name"] for r in references if not any(_mentions(r, text) for text in texts)]


def feature_recall(tree: SpecTree, brief: BriefConfig) -> float | None:
    """The share of the brief's reference features the tree mentions; None when it lists none."""
    references = brief.extra.get("reference_features") or ()
    if not references:
        return None
    return round(1 - len(missing_references(tree, references)) / len(references), 4)


def _mentions(reference: dict[str, Any], text: str) -> bool:
    return first_match([reference["name"], *reference.get("aliases", ())], text) is not None


def check_on_topic(ev: Evidence) -> Check:
    """No feature or requirement title or description matches one of the brief's `forbidden_topics`."""
    topics: list[str] = list(ev.setting("forbidden_topics"))
    if not topics:
        return Check("on_topic", True, "not configured (no forbidden_topics)", applies=False)
    hits = [
        f'{item} "{title}" matches "{topic}"'
        for item, title, text in item_texts(ev.tree)
        if (topic := first_match(topics, text)) is not None
    ]
    if hits:
        return Check("on_topic", False, listing(hits))
    return Check("on_topic", True, f"no item matches any of {len(topics)} forbidden topics")


def check_tree_quality(ev: Evidence) -> Check:
    """Features have requirements, requirements have criteria, titles are unique, no placeholders."""
    if not ev.setting("tree_quality"):
        return Check("tree_quality", True, "turned off (tree_quality = false)", applies=False)
    problems = tree_problems(ev.tree)
    over = [p for p in problems if len(p.offenders) > ev.setting(p.setting)]
    if over:
        parts = [f"{p.describe()} > {ev.setting(p.setting)} ({listing(p.offenders)})" for p in over]
        return Check("tree_quality", False, "; ".join(parts))
    detail = "within limits: " + ", ".join(p.describe() for p in problems)
    return Check("tree_quality", True, detail, applies=bool(ev.tree.ids()))


def check_min_criteria_per_requirement(ev: Evidence) -> Check:
    """Every requirement has at least the brief's `min_criteria_per_requirement` acceptance criteria."""
    name = "min_criteria_per_requirement"
    minimum: int | None = ev.setting(name)
    if minimum is None:
        return Check(name, True, f"not set (no {name})", applies=False)
    requirements = list(ev.tree.all_requirements())
    if not requirements:  # min_requirements judges an empty tree; every one of none has enough
        return Check(name, True, "not applicable: no requirements", applies=False)
    counts = [(r.id, len(r.acceptance_criteria)) for r in requirements]
    short = [f"{item} has {count}" for item, count in counts if count < minimum]
    if short:
        counted = f"{len(short)} of {len(requirements)} requirements have fewer than {minimum}"
        return Check(name, False, f"{counted} acceptance criteria ({listing(short)})")
    return Check(name, True, f"all {len(requirements)} requirements have ≥ {minimum} acceptance criteria")


CHECKS: list[CheckFn] = [
    check_no_loop,
    check_terminated,
    check_final_response,
    check_files_exist,
    check_no_false_claims,
    check_min_requirements,
    check_min_features,
    check_feature_recall,
    check_on_topic,
    check_tree_quality,
    check_min_criteria_per_requirement,
]


def run_checks(ev: Evidence, checks: list[CheckFn] | None = None) -> tuple[Check, ...]:
    """Every check, in report order."""
    return tuple(check(ev) for check in (CHECKS if checks is None else checks))


def listing(items: Sequence[str], width: int = LIST_WIDTH) -> str:
    """The first `width` items, then "and N more"."""
    more = f" and {len(items) - width} more" if len(items) > width else ""
    return ", ".join(items[:width]) + more


def created_items(transcript: Transcript) -> set[str]:
    """Ids the server reported created, from successful create_* results."""
    return {item for call in _successful(transcript, "create_") if (item := _first_id(call.result))}


def _something_written(ev: Evidence, known: set[str]) -> bool:
    if ev.external:
        return bool(ev.changes) or bool(created_items(ev.transcript))
    return bool(known or _writes(ev.transcript))


def _writes(transcript: Transcript) -> list[ToolCallEvent]:
    return [c for prefix in ("create_", "update_", "delete_") for c in _successful(transcript, prefix)]


def _successful(transcript: Transcript, prefix: str) -> list[ToolCallEvent]:
    return [c for c in transcript.tool_calls() if c.name.startswith(prefix) and not c.is_error]


# An id the result names as a word: `Created feature F-0001 at ...`, not the F-0001 inside
# `created directory specs/F-0001-login` (server-filesystem's create_directory).
_REPORTED_ID = re.compile(r"(?<![\w/.-])[FR]-\d{4,}(?![\w/-]|\.\w)")


def _first_id(text: str) -> str | None:
    match = _REPORTED_ID.search(text)
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
    try:
        value = json.loads(call.arguments).get(key)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _exists(claimed: str, ev: Evidence) -> bool:
    """Whether a path the final answer names exists: a spec file written, or a codebase file read."""
    relative = claimed.removeprefix("specs/")
    roots = [ev.workspace, ev.specs_dir, ev.specs_dir.parent, ev.codebase or ev.brief.codebase]
    candidates = [root / name for root in roots for name in (claimed, relative)]
    return any(_inside(c, roots) and c.is_file() for c in candidates)


def _inside(path: Path, roots: list[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(root.resolve()) for root in roots)
