"""Verdicts over real runs: scripted models on the loopback provider, the reference MCP server, pytester.

Few, fat runs: each suite holds one model per failure, so that one pytester run checks
many verdicts, line by line, next to near misses that must pass.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_specbench.testing import FakeProvider, Reply, call

pytestmark = pytest.mark.usefixtures("provider")

VERIFY = "def test_spec(spec_run):\n    spec_run.verify()\n"
README = call("read_file", path="README.md")


def feature(title: str, description: str = "What it does.") -> Any:
    return call("create_feature", title=title, description=description)


def requirement(feature_id: str, title: str, criteria: list[str] | None = None) -> Any:
    criteria = ["Given a note, then it is kept."] if criteria is None else criteria
    return call(
        "create_requirement",
        feature_id=feature_id,
        title=title,
        description=f"The app shall {title.lower()}.",
        acceptance_criteria=criteria,
    )


def scripts(provider: FakeProvider, suite: Any, protocol: str) -> None:
    """One model per verdict of the run-level checks, and one that passes every near miss."""
    cycle = [Reply(tool_calls=[README]), Reply.tool("list_files")] * 3
    steps: dict[str, tuple[dict[str, Any], list[Reply]]] = {
        "looper": ({}, [Reply(tool_calls=[README])] * 20),
        "cycler": ({"stop_on_loop": False, "loop_threshold": 3}, [*cycle, Reply.final("I wrote nothing.")]),
        "silent": ({}, [Reply(tool_calls=[feature("Notes")]), Reply.final("")]),
        "liar": ({}, [Reply(tool_calls=[README]), Reply.final(LIE)]),
        "capped": ({"max_tool_calls": 3}, [Reply(tool_calls=[README, call("list_files")])] * 5),
        "costly": ({"max_total_tokens": 40}, [Reply.tool("read_file", path=f"{i}.py") for i in range(9)]),
        "honest": ({}, HONEST),
    }
    for model_id, (keys, script) in steps.items():
        provider.script(suite.model(model_id, protocol, **keys), script)


LIE = "Done: wrote specs/SPEC.md with 30 features and 150 requirements (F-0001 to F-0030)."
HONEST = [
    *[Reply(tool_calls=[README])] * 4,  # one short of a loop
    Reply(tool_calls=[call("read_file", path="README.md", offset=2), call("read_file", path="app.py")]),
    Reply(tool_calls=[feature("Notes"), requirement("F-0001", "Keep notes")]),
    Reply.final(
        "Wrote 1 feature (F-0001) and 1 requirement in "
        "specs/features/F-0001-notes/F-0001-notes.md, after reading README.md. Done."
    ),
]


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_each_failure_is_named_in_one_line(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, protocol: str
) -> None:
    scripts(provider, suite, protocol)
    suite.brief("notes")
    suite.write(VERIFY)

    result = pytester.runpytest("--specbench-report=out")

    result.assert_outcomes(failed=6, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*looper on notes: 2 of 12 checks failed",
            '*no_loop: read_file(path="README.md") called 5× in a row from turn 1; '
            "run stopped at turn 5 (stop_on_loop)",
            '*terminated: stopped at turn 5: read_file(path="README.md") called 5× in a row from turn 1',
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*cycler on notes: 1 of 12 checks failed",
            '*no_loop: cycle read_file(path="README.md") → list_files() repeated 3× from turn 1, '
            "no spec item created in between",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*silent on notes: 2 of 12 checks failed",
            "*final_response: turn 2 ended with neither text nor a tool call",
            '*tree_quality: 1 feature without requirements > 0 (F-0001 "Notes")',
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*liar on notes: 1 of 12 checks failed",
            '*no_false_claims: says "wrote specs/SPEC.md" — no such file; says "F-0001" — never created; '
            'says "F-0030" — never created; says 30 features — tree has 0; '
            'says 150 requirements — tree has 0; says "Done: wrote specs/SPEC.md with" — nothing was written',
        ]
    )
    result.stdout.fnmatch_lines(
        ["*capped on notes: 1 of 12 checks failed", "*terminated: max_tool_calls=3 reached"]
    )
    result.stdout.fnmatch_lines(
        ["*costly on notes: 1 of 12 checks failed", "*terminated: max_total_tokens=40 reached"]
    )
    table = [line for line in result.stdout.lines if line.startswith("test_spec[")]
    assert [row.split()[1] for row in table] == ["FAILED"] * 6 + ["PASSED"]
    assert [row.split("  ")[-1].strip() for row in table[:6]] == [
        'no_loop: read_file(path="README.md") called 5× in a row from turn 1; …',
        'no_loop: cycle read_file(path="README.md") → list_files() repeated 3×…',
        "final_response: turn 2 ended with neither text nor a tool call",
        'no_false_claims: says "wrote specs/SPEC.md" — no such file; says "F-0…',
        "terminated: max_tool_calls=3 reached",
        "terminated: max_total_tokens=40 reached",
    ]
    records = {r["model"]: r for r in json.loads((pytester.path / "out" / "results.json").read_text())}
    assert {len(r["checks"]) for r in records.values()} == {12}
    honest = {c["name"]: c["detail"] for c in records["honest"]["checks"]}
    assert honest["no_loop"] == "no call repeated 5× in a row (longest streak 4)"
    assert honest["no_false_claims"] == "6 claims in the final answer hold"
    assert honest["final_response"] == f"{len(HONEST[-1].text)} characters at turn 7"
    assert records["looper"]["turns"] == 5 and records["looper"]["stop_reason"] == "loop"
    assert records["capped"]["tool_calls"] == 4 and records["costly"]["turns"] == 3


def test_brief_checks_over_real_trees(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    provider.script(suite.model("offtopic"), OFFTOPIC)
    provider.script(suite.model("sloppy"), SLOPPY)
    provider.script(suite.model("tidy", "anthropic"), TIDY)
    provider.script(suite.model("looper"), [Reply(tool_calls=[README, README])] * 9)
    suite.brief(
        "shop",
        forbidden_topics=["billing", "payment"],
        reference_features=[{"name": "notes", "aliases": ["note"]}, {"name": "search"}, {"name": "export"}],
        min_feature_recall=0.6,
        max_duplicate_titles=1,
    )
    suite.write(VERIFY)

    result = pytester.runpytest("--specbench-report=out", *xdist_args)

    result.assert_outcomes(failed=3, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*offtopic on shop: 2 of 12 checks failed",
            "*feature_recall: 1/3 reference features = 0.33 < 0.60; missing: search, export",
            '*on_topic: F-0001 "Account and Billing Management" matches "billing", '
            'R-0002 "Take payments" matches "payment"',
        ]
    )
    result.stdout.fnmatch_lines(
        [
            # The server refuses the requirement without criteria, which the answer still counts.
            "*sloppy on shop: 2 of 12 checks failed",
            "*no_false_claims: says 3 requirements — tree has 2",
            "*tree_quality: 3 features without requirements > 0 "
            '(F-0001 "Notes", F-0002 "Search", F-0003 "Export"); '
            '2 duplicate titles > 1 (F-0004 "notes" repeats F-0001, F-0005 "NOTES" repeats F-0001); '
            '1 placeholder > 0 ("TBD" in F-0001)',
        ]
    )
    records = {r["model"]: r for r in json.loads((pytester.path / "out" / "results.json").read_text())}
    assert records["tidy"]["outcome"] == "passed"
    looper = records["looper"]
    assert (looper["stop_reason"], looper["turns"], looper["tool_calls"]) == ("loop", 3, 6)
    assert looper["max_identical_streak"] == 6
    assert (looper["tool_errors_by_kind"], looper["scaffold_calls"]) == ({}, 0)
    assert [c["name"] for c in looper["checks"] if not c["passed"]] == [
        "no_loop",
        "terminated",
        "feature_recall",
    ]


OFFTOPIC = [
    Reply(tool_calls=[feature("Account and Billing Management", "Invoices."), feature("Notes")]),
    Reply(tool_calls=[requirement("F-0001", "Send invoices"), requirement("F-0001", "Take payments")]),
    Reply(tool_calls=[requirement("F-0002", "Keep notes")]),
    Reply.final("Wrote 2 features and 3 requirements."),
]
SLOPPY = [
    Reply(
        tool_calls=[
            feature("Notes", "TBD"),
            feature("Search", "Find notes."),
            feature("Export"),
            feature("notes", "Again."),
            feature("NOTES", "And again."),
        ]
    ),
    Reply(
        tool_calls=[
            requirement("F-0002", "Find by word", criteria=[]),
            requirement("F-0004", "Keep"),
            requirement("F-0005", "Store"),
        ]
    ),
    Reply.final("Wrote 5 features and 3 requirements."),
]
TIDY = [
    Reply(tool_calls=[feature("Notes", "Rebillingual notes; no repayments."), feature("Search")]),
    Reply(tool_calls=[feature("Export")]),
    Reply(tool_calls=[requirement(f"F-000{i}", f"Requirement {i}") for i in (1, 2, 3)]),
    Reply.final("Wrote 3 features and 3 requirements."),
]


DRAFT = '```json\n[{"title": "Complete task"", "description": "Mark a task done.", "id": "F-0002"}]\n```'
ECHOED = (
    "You are a senior product analyst writing a specification for an existing codebase. Use get_spec_tree "
    "to review what you have written, and update_item or delete_item to fix it.\n"
    '[{"title": "Complete task""}]'
)
NOTES = [Reply(tool_calls=[feature("Notes")]), Reply(tool_calls=[requirement("F-0001", "Keep notes")])]
CUT_CALL = Reply(tool_calls=[call("create_feature", _raw='{"title": "No')], stop_reason="max_tokens")
LONG = (
    '{"feature_id": "F-0001", "title": "Search", "description": "Find notes.", "acceptance_criteria": ["Given'
)


def cut(name: str, at: int) -> Reply:
    """A turn whose one tool call max_tokens broke off `at` characters into its arguments."""
    return Reply(tool_calls=[call(name, _raw=LONG[:at])], stop_reason="max_tokens")


SMALL_MODELS: dict[str, tuple[dict[str, Any], list[Reply]]] = {
    "cutoff": (
        {"max_tokens": 384},
        [*NOTES, Reply("Wrote F-0001 with 1 requirement. Next, sea", stop_reason="max_tokens")],
    ),
    "finisher": ({"max_tokens": 384}, [CUT_CALL, *NOTES, Reply.final("Wrote F-0001 with 1 requirement.")]),
    "breaker": ({}, [*NOTES, *(cut("create_requirement", 40 + 5 * i) for i in range(11))]),
    "fumbler": (
        {},
        [
            *(cut("create_requirement" if i % 2 else "create_feature", 40 + 5 * i) for i in range(6)),
            *NOTES,
            Reply.final("Wrote F-0001 with 1 requirement."),
        ],
    ),
    "echoer": ({}, [Reply(tool_calls=[README]), Reply.final(ECHOED)]),
    "quoter": (
        {},
        [
            Reply(tool_calls=[feature("Complete task")]),
            Reply(tool_calls=[requirement("F-0001", "Tick it off")]),
            Reply.final(
                f'I created the feature "Complete task" (F-0001) with 1 requirement, as drafted:\n{DRAFT}'
            ),
        ],
    ),
}
"""What small local models got wrong (the first of each pair) next to a near miss that passes."""


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_what_small_models_get_wrong_is_named(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, protocol: str
) -> None:
    for model_id, (keys, script) in SMALL_MODELS.items():
        provider.script(suite.model(model_id, protocol, **keys), script)
    suite.brief("notes", min_features=1)
    suite.write(VERIFY, defaults="max_turns = 10\ntemperature = 0.2\n")

    result = pytester.runpytest("--specbench-report=out")

    cut = "length" if protocol == "openai" else "max_tokens"
    result.stdout.fnmatch_lines(
        [
            "*cutoff on notes: 2 of 12 checks failed",
            f'*terminated: turn 3 was cut off by max_tokens=384 (stop reason "{cut}") — no final answer',
            f'*final_response: turn 3 was cut off by max_tokens=384 (stop reason "{cut}") — no final answer',
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*breaker on notes: 2 of 12 checks failed",
            "*no_loop: create_requirement failed 5× in a row with invalid JSON from turn 3; "
            "run stopped at turn 7 (stop_on_loop)",
        ]
    )
    result.stdout.fnmatch_lines(["*echoer on notes: 1 of 12 checks failed", "*min_features: 0 < 1"])
    records = {r["model"]: r for r in json.loads((pytester.path / "out" / "results.json").read_text())}
    outcomes = {model: record["outcome"] for model, record in records.items()}
    assert outcomes == {
        "cutoff": "failed",
        "finisher": "passed",
        "breaker": "failed",
        "fumbler": "passed",
        "echoer": "failed",
        "quoter": "passed",
    }
    assert {body["temperature"] for _, body in provider.requests} == {0.2}  # sent on both protocols
    claims = {
        model: next(c["detail"] for c in records[model]["checks"] if c["name"] == "no_false_claims")
        for model in ("echoer", "quoter")
    }
    assert claims == {
        "echoer": "the final answer makes no checkable claim",
        "quoter": "3 claims in the final answer hold",
    }
    assert records["fumbler"]["tool_errors_by_kind"] == {"invalid_json": 6}
    assert (records["cutoff"]["stop_reason"], records["cutoff"]["truncated_turns"]) == ("max_tokens", 1)
    assert (records["finisher"]["stop_reason"], records["finisher"]["truncated_turns"]) == ("final_answer", 1)
    assert records["finisher"]["tool_errors_by_kind"] == {"invalid_json": 1}
