"""The checks every run gets, each declared once: its name, what it judges, and its settings.

A check's settings are keys of a `[briefs.<id>]` table (a brief sets the bar; a model does not
lower it), each with the parser that checks its value, its default and one line of help.
Everything else about the checks' names and keys follows from `DECLARED`: `CHECK_NAMES`
(what `known_failures` may name), `CHECK_DEFAULTS` (what the checks read when a brief sets
nothing), the schema's brief rows (`schema.BRIEF_KEYS`), and the reference table of the docs
(`check_table`). `verdicts.checks.CHECKS` runs them; a test holds its order equal to this one.

`reads` names the keys a check reads that belong to another table (a run setting of
`[defaults]`, a model's `max_tokens`): they are declared where they live, not here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pytest_specbench.config.keys import (
    At,
    Parser,
    parse_bool,
    parse_fraction,
    parse_int,
    parse_phrases,
    parse_reference_features,
    suggest,
    wrong_type,
)

__all__ = [
    "CHECK_DEFAULTS",
    "CHECK_NAMES",
    "DECLARED",
    "CheckDeclaration",
    "CheckSetting",
    "check_table",
    "parse_check_names",
]


@dataclass(frozen=True, slots=True)
class CheckDeclaration:
    """One check: its name (a results.json key, a `known_failures` value), what it judges, its keys."""

    name: str
    summary: str
    """One line: what the check judges (it fails when this does not hold)."""
    settings: tuple[CheckSetting, ...] = ()
    """The brief keys of this check only."""
    reads: tuple[str, ...] = ()
    """Keys of other tables it reads (run settings, the model's `max_tokens`)."""


@dataclass(frozen=True, slots=True)
class CheckSetting:
    """One brief key a check reads."""

    key: str
    """The key as a `[briefs.<id>]` table writes it."""
    parse: Parser
    """Checks and converts the value written in specbench.toml (raises a `ConfigError`)."""
    default: Any
    """The value when the brief does not set the key."""
    help: str
    """One line for the docs: what the key means."""
    field: bool = False
    """A `BriefConfig` field (`min_requirements`), not one of its `extra` check settings."""


DECLARED: tuple[CheckDeclaration, ...] = (
    CheckDeclaration(
        "no_loop",
        "no call, failing tool or short cycle of calls repeats `loop_threshold` times back to back",
        reads=("loop_threshold", "stop_on_loop"),
    ),
    CheckDeclaration(
        "terminated",
        "the run ended with a final answer, not by a limit, a loop or an answer cut off by `max_tokens`",
        reads=("max_turns", "timeout_s", "max_tool_calls", "max_total_tokens", "max_cost_usd", "max_tokens"),
    ),
    CheckDeclaration(
        "final_response",
        "a run that ended on the model's own terms ended with words, not an empty, reasoning-only, "
        "unparsed-tool-call or cut-off turn",
        reads=("max_tokens",),
    ),
    CheckDeclaration(
        "files_exist", "every item the server reported created is on disk, and every spec file parses"
    ),
    CheckDeclaration(
        "no_false_claims",
        "the final answer names only files that exist and ids that were created, and overstates nothing",
    ),
    CheckDeclaration(
        "min_requirements",
        "at least the brief's `min_requirements` requirements, counted at any depth",
        (CheckSetting("min_requirements", parse_int(0), 0, "requirements the tree needs", field=True),),
    ),
    CheckDeclaration(
        "min_features",
        "at least the brief's `min_features` top-level features",
        (CheckSetting("min_features", parse_int(0), 0, "top-level features the tree needs", field=True),),
    ),
    CheckDeclaration(
        "feature_recall",
        "enough of the brief's `reference_features` appear in feature titles and descriptions",
        (
            CheckSetting(
                "reference_features",
                parse_reference_features,
                (),
                'features the tree should cover, e.g. `[{ name = "undo", aliases = ["revert"] }]`',
            ),
            CheckSetting(
                "min_feature_recall",
                parse_fraction,
                None,
                "the share of them it must mention (0..1); unset: the recall is reported, not judged",
            ),
        ),
    ),
    CheckDeclaration(
        "on_topic",
        "no feature or requirement title or description matches one of the brief's `forbidden_topics`",
        (
            CheckSetting(
                "forbidden_topics",
                parse_phrases,
                (),
                "words, phrases or regular expressions the tree must not be about",
            ),
        ),
    ),
    CheckDeclaration(
        "tree_quality",
        "no more empty features, requirements without criteria, duplicate titles or placeholders "
        "than the brief allows",
        (
            CheckSetting("tree_quality", parse_bool, True, "false turns the check off"),
            CheckSetting(
                "max_empty_features",
                parse_int(0),
                0,
                "features with no requirement, theirs or their children's",
            ),
            CheckSetting(
                "max_requirements_without_criteria",
                parse_int(0),
                0,
                "requirements without acceptance criteria",
            ),
            CheckSetting(
                "max_duplicate_titles", parse_int(0), 0, "features or requirements titled like an earlier one"
            ),
            CheckSetting(
                "max_placeholders", parse_int(0), 0, "TBD, TODO:, lorem ipsum, ... goes here and the like"
            ),
        ),
    ),
    CheckDeclaration(
        "min_criteria_per_requirement",
        "every requirement has at least the brief's `min_criteria_per_requirement` acceptance criteria",
        (
            CheckSetting(
                "min_criteria_per_requirement",
                parse_int(1),
                None,
                "acceptance criteria every requirement needs; unset: not checked",
            ),
        ),
    ),
)
"""Every check, in report order: a cause before its symptom (a loop before the limit it ran into).
New checks go last: the names are config values (`known_failures`) and results.json keys."""

CHECK_NAMES: tuple[str, ...] = tuple(check.name for check in DECLARED)
"""The checks every run gets, in report order; the baseline gate's `no_regression` is not among them."""

CHECK_DEFAULTS: dict[str, Any] = {
    setting.key: setting.default for check in DECLARED for setting in check.settings if not setting.field
}
"""The brief-only check settings kept in `BriefConfig.extra`, as they are when a brief does not set them."""


def check_table() -> list[list[str]]:
    """The docs' reference table of the checks: one row per check and setting.

    Columns: check, what it judges, key, default (TOML), help. A check without settings has one
    row with empty key, default and help; `reads` is left to the prose.
    """
    rows = []
    for check in DECLARED:
        for index, setting in enumerate(check.settings or (None,)):
            first = [f"`{check.name}`", check.summary] if index == 0 else ["", ""]
            if setting is None:
                rows.append([*first, "", "", ""])
            else:
                rows.append([*first, f"`{setting.key}`", _toml(setting.default), setting.help])
    return rows


def _toml(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        return f"`{json.dumps(list(value))}`"
    return f"`{value}`"


def parse_check_names(value: object, at: At) -> tuple[str, ...]:
    """Names of checks (`CHECK_NAMES`), each once; the baseline gate cannot be one of them."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise wrong_type(value, "array of str", at, f'write {at.key} = ["min_criteria_per_requirement"]')
    for index, name in enumerate(value):
        where = at.at(f"{at.key}[{index}]")
        if name == "no_regression":
            raise where.error(
                "no_regression cannot be a known failure: it is the gate against the baseline",
                "remove it; to accept the new numbers, make this run's results.json the baseline",
            )
        if name not in CHECK_NAMES:
            fix = suggest(name, list(CHECK_NAMES), f"valid checks: {', '.join(CHECK_NAMES)}")
            raise where.error(f"unknown check {json.dumps(name)}", fix)
    return tuple(dict.fromkeys(value))
