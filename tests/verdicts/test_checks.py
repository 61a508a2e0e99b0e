"""Each check on hand-built evidence: what triggers it, the near misses that must not, the detail line."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench.agent.transcript import (
    AssistantEvent,
    MessageEvent,
    StopEvent,
    StopReason,
    ToolCallEvent,
    ToolErrorKind,
    Transcript,
)
from pytest_specbench.config import load_config, schema
from pytest_specbench.config.checks import CHECK_DEFAULTS, CHECK_NAMES, DECLARED, check_table
from pytest_specbench.config.settings import BriefConfig, RunSettings, ServerConfig
from pytest_specbench.errors import ConfigError
from pytest_specbench.tree import Feature, Requirement, SpecTree, TreeFileError
from pytest_specbench.verdicts.changes import DiskChanges, compare, snapshot
from pytest_specbench.verdicts.checks import (
    CHECKS,
    Check,
    Evidence,
    check_feature_recall,
    check_files_exist,
    check_final_response,
    check_min_criteria_per_requirement,
    check_min_requirements,
    check_no_false_claims,
    check_no_loop,
    check_on_topic,
    check_settings,
    check_terminated,
    check_tree_quality,
    created_items,
    run_checks,
)
from pytest_specbench.verdicts.loops import find_loop
from pytest_specbench.verdicts.quality import tree_problems

# --- building evidence ------------------------------------------------------------------------------


def tool(name: str, turn: int = 1, result: str = "ok", error: bool = False, **args: Any) -> ToolCallEvent:
    return ToolCallEvent(turn, f"c{turn}", name, json.dumps(args), result, error, 0.0)


def created(kind: str, item: str, turn: int = 1, **args: Any) -> ToolCallEvent:
    return tool(f"create_{kind}", turn, f"Created {kind} {item} at specs/...", **args)


def run(
    *calls: ToolCallEvent, final: str = "Done.", stop: StopReason = "final_answer", stop_reason: str = "stop"
) -> Transcript:
    """A transcript: one turn per distinct call turn, then the final turn and the stop."""
    transcript = Transcript()
    turns = sorted({c.turn for c in calls})
    for turn in turns:
        batch = [c for c in calls if c.turn == turn]
        tool_calls = tuple({"id": c.call_id, "name": c.name, "arguments": c.arguments} for c in batch)
        transcript.append(AssistantEvent(turn, "", tool_calls, 10, 5, "tool_calls", 0.0))
        for c in batch:
            transcript.append(c)
    last = (turns[-1] + 1) if turns else 1
    if stop in ("final_answer", "max_tokens"):  # a cut-off answer is a turn too
        transcript.append(AssistantEvent(last, final, (), 10, 5, stop_reason, 0.0))
    transcript.append(StopEvent(stop, f"{stop} detail"))
    return transcript


def req(
    item: str, title: str, description: str = "", criteria: tuple[str, ...] = ("Given x, y.",)
) -> Requirement:
    return Requirement(item, title, description, criteria, f"{item}.md")


def feat(
    item: str, title: str, *reqs: Requirement, description: str = "", children: tuple[Feature, ...] = ()
) -> Feature:
    return Feature(item, title, description, f"{item}.md", reqs, children)


def tree(*features: Feature) -> SpecTree:
    return SpecTree(features=features)


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path, Path]:
    """workspace, specs_dir and codebase, each existing."""
    workspace, codebase = tmp_path / "workspace", tmp_path / "code"
    (workspace / "specs").mkdir(parents=True)
    codebase.mkdir()
    (codebase / "README.md").write_text("# app\n")
    return workspace, workspace / "specs", codebase


def evidence(
    paths: tuple[Path, Path, Path],
    transcript: Transcript | None = None,
    spec: SpecTree | None = None,
    **settings: Any,
) -> Evidence:
    workspace, specs_dir, codebase = paths
    brief = BriefConfig("b", codebase, "Specify it.")
    return Evidence(transcript or run(), spec or SpecTree(), brief, workspace, specs_dir, settings)


# --- no_loop ----------------------------------------------------------------------------------------


def test_no_loop_names_tool_arguments_count_and_first_turn(paths: Any) -> None:
    calls = [tool("list_files", 1), *(tool("read_file", t, path="README.md") for t in range(3, 19))]

    check = check_no_loop(evidence(paths, run(*calls)))

    assert check == Check("no_loop", False, 'read_file(path="README.md") called 16× in a row from turn 3')


def test_no_loop_compares_arguments_as_canonical_json(paths: Any) -> None:
    spaced = ToolCallEvent(2, "x", "read_file", '{ "limit": 5,  "path": "a.py" }', "ok", False, 0.0)
    calls = [tool("read_file", 1, path="a.py", limit=5), *[spaced] * 4]

    assert not check_no_loop(evidence(paths, run(*calls))).passed


def test_same_tool_with_different_arguments_is_not_a_loop(paths: Any) -> None:
    calls = [tool("read_file", t, path=f"file{t}.py") for t in range(1, 21)]

    check = check_no_loop(evidence(paths, run(*calls)))

    assert check == Check("no_loop", True, "no call repeated 5× in a row (longest streak 1)")


def test_one_short_of_the_threshold_is_not_a_loop(paths: Any) -> None:
    calls = [tool("get_spec_tree", t) for t in range(1, 5)]

    assert check_no_loop(evidence(paths, run(*calls))).detail.endswith("(longest streak 4)")


def test_loop_threshold_is_a_setting(paths: Any) -> None:
    calls = [tool("get_spec_tree", t) for t in range(1, 4)]

    check = check_no_loop(evidence(paths, run(*calls), loop_threshold=3))

    assert check == Check("no_loop", False, "get_spec_tree() called 3× in a row from turn 1")


def test_a_cycle_without_progress_is_a_loop(paths: Any) -> None:
    pair = [tool("read_file", path="a.py"), tool("list_files", path=".")]
    calls = [tool("get_spec_tree", 1), *[pair[i % 2] for i in range(10)]]

    check = check_no_loop(evidence(paths, run(*calls)))

    assert check.detail == (
        'cycle read_file(path="a.py") → list_files(path=".") repeated 5× from turn 1, '
        "no spec item created in between"
    )


def test_a_cycle_of_three_is_a_loop_and_four_repeats_are_not(paths: Any) -> None:
    three = [tool("read_file", path="a.py"), tool("read_file", path="b.py"), tool("list_files")]

    assert not check_no_loop(evidence(paths, run(*three * 5))).passed
    assert check_no_loop(evidence(paths, run(*three * 4))).passed


def test_a_cycle_that_keeps_creating_items_is_progress(paths: Any) -> None:
    calls = [created("feature", "F-0001", title="Undo"), tool("get_spec_tree")] * 6

    assert check_no_loop(evidence(paths, run(*calls))).passed


def test_a_loop_that_stopped_the_run_says_so(paths: Any) -> None:
    calls = [tool("read_file", t, path="README.md") for t in range(2, 7)]

    check = check_no_loop(evidence(paths, run(*calls, stop="loop")))

    assert (
        check.detail
        == 'read_file(path="README.md") called 5× in a row from turn 2; run stopped at turn 6 (stop_on_loop)'
    )


def test_long_arguments_are_shortened(paths: Any) -> None:
    calls = [tool("search_code", pattern="x" * 200)] * 5

    detail = check_no_loop(evidence(paths, run(*calls))).detail

    assert detail.startswith('search_code(pattern="xxxx') and "…)" in detail and len(detail) < 120


def broken(name: str, turn: int, raw: str, kind: ToolErrorKind = "invalid_json") -> ToolCallEvent:
    return ToolCallEvent(turn, f"c{turn}", name, raw, "Error: not JSON.", True, 0.0, kind)


CUT = '{"feature_id": "F-0001", "title": "Search notes", "acceptance_criteria": ["Given a note, when'


def test_calls_that_fail_the_same_way_are_a_loop_whatever_their_arguments(paths: Any) -> None:
    calls = [created("feature", "F-0001"), tool("read_file", 2, path="app.py")]
    calls += [broken("create_requirement", t, CUT[: 30 + 4 * t]) for t in range(4, 15)]

    check = check_no_loop(evidence(paths, run(*calls, stop="max_turns")))

    assert check == Check(
        "no_loop", False, "create_requirement failed 11× in a row with invalid JSON from turn 4"
    )


@pytest.mark.parametrize(
    "calls",
    [
        [broken("create_feature" if t % 2 else "create_requirement", t, CUT[: 30 + t]) for t in range(1, 11)],
        [
            broken("create_requirement", t, CUT[: 30 + t], "bad_arguments" if t % 2 else "invalid_json")
            for t in range(1, 11)
        ],
        [
            c
            for t in range(1, 6)
            for c in (broken("create_requirement", t, CUT[: 30 + t]), created("feature", f"F-000{t}", t))
        ],
        [broken("create_requirement", 2, CUT[: 30 + i], "bad_arguments") for i in range(12)],
    ],
    ids=["other-tools-in-between", "other-errors-in-between", "successes-in-between", "one-turn"],
)
def test_failures_broken_up_are_not_a_loop(paths: Any, calls: list[ToolCallEvent]) -> None:
    assert check_no_loop(evidence(paths, run(*calls))).passed


def test_a_failed_streak_counts_turns_and_says_how_many_calls() -> None:
    calls = [broken("create_requirement", t, CUT[: 30 + 2 * t + i]) for t in range(3, 8) for i in (0, 1)]

    loop = find_loop(calls, 5)

    assert str(loop) == "create_requirement failed 10× over 5 turns in a row with invalid JSON from turn 3"


def test_identical_failed_calls_are_named_with_their_arguments() -> None:
    calls = [broken("create_feature", t, '{"title": "No') for t in range(1, 6)]

    assert str(find_loop(calls, 5)) == 'create_feature({"title": "No) called 5× in a row from turn 1'


def test_the_biggest_loop_is_reported() -> None:
    calls = [tool("list_files")] * 5 + [tool("get_spec_tree")] * 8

    loop = find_loop(calls, 5)

    assert loop is not None and (loop.calls[0].name, loop.repeats, loop.start) == ("get_spec_tree", 8, 5)


# --- terminated and final_response ------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["max_turns", "timeout", "max_tool_calls", "max_total_tokens", "loop"])
def test_terminated_fails_on_every_limit_with_its_detail(paths: Any, reason: StopReason) -> None:
    check = check_terminated(evidence(paths, run(tool("list_files"), stop=reason)))

    assert check == Check("terminated", False, f"{reason} detail")


def test_final_response_fails_on_an_empty_turn(paths: Any) -> None:
    check = check_final_response(evidence(paths, run(tool("list_files", 1), final="")))

    assert check == Check("final_response", False, "turn 2 ended with neither text nor a tool call")


def test_final_response_fails_on_whitespace_and_names_an_unusual_stop_reason(paths: Any) -> None:
    check = check_final_response(evidence(paths, run(final=" \n\t", stop_reason="content_filter")))

    assert check == Check(
        "final_response", False, 'turn 1 ended with only whitespace (stop reason "content_filter")'
    )


@pytest.mark.parametrize("raw", ["length", "max_tokens"], ids=["openai", "anthropic"])
def test_an_answer_cut_off_by_max_tokens_fails_both_checks(paths: Any, raw: str) -> None:
    transcript = run(
        tool("list_files", 2), final="I wrote 3 features: Notes, Se", stop="max_tokens", stop_reason=raw
    )

    checks = run_checks(evidence(paths, transcript, max_tokens=384), [check_terminated, check_final_response])

    detail = f'turn 3 was cut off by max_tokens=384 (stop reason "{raw}") — no final answer'
    assert checks == (Check("terminated", False, detail), Check("final_response", False, detail))


def test_an_answer_that_ends_normally_is_not_cut_off(paths: Any) -> None:
    transcript = run(tool("list_files", 2), final="I wrote 3 features: Notes, Search, Tags.")

    checks = run_checks(evidence(paths, transcript, max_tokens=384), [check_terminated, check_final_response])

    assert [c.passed for c in checks] == [True, True]


def test_final_response_does_not_apply_to_a_run_stopped_by_a_limit(paths: Any) -> None:
    check = check_final_response(evidence(paths, run(tool("list_files"), stop="max_turns")))

    assert check == Check("final_response", True, "not applicable: stopped by max_turns", applies=False)


def test_final_response_passes_with_words(paths: Any) -> None:
    assert check_final_response(evidence(paths, run(final="Wrote it."))).detail == "9 characters at turn 1"


# --- files_exist and no_false_claims ----------------------------------------------------------------


def test_files_exist_fails_on_created_items_missing_from_disk_and_bad_files(paths: Any) -> None:
    spec = SpecTree(errors=(TreeFileError("features/x.md", "has no YAML frontmatter"),))
    transcript = run(
        created("feature", "F-0001"), created("feature", "F-0002"), tool("delete_item", id="F-0002")
    )

    check = check_files_exist(evidence(paths, transcript, spec))

    assert check.detail == (
        "features/x.md does not parse (has no YAML frontmatter); "
        "F-0001 was reported created but is not on disk"
    )


def test_files_exist_leaves_the_final_answers_paths_to_no_false_claims(paths: Any) -> None:
    transcript = run(final="Wrote specs/SPEC.md")

    assert check_files_exist(evidence(paths, transcript)).passed
    assert not check_no_false_claims(evidence(paths, transcript)).passed


def test_no_false_claims_quotes_each_claim_and_the_truth(paths: Any) -> None:
    final = "Done: I wrote specs/SPEC.md with 30 features and 150 requirements, starting at F-0042."

    check = check_no_false_claims(evidence(paths, run(final=final)))

    assert check == Check(
        "no_false_claims",
        False,
        'says "wrote specs/SPEC.md" — no such file; says "F-0042" — never created; '
        "says 30 features — tree has 0; says 150 requirements — tree has 0; "
        'says "Done: I wrote specs/SPEC.md with" — nothing was written',
    )


def external(paths: tuple[Path, Path, Path], transcript: Transcript, changes: DiskChanges) -> Evidence:
    """Evidence of a run on a team's own server, whose writes are read from the disk."""
    workspace, specs_dir, codebase = paths
    brief = BriefConfig("b", codebase, "Specify it.", server=ServerConfig(command=("srv",)))
    return Evidence(transcript, SpecTree(), brief, workspace, specs_dir, changes=changes)


def test_an_external_servers_writes_are_read_from_the_disk(paths: Any) -> None:
    wrote = run(
        tool("write_file", result="Successfully wrote to specs/login.md"), final="Done: wrote the spec."
    )
    (paths[1] / "login.md").write_text("# Login\n")

    assert check_no_false_claims(external(paths, wrote, DiskChanges(added=("login.md",)))).passed
    files = check_files_exist(external(paths, wrote, DiskChanges(added=("login.md",))))
    assert files == Check(
        "files_exist", True, "0 created items on disk; under specs_dir 1 file added, 0 changed, 0 removed"
    )
    # A tool named create_... that changed nothing on disk is no write.
    made_dir = run(tool("create_directory", result="Successfully created directory specs/x"), final="Done.")
    check = check_no_false_claims(external(paths, made_dir, DiskChanges()))
    assert check.detail == 'says "Done" — nothing was written'


def test_an_id_inside_a_path_is_not_a_created_item(paths: Any) -> None:
    result = "Successfully created directory /tmp/w/specs/features/F-0001-login"
    transcript = run(tool("create_directory", result=result), final="Done.")

    assert created_items(transcript) == set()
    assert check_files_exist(external(paths, transcript, DiskChanges())).passed
    assert created_items(run(tool("create_thing", result="Created F-0007."))) == {"F-0007"}


def test_no_false_claims_near_misses_hold(paths: Any) -> None:
    _, specs_dir, _ = paths
    (specs_dir / "features").mkdir()
    (specs_dir / "features" / "F-0001-undo.md").write_text("---\n")
    spec = tree(feat("F-0001", "Undo", req("R-0001", "Undo once"), req("R-0002", "Nothing to undo")))
    transcript = run(
        created("feature", "F-0001"),
        created("requirement", "R-0001"),
        created("requirement", "R-0002"),
        final="Created 1 feature (F-0001) and 2 requirements in specs/features/F-0001-undo.md; "
        "see README.md. The spec is complete.",
    )

    check = check_no_false_claims(evidence(paths, transcript, spec))

    assert check == Check("no_false_claims", True, "6 claims in the final answer hold")


def test_counts_below_the_tree_are_not_false(paths: Any) -> None:
    spec = tree(feat("F-0001", "A", req("R-0001", "a"), req("R-0002", "b"), req("R-0003", "c")))

    assert check_no_false_claims(evidence(paths, run(final="Added 2 more requirements."), spec)).passed


def test_an_honest_failure_claims_nothing(paths: Any) -> None:
    check = check_no_false_claims(evidence(paths, run(final="I could not complete the specification.")))

    assert check == Check("no_false_claims", True, "the final answer makes no checkable claim", applies=False)


def test_counts_with_adjectives_and_thousands(paths: Any) -> None:
    final = "Wrote 7 top-level features and 1,200 detailed requirements."

    detail = check_no_false_claims(evidence(paths, run(created("feature", "F-0001"), final=final))).detail

    assert detail == "says 7 features — tree has 0; says 1200 requirements — tree has 0"


ECHO = "Use get_spec_tree to review what you have written, and fix it."
DRAFT = '[{"title": "Complete task"", "description": "Mark a task done."}]'


def test_data_and_echoes_of_the_prompt_in_the_final_answer_are_not_claims(paths: Any) -> None:
    transcript = run(final=f"{ECHO}\n{DRAFT}")
    transcript.events[:0] = [MessageEvent("system", f"You write specs. {ECHO}"), MessageEvent("user", "Go.")]

    check = check_no_false_claims(evidence(paths, transcript))

    assert check == Check("no_false_claims", True, "the final answer makes no checkable claim", applies=False)


def test_a_false_claim_in_prose_next_to_data_is_quoted_cleanly(paths: Any) -> None:
    final = f'I have **created** the "Notes" feature:\n{DRAFT}'

    check = check_no_false_claims(evidence(paths, run(final=final)))

    assert check == Check("no_false_claims", False, 'says "I have created the Notes" — nothing was written')


def test_a_title_quoted_in_prose_that_was_created_holds(paths: Any) -> None:
    spec = tree(feat("F-0001", "Complete task", req("R-0001", "Tick it off")))
    calls = (created("feature", "F-0001", title="Complete task"), created("requirement", "R-0001", 2))
    final = f'I created the feature "Complete task" (F-0001) with 1 requirement:\n{DRAFT}'

    check = check_no_false_claims(evidence(paths, run(*calls, final=final), spec))

    assert check == Check("no_false_claims", True, "3 claims in the final answer hold")


# --- feature_recall ---------------------------------------------------------------------------------

REFERENCES = [
    {"name": "undo", "aliases": ["revert"]},
    {"name": "export", "aliases": ["csv"]},
    {"name": "tags", "aliases": ["tag", "label"]},
    {"name": "due dates", "aliases": ["overdue", "deadline"]},
]


def test_feature_recall_lists_the_missing(paths: Any) -> None:
    spec = tree(feat("F-0001", "Revert the last change"), feat("F-0002", "Output", description="As CSV."))

    check = check_feature_recall(
        evidence(paths, spec=spec, reference_features=REFERENCES, min_feature_recall=0.75)
    )

    assert check == Check(
        "feature_recall", False, "2/4 reference features = 0.50 < 0.75; missing: tags, due dates"
    )


def test_feature_recall_matches_whole_words_and_plurals_only(paths: Any) -> None:
    spec = tree(feat("F-0001", "Labels"), feat("F-0002", "Overdues"), feat("F-0003", "Exporter"))

    check = check_feature_recall(evidence(paths, spec=spec, reference_features=REFERENCES))

    assert check == Check(
        "feature_recall",
        True,
        "2/4 reference features = 0.50 (no min_feature_recall); missing: undo, export",
    )


def test_feature_recall_ignores_requirements(paths: Any) -> None:
    spec = tree(feat("F-0001", "Tasks", req("R-0001", "Undo the last change")))

    check = check_feature_recall(
        evidence(paths, spec=spec, reference_features=REFERENCES[:1], min_feature_recall=1.0)
    )

    assert not check.passed


def test_feature_recall_not_configured(paths: Any) -> None:
    assert check_feature_recall(evidence(paths)) == Check(
        "feature_recall", True, "not configured (no reference_features)", applies=False
    )


# --- on_topic ---------------------------------------------------------------------------------------

TOPICS = ["billing", "payment", "account management", r"credit\s*cards?"]


def test_on_topic_names_the_item_and_the_topic(paths: Any) -> None:
    spec = tree(
        feat("F-0001", "Tasks", req("R-0001", "Pay", description="Accepts a Credit Card.")),
        feat("F-0013", "Account and Billing Management"),
    )

    check = check_on_topic(evidence(paths, spec=spec, forbidden_topics=TOPICS))

    assert check == Check(
        "on_topic",
        False,
        'R-0001 "Pay" matches "credit\\s*cards?", F-0013 "Account and Billing Management" matches "billing"',
    )


def test_a_topic_word_inside_another_word_does_not_match(paths: Any) -> None:
    spec = tree(feat("F-0001", "Rebillingual payments-free accounts", description="No account  managers."))

    check = check_on_topic(evidence(paths, spec=spec, forbidden_topics=["billing", "account management"]))

    assert check == Check("on_topic", True, "no item matches any of 2 forbidden topics")


def test_a_plural_matches_and_many_hits_are_counted(paths: Any) -> None:
    spec = tree(*(feat(f"F-000{i}", f"Payments {i}") for i in range(1, 6)))

    detail = check_on_topic(evidence(paths, spec=spec, forbidden_topics=["payment"])).detail

    assert detail.endswith('F-0003 "Payments 3" matches "payment" and 2 more')


def test_on_topic_not_configured(paths: Any) -> None:
    assert check_on_topic(evidence(paths)).detail == "not configured (no forbidden_topics)"


# --- tree_quality -----------------------------------------------------------------------------------


def test_tree_quality_names_every_kind_of_flaw(paths: Any) -> None:
    spec = tree(
        feat("F-0001", "Add task", req("R-0001", "Title", criteria=()), req("R-0002", "TBD")),
        feat("F-0002", "Undo"),
        feat("F-0003", "add  TASK", req("R-0003", "Due", description="TODO: describe")),
    )

    check = check_tree_quality(evidence(paths, spec=spec))

    assert check == Check(
        "tree_quality",
        False,
        '1 feature without requirements > 0 (F-0002 "Undo"); '
        "1 requirement without acceptance criteria > 0 (R-0001); "
        '1 duplicate title > 0 (F-0003 "add  TASK" repeats F-0001); '
        '2 placeholders > 0 ("TBD" in R-0002, "TODO" in R-0003)',
    )


def test_tree_quality_thresholds_allow_some(paths: Any) -> None:
    spec = tree(feat("F-0001", "Undo"), feat("F-0002", "Export"))

    assert not check_tree_quality(evidence(paths, spec=spec, max_empty_features=1)).passed
    check = check_tree_quality(evidence(paths, spec=spec, max_empty_features=2))
    assert check == Check(
        "tree_quality",
        True,
        "within limits: 2 features without requirements, 0 requirements without acceptance criteria, "
        "0 duplicate titles, 0 placeholders",
    )


def test_a_brief_can_turn_tree_quality_off(paths: Any) -> None:
    check = check_tree_quality(evidence(paths, spec=tree(feat("F-0001", "TBD")), tree_quality=False))

    assert check == Check("tree_quality", True, "turned off (tree_quality = false)", applies=False)


def test_todo_as_a_word_is_not_a_placeholder_and_child_requirements_count(paths: Any) -> None:
    child = feat("F-0002", "Tags", req("R-0001", "Tag a task", description="`todo add x --tag home`"))
    spec = tree(
        feat("F-0001", "The TODO app", description="Runs todo list and TODO export.", children=(child,))
    )

    assert check_tree_quality(evidence(paths, spec=spec)).passed


# --- the set of checks and their settings -----------------------------------------------------------


def test_every_check_reports_in_order_even_when_unconfigured(paths: Any) -> None:
    names = [c.name for c in run_checks(evidence(paths, run(final="I cannot.")))]

    # The config checks `known_failures` against its own list of the names (pinned in
    # tests/test_public_api.py): every check reports, in that order.
    assert tuple(names) == CHECK_NAMES
    assert len(CHECKS) == len(names)


def test_checks_run_as_they_are_declared() -> None:
    """`CHECKS` is `DECLARED` in code: the same checks in the same order, reading the declared keys."""
    assert [check.__name__.removeprefix("check_") for check in CHECKS] == [d.name for d in DECLARED]
    readable = {*(f.name for f in dataclasses.fields(RunSettings)), "max_tokens", *CHECK_DEFAULTS}
    unset = Evidence(run(), SpecTree(), BriefConfig("b", Path(), "p"), Path(), Path())
    for declared in DECLARED:
        assert set(declared.reads) <= readable, declared.name
        for setting in declared.settings:
            held = getattr(unset.brief, setting.key) if setting.field else unset.setting(setting.key)
            assert held == setting.default, setting.key
    limits = {problem.setting for problem in tree_problems(SpecTree())}
    assert limits <= {s.key for s in DECLARED[CHECK_NAMES.index("tree_quality")].settings}


def test_the_schema_parses_the_declared_check_keys() -> None:
    for declared in DECLARED:
        for setting in declared.settings:
            key = schema.BRIEF_KEYS[setting.key]
            assert key.parse is setting.parse
            assert key.dest is (schema.Dest.FIELD if setting.field else schema.Dest.EXTRA)
    assert {row[2] for row in check_table() if row[2]} == {f"`{s.key}`" for d in DECLARED for s in d.settings}
    assert [row[0] for row in check_table() if row[0]] == [f"`{name}`" for name in CHECK_NAMES]


def test_check_settings_joins_run_settings_and_brief_keys(tmp_path: Path) -> None:
    brief = BriefConfig("b", tmp_path, "p", extra={"max_placeholders": 3, "forbidden_topics": ("x",)})

    settings = check_settings(RunSettings(loop_threshold=7), brief)

    assert settings["loop_threshold"] == 7 and settings["stop_on_loop"] is True
    assert settings["max_placeholders"] == 3 and settings["forbidden_topics"] == ("x",)
    assert settings["max_empty_features"] == 0 and settings["min_feature_recall"] is None


MODEL = '[models.m]\nprovider = "openai"\nmodel = "gpt"\n'
CONFIG = """
[defaults]
loop_threshold = 4
max_tool_calls = 200

[models.m]
provider = "openai"
model = "gpt"
stop_on_loop = false
max_total_tokens = 100000

[briefs.b]
codebase = "code"
prompt = "Write specs."
forbidden_topics = ["billing", "credit\\\\s*card"]
reference_features = [{ name = "undo", aliases = ["revert"] }, { name = "export" }]
min_feature_recall = 0.5
tree_quality = false
max_placeholders = 2
"""


def _load(tmp_path: Path, text: str) -> Any:
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "specbench.toml").write_text(text, encoding="utf-8")
    return load_config(tmp_path / "specbench.toml")


def test_config_keys_reach_the_checks(tmp_path: Path) -> None:
    config = _load(tmp_path, CONFIG)
    model, brief = config.models["m"], config.briefs["b"]

    settings = check_settings(config.settings_for(model, brief), brief)

    assert (settings["loop_threshold"], settings["stop_on_loop"]) == (4, False)
    assert (settings["max_tool_calls"], settings["max_total_tokens"]) == (200, 100000)
    assert settings["forbidden_topics"] == ("billing", r"credit\s*card")
    assert settings["reference_features"] == (
        {"name": "undo", "aliases": ("revert",)},
        {"name": "export", "aliases": ()},
    )
    assert (settings["min_feature_recall"], settings["tree_quality"], settings["max_placeholders"]) == (
        0.5,
        False,
        2,
    )


@pytest.mark.parametrize(
    ("brief_lines", "fragment"),
    [
        ("min_feature_recall = 1.5", "[briefs.b]: min_feature_recall: must be between 0 and 1, got 1.5"),
        ("min_feature_recall = 0.5", "min_feature_recall: has no reference_features to measure recall"),
        ('forbidden_topics = "billing"', 'forbidden_topics: expected array of str, got str "billing"'),
        ('forbidden_topics = ["bill(ing"]', 'forbidden_topics[0]: bad regular expression "bill(ing"'),
        ("reference_features = [{ aliases = [] }]", "reference_features[0]: has no name"),
        ('reference_features = [{ name = "x", alias = [] }]', "reference_features[0]: unknown key alias"),
        (
            "reference_features = [{ name = 3 }]",
            "reference_features[0].name: expected non-empty str, got int 3",
        ),
        ('tree_quality = "no"', "tree_quality: expected bool"),
        ("max_empty_features = -1", "max_empty_features: must be at least 0, got -1"),
        ("loop_threshold = 1", "loop_threshold: must be at least 2, got 1"),
        ("max_tool_calls = 0", "max_tool_calls: must be at least 1, got 0"),
    ],
)
def test_bad_check_settings_are_one_line_config_errors(
    tmp_path: Path, brief_lines: str, fragment: str
) -> None:
    text = f'{MODEL}[briefs.b]\ncodebase = "code"\nprompt = "p"\n{brief_lines}\n'

    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)

    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_a_brief_only_key_in_defaults_says_where_it_belongs(tmp_path: Path) -> None:
    text = f'[defaults]\nforbidden_topics = ["x"]\n{MODEL}[briefs.b]\ncodebase = "code"\nprompt = "p"\n'

    with pytest.raises(ConfigError, match=r"belongs in a \[briefs.<id>\] table"):
        _load(tmp_path, text)


def test_disk_changes_between_snapshots(tmp_path: Path) -> None:
    (tmp_path / "keep.md").write_text("a")
    (tmp_path / "edit.md").write_text("a")
    (tmp_path / "gone.md").write_text("a")
    (tmp_path / "skip").mkdir()
    before = snapshot(tmp_path, [tmp_path / "skip"])
    (tmp_path / "edit.md").write_text("longer")
    (tmp_path / "gone.md").unlink()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "new.md").write_text("n")
    (tmp_path / "skip" / "ignored.md").write_text("n")

    changes = compare(before, snapshot(tmp_path, [tmp_path / "skip"]))

    assert changes == DiskChanges(added=("sub/new.md",), changed=("edit.md",), removed=("gone.md",))
    assert changes.summary() == "1 file added, 1 changed, 1 removed"
    assert not compare(before, before)


# --- final_response: an unparsed tool call -----------------------------------------------------------


def test_final_response_fails_on_an_unparsed_tool_call(paths: Any) -> None:
    check = check_final_response(evidence(paths, run(final="functions.list_files:")))

    assert check == Check(
        "final_response",
        False,
        "the final answer is an unparsed tool call (functions.list_files:) — "
        "the server's chat format does not deliver tool calls",
    )


def test_final_response_passes_prose_that_mentions_a_function(paths: Any) -> None:
    check = check_final_response(evidence(paths, run(final="See functions.py: it is unchanged.")))

    assert check.passed


# --- min_criteria_per_requirement -------------------------------------------------------------------


def test_min_criteria_per_requirement_names_each_short_requirement_and_its_count(paths: Any) -> None:
    two, one = ("Given a, b.", "Given c, d."), ("Given a, b.",)
    spec = tree(
        feat("F-0001", "Add", req("R-0001", "Add", criteria=two), req("R-0002", "Add many", criteria=one)),
        feat("F-0002", "List", *(req(f"R-00{i}", f"List {i}", criteria=()) for i in range(10, 14))),
    )

    check = check_min_criteria_per_requirement(evidence(paths, spec=spec, min_criteria_per_requirement=2))

    assert check == Check(
        "min_criteria_per_requirement",
        False,
        "5 of 6 requirements have fewer than 2 acceptance criteria "
        "(R-0002 has 1, R-0010 has 0, R-0011 has 0 and 2 more)",
    )


def test_min_criteria_per_requirement_passes_at_the_minimum_and_when_unset(paths: Any) -> None:
    spec = tree(feat("F-0001", "Add", req("R-0001", "Add", criteria=("Given a, b.", "Given c, d."))))

    at_minimum = check_min_criteria_per_requirement(
        evidence(paths, spec=spec, min_criteria_per_requirement=2)
    )
    unset = check_min_criteria_per_requirement(evidence(paths, spec=spec))

    assert at_minimum == Check(
        "min_criteria_per_requirement", True, "all 1 requirements have ≥ 2 acceptance criteria"
    )
    assert unset == Check(
        "min_criteria_per_requirement", True, "not set (no min_criteria_per_requirement)", applies=False
    )
    empty = check_min_criteria_per_requirement(evidence(paths, min_criteria_per_requirement=2))
    assert empty == Check(
        "min_criteria_per_requirement", True, "not applicable: no requirements", applies=False
    )


def test_a_pass_with_nothing_to_judge_says_so(paths: Any) -> None:
    """What `known_failures` reads: these passes say nothing of the model, so none is an unexpected pass."""
    empty = evidence(paths, run(final="Nothing."))
    written = evidence(paths, spec=tree(feat("F-0001", "Add", req("R-0001", "Add"))))
    workspace, specs_dir, codebase = paths
    asked = Evidence(
        run(), SpecTree(), BriefConfig("b", codebase, "p", min_requirements=1), workspace, specs_dir
    )

    assert [c.name for c in run_checks(empty) if not c.applies] == [
        "files_exist",
        "no_false_claims",
        "min_requirements",
        "min_features",
        "feature_recall",
        "on_topic",
        "tree_quality",
        "min_criteria_per_requirement",
    ]
    assert check_files_exist(written).applies and check_tree_quality(written).applies
    assert check_min_requirements(asked).applies  # and fails: 0 < 1
