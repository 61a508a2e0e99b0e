"""Verdicts read the answer, not the thoughts; the transcript and the report keep the thoughts apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from pytest_specbench.agent.loop import Limits, ToolOutcome, run_agent
from pytest_specbench.agent.stats import RunStats
from pytest_specbench.agent.transcript import (
    AssistantEvent,
    ReasoningEvent,
    StopEvent,
    ToolCallEvent,
    Transcript,
)
from pytest_specbench.config.settings import BriefConfig
from pytest_specbench.models import ToolSpec
from pytest_specbench.models._reasoning import split_think
from pytest_specbench.report.html import render_html
from pytest_specbench.report.views import timeline
from pytest_specbench.testing import Reply, ScriptedClient, call
from pytest_specbench.tree import SpecTree
from pytest_specbench.verdicts.checks import Check, Evidence, check_final_response, check_no_false_claims

THOUGHT = "Maybe 50 features, all in specs/ALL.md. Done!"


def evidence(tmp_path: Path, transcript: Transcript) -> Evidence:
    brief = BriefConfig("b", tmp_path, "Specify it.")
    return Evidence(transcript, SpecTree(), brief, tmp_path, tmp_path / "specs", {})


def ended(*events: Any) -> Transcript:
    return Transcript([*events, StopEvent("final_answer", "final answer at turn 1")])


def answer(text: str, turn: int = 1) -> AssistantEvent:
    return AssistantEvent(turn, text, (), 10, 5, "stop", 0.0)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (f"<think>\n{THOUGHT}\n</think>\n\nThe answer.", (THOUGHT, "The answer.")),
        (f"  <think>{THOUGHT}", (THOUGHT, "")),  # cut off by max_tokens: never closed
        (f"{THOUGHT}\n</think>\nThe answer.", (THOUGHT, "The answer.")),  # <think> was in the prompt
        ("The answer mentions <think> tags.", ("", "The answer mentions <think> tags.")),
        ("Answer first.\n<think>later</think>", ("", "Answer first.\n<think>later</think>")),
    ],
)
def test_split_think(content: str, expected: tuple[str, str]) -> None:
    assert split_think(content) == expected


def test_think_tags_left_in_an_answer_are_no_claims(tmp_path: Path) -> None:
    transcript = ended(answer(f"<think>{THOUGHT}</think>Nothing to report."))

    check = check_no_false_claims(evidence(tmp_path, transcript))

    assert check == Check("no_false_claims", True, "the final answer makes no checkable claim", applies=False)


def test_a_turn_of_reasoning_only_is_no_final_answer(tmp_path: Path) -> None:
    transcript = ended(ReasoningEvent(1, THOUGHT), answer(""))

    check = check_final_response(evidence(tmp_path, transcript))

    assert check == Check(
        "final_response", False, "turn 1 ended with reasoning only (45 characters of it) — no final answer"
    )


def test_inline_reasoning_only_is_no_final_answer_either(tmp_path: Path) -> None:
    check = check_final_response(evidence(tmp_path, ended(answer(f"<think>{THOUGHT}</think>"))))
    assert not check.passed and "reasoning only" in check.detail


def test_the_answer_after_reasoning_is_the_final_response(tmp_path: Path) -> None:
    check = check_final_response(evidence(tmp_path, ended(ReasoningEvent(1, THOUGHT), answer("Wrote it."))))
    assert check == Check("final_response", True, "9 characters at turn 1")


class _NoTools:
    async def list_tools(self) -> list[ToolSpec]:
        return [ToolSpec("list_files", "List.", {"type": "object"})]

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        return ToolOutcome("app.py")


def test_the_loop_records_reasoning_before_each_turn_and_counts_its_tokens() -> None:
    client = ScriptedClient(
        [
            Reply(reasoning="Look first.", tool_calls=[call("list_files")], reasoning_tokens=3),
            Reply(reasoning="Now answer.", redacted_reasoning="ENC", text="Done.", reasoning_tokens=2),
        ]
    )
    transcript = Transcript()

    async def main() -> None:
        limits = Limits(max_turns=5, timeout_s=10)
        await run_agent(client, _NoTools(), system="s", prompt="p", limits=limits, transcript=transcript)

    anyio.run(main)

    kinds = [e.kind for e in transcript.events]
    assert kinds == [
        "message",
        "message",
        "reasoning",
        "assistant",
        "tool_call",
        "reasoning",
        "assistant",
        "stop",
    ]
    assert transcript.reasoning(2) == ReasoningEvent(2, "Now answer.", redacted_blocks=1)
    assert transcript.final_text == "Done."
    stats = RunStats.from_transcript(transcript, 1.0)
    assert (stats.reasoning_tokens, stats.reasoning_turns) == (5, 2)
    assert Transcript.from_jsonl(transcript.to_jsonl()).events == transcript.events


def test_a_transcript_redacts_reasoning_like_any_line() -> None:
    transcript = ended(ReasoningEvent(1, "the key is sk-proj-Zx81kQ2mVb7TnR4pLw9sYd3"), answer("Done."))

    text = transcript.to_jsonl(lambda line: line.replace("sk-proj-Zx81kQ2mVb7TnR4pLw9sYd3", "[REDACTED]"))

    assert "sk-proj" not in text and '"kind": "reasoning"' in text


def test_the_report_timeline_shows_reasoning_collapsed() -> None:
    events: list[dict[str, Any]] = [
        {"kind": "reasoning", "turn": 1, "text": THOUGHT, "redacted_blocks": 1},
        {"kind": "assistant", "turn": 1, "text": "Done.", "tool_calls": [], "input_tokens": 10,
         "output_tokens": 5, "reasoning_tokens": 3, "seconds": 0.1},
        {"kind": "stop", "reason": "final_answer", "detail": "final answer at turn 1"},
    ]  # fmt: skip
    entries = timeline(events)
    assert entries[0] == {
        "kind": "reasoning",
        "turn": 1,
        "text": THOUGHT,
        "size": "45 characters, 1 redacted blocks",
    }
    assert entries[1]["tokens"] == "10 in / 5 out (3 reasoning)"

    page = render_html([{"test_id": "t", "outcome": "passed", "checks": []}], {"t": events})

    shown = page[page.index('<li class="reasoning">') :]
    assert shown.startswith('<li class="reasoning"><details><summary>reasoning of turn 1')
    assert "<details open" not in shown.split("</li>")[0] and THOUGHT in shown


def test_tool_call_events_are_untouched_by_reasoning() -> None:
    call_event = ToolCallEvent(1, "c", "list_files", "{}", "ok", False, 0.0)
    transcript = Transcript([ReasoningEvent(1, "x"), call_event])
    assert transcript.tool_calls() == [call_event] and transcript.assistant_turns() == []
