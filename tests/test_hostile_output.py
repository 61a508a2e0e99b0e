"""Hostile or broken model output through a real run: every bad call is a tool error the model sees.

The models speak both protocols, as JSON and as a stream, to the reference server over
stdio; one script holds every kind of bad call. The run goes on to its final answer, and
results.json counts each error by kind.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_specbench.agent.loop import MAX_ARGUMENT_CHARS
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.testing import FakeProvider, Reply, call

CONTROL_TITLE = "Ctrl\x00\x07\x1b[31m title"
BAD_CALLS = [
    (call("create_feature", _raw='{"title": "unterminated'), "invalid_json"),
    (call("create_feature", _raw="[1, 2]"), "invalid_json"),
    (call("rm_rf", path="/"), "unknown_tool"),
    (call("create_feature"), "bad_arguments"),  # missing arguments
    (call("create_feature", title=5, description=["x"]), "bad_arguments"),  # mistyped
    (call("create_feature", title="Big", description="x" * 1_000_000), "bad_arguments"),
    (call("create_feature", _raw='{"title": "lone \\ud800 surrogate", "description": "d"}'), "bad_arguments"),
    (call("update_item", id="R-0042", title="never issued"), "tool_error"),
    (call("delete_item", id="F-9999"), "tool_error"),
    (call("create_feature", title="Child", description="d", parent_id="../F-0001"), "tool_error"),
]
GOOD_CALLS = [call("create_feature", title=CONTROL_TITLE, description="line\r\nbreak\x00 and \x1b")]
BURST = [call("search_code", pattern=f"note{i}") for i in range(100)] + [
    call("bogus_tool", n=i) for i in range(100)
]
SCRIPT = [
    Reply(tool_calls=[*GOOD_CALLS, *(c for c, _ in BAD_CALLS)]),
    Reply(tool_calls=BURST),  # 200 calls in one turn
    Reply(
        tool_calls=[
            call(
                "create_requirement",
                feature_id="F-0001\x00",
                title="t",
                description="d",
                acceptance_criteria=["a"],
            )
        ]
    ),
    Reply.final("Done, despite everything: \ud800 \x00."),
]
TEST = """
def test_spec(spec_run):
    assert spec_run.transcript.stop.reason == "final_answer"
    assert spec_run.tree.feature_count == 1
"""


def expected_kinds() -> dict[str, int]:
    kinds: dict[str, int] = {}
    for _, kind in BAD_CALLS:
        kinds[kind] = kinds.get(kind, 0) + 1
    kinds["unknown_tool"] += 100  # the burst's bogus half
    kinds["tool_error"] += 1  # the feature id with a NUL
    return kinds


def test_every_bad_call_is_a_counted_tool_error_and_the_run_goes_on(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester
) -> None:
    for protocol in ("openai", "anthropic"):
        for stream in (False, True):
            model_id = f"hostile-{protocol}-{'sse' if stream else 'json'}"
            provider.script(suite.model(model_id, protocol, stream=stream), SCRIPT)
    suite.brief("notes")
    suite.write(TEST)

    result = pytester.runpytest("--specbench-transport=stdio", "--specbench-report=out")

    result.assert_outcomes(passed=4)
    records = json.loads((pytester.path / "out" / "results.json").read_text(encoding="utf-8"))
    calls = len(GOOD_CALLS) + len(BAD_CALLS) + len(BURST) + 1
    errors = sum(expected_kinds().values())
    assert len(records) == 4
    for record in records:
        assert (record["outcome"], record["tool_calls"], record["tool_errors"]) == ("passed", calls, errors)
        assert record["tool_errors_by_kind"] == expected_kinds()
        transcript = (pytester.path / "out" / "transcripts" / f"{record['test_id']}.jsonl").read_text("utf-8")
        _check_results_the_model_saw(Transcript.from_jsonl(transcript))


def _check_results_the_model_saw(transcript: Transcript) -> None:
    by_turn = [c for c in transcript.tool_calls() if c.turn == 1]
    created, *refused = by_turn
    assert created.result.startswith("Created feature F-0001 at specs/features/F-0001-ctrl-31m-title/")
    for event, (_, kind) in zip(refused, BAD_CALLS, strict=True):
        assert (event.is_error, event.error_kind) == (True, kind), event
        assert event.result.startswith("Error")
    oversized = refused[5]
    assert f"over the limit of {MAX_ARGUMENT_CHARS:,}" in oversized.result
    assert "not valid Unicode text" in refused[6].result
    assert "\\ud800" in transcript.final_text  # kept, spelled out, so the transcript stays valid UTF-8
