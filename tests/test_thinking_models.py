"""A thinking model end to end: pytester runs against the loopback provider, each wire, JSON and stream.

Its reasoning is kept in the transcript and never judged as the answer; with thinking on, Claude's
thinking blocks go back with the tool results (the fake refuses the turn otherwise, as the API does);
a recorded thinking run replays offline with the same tree, checks and token counts.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench.testing import FakeProvider, Reply, call

CASSETTE = Path("cassettes") / "test_spec.writer-notes.jsonl"
TRANSCRIPT = Path("out") / "transcripts" / "test_spec[writer-notes].jsonl"
# Thoughts that would fail no_false_claims were they read as the answer.
MUSING = "Maybe I should write everything to specs/ALL.md, 50 features in all. Done soon."
SAME = ("checks", "features", "requirements", "turns", "tool_calls", "input_tokens", "output_tokens")


def thinking_script(reasoning_as: Any = "reasoning_content") -> list[Reply]:
    """Two features and three requirements, each turn thought through first, then a final answer."""
    features = [call("create_feature", title=f"Feature {i}", description=f"Does {i}.") for i in (1, 2)]
    requirements = [
        call(
            "create_requirement",
            feature_id=f"F-000{1 + i % 2}",
            title=f"Requirement {i}",
            description=f"The system shall do {i}.",
            acceptance_criteria=[f"Given {i}, then {i}"],
        )
        for i in (1, 2, 3)
    ]
    steps = [
        Reply(tool_calls=[call("read_file", path="app.py")], input_tokens=100, output_tokens=40),
        Reply(tool_calls=features, input_tokens=200, output_tokens=50),
        Reply(tool_calls=requirements, input_tokens=300, output_tokens=60),
        Reply(text="Wrote 2 features and 3 requirements.", input_tokens=400, output_tokens=30),
    ]
    return [
        dataclasses.replace(
            step,
            reasoning=f"Turn {n}: {MUSING}",
            reasoning_as=reasoning_as,
            reasoning_tokens=step.output_tokens // 2,
        )
        for n, step in enumerate(steps, 1)
    ]


def setup(suite: Any, provider: FakeProvider, protocol: str, stream: bool, reasoning_as: Any) -> None:
    keys: dict[str, object] = {"stream": stream, "temperature": "unset"}
    if protocol == "anthropic":
        keys |= {"max_tokens": 8192, "thinking_budget_tokens": 2048}
    name = suite.model("writer", protocol, **keys)
    provider.script(name, thinking_script(reasoning_as))
    suite.brief("notes", min_requirements=3, min_features=2)
    # A temperature in [defaults] that the fake refuses with thinking on: the model's "unset" wins.
    suite.write(defaults="max_turns = 10\ntemperature = 0.0\n")


def events(pytester: pytest.Pytester, kind: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in (pytester.path / TRANSCRIPT).read_text().splitlines()]
    return [line for line in lines if line["kind"] == kind]


def record_of(pytester: pytest.Pytester, directory: str) -> dict[str, Any]:
    (record,) = json.loads((pytester.path / directory / "results.json").read_text())
    return dict(record)


WIRES = [
    pytest.param("openai", "reasoning_content", id="openai-reasoning_content"),
    pytest.param("openai", "think", id="openai-think-tags"),
    pytest.param("anthropic", "reasoning_content", id="anthropic-thinking-blocks"),
]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(("protocol", "reasoning_as"), WIRES)
def test_a_thinking_model_writes_the_spec_and_passes_with_its_reasoning_kept(
    suite: Any,
    provider: FakeProvider,
    pytester: pytest.Pytester,
    protocol: str,
    reasoning_as: Any,
    stream: bool,
) -> None:
    setup(suite, provider, protocol, stream, reasoning_as)

    result = pytester.runpytest("--snapshot-update", "--specbench-report=out")

    result.assert_outcomes(passed=1)
    record = record_of(pytester, "out")
    assert all(check["passed"] for check in record["checks"]), record["checks"]
    claims = next(check for check in record["checks"] if check["name"] == "no_false_claims")
    assert "ALL.md" not in claims["detail"] and "50" not in claims["detail"]
    thoughts = events(pytester, "reasoning")
    assert [(e["turn"], e["text"]) for e in thoughts] == [(n, f"Turn {n}: {MUSING}") for n in (1, 2, 3, 4)]
    answers = events(pytester, "assistant")
    assert answers[-1]["text"] == "Wrote 2 features and 3 requirements."
    assert not any("<think>" in e["text"] or MUSING in e["text"] for e in answers)
    # Counted apart where the wire reports them: OpenAI does, Anthropic's are inside output_tokens.
    expected = [20, 25, 30, 15] if protocol == "openai" else [0, 0, 0, 0]
    assert [e["reasoning_tokens"] for e in answers] == expected
    if protocol == "anthropic":  # every follow-up carried the thinking block, or the fake refused it
        assert all(_opens_with_thinking(body) for _, body in provider.requests[1:])


def _opens_with_thinking(body: dict[str, Any]) -> bool:
    last = [m for m in body["messages"] if m["role"] == "assistant"][-1]
    return bool(last["content"][0]["type"] == "thinking")


def test_a_reply_that_is_only_reasoning_is_no_final_answer(
    suite: Any, provider: FakeProvider, pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    name = suite.model("writer", "openai")
    provider.script(
        name, [Reply(reasoning="I could answer now, but I will just think.", reasoning_as="think")]
    )
    suite.brief("notes")
    suite.write()

    result = pytester.runpytest("--specbench-report=out", *xdist_args)

    result.assert_outcomes(failed=1)
    checks = {c["name"]: c for c in record_of(pytester, "out")["checks"]}
    assert not checks["final_response"]["passed"]
    assert checks["final_response"]["detail"] == (
        "turn 1 ended with reasoning only (42 characters of it) — no final answer"
    )


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_recorded_thinking_run_replays_offline_with_the_same_tree_checks_and_tokens(
    suite: Any,
    provider: FakeProvider,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    protocol: str,
    stream: bool,
) -> None:
    setup(suite, provider, protocol, stream, "reasoning_content")
    recorded = pytester.runpytest(
        "--specbench-record-mode=once", "--snapshot-update", "--specbench-report=rec"
    )
    recorded.assert_outcomes(passed=1)
    cassette = (pytester.path / CASSETTE).read_text()
    assert MUSING in cassette
    if protocol == "anthropic":  # the signature is kept whole: the redactor's base64 rule spares it
        answers = [json.loads(line)["answer"] for line in cassette.splitlines() if '"exchange"' in line]
        assert all(len(a["reasoning"][0]["signature"]) == 88 for a in answers)
    provider.stop()
    monkeypatch.delenv("SPECBENCH_TEST_KEY")

    replayed = pytester.runpytest("--specbench-record-mode=none", "--specbench-report=rep")

    replayed.assert_outcomes(passed=1)  # each request, thinking blocks included, matched the recording
    live, again = record_of(pytester, "rec"), record_of(pytester, "rep")
    assert {k: live[k] for k in SAME} == {k: again[k] for k in SAME}
    assert again["source"] == "replayed" and again["output_tokens"] == 180
    replayed_transcript = (pytester.path / "rep" / "transcripts" / TRANSCRIPT.name).read_text()
    thoughts = [json.loads(line) for line in replayed_transcript.splitlines()]
    assert [e["turn"] for e in thoughts if e["kind"] == "reasoning"] == [1, 2, 3, 4]
