"""The HTML timeline's context gauge per turn and its context-strategy entries."""

from __future__ import annotations

import dataclasses
import json

from pytest_specbench.agent.transcript import AssistantEvent, ContextEvent, StopEvent
from pytest_specbench.report.html import render_html
from pytest_specbench.report.views import timeline

TEST_ID = "test_spec[m-b]"


def _events() -> list[dict[str, object]]:
    events: list[AssistantEvent | ContextEvent | StopEvent] = [
        AssistantEvent(1, "", (), 4_096, 10, "tool_calls", 0.1, context_window=16_384),
        ContextEvent(2, "mask", "3 older results of read-only tools sent as one-line placeholders", masked=3),
        AssistantEvent(2, "", (), 15_000, 10, "tool_calls", 0.1, context_window=16_384),
        AssistantEvent(3, "", (), 900, 10, "stop", 0.1),
        StopEvent("context_window", "context window exhausted at turn 4: 16,520 tokens > 16,384"),
    ]
    return [json.loads(json.dumps(dataclasses.asdict(e))) for e in events]


def test_each_turn_with_a_known_window_gets_a_gauge() -> None:
    entries = timeline(_events())

    gauges = [e.get("context") for e in entries if e["kind"] == "assistant"]
    assert gauges == [
        {"used": 4_096, "window": 16_384, "percent": 25},
        {"used": 15_000, "window": 16_384, "percent": 92},
        None,  # no window known: no gauge
    ]
    assert [e["kind"] for e in entries] == ["assistant", "context", "assistant", "assistant", "stop"]


def test_the_page_shows_the_gauge_the_strategy_and_the_window_stop() -> None:
    record = {"test_id": TEST_ID, "model": "m", "brief": "b", "outcome": "failed", "checks": []}

    page = render_html([record], {TEST_ID: _events()})

    assert '<meter class="context" min="0" max="16384" high="14745" value="15000"' in page
    assert "92% of 16,384" in page
    assert "context: mask" in page and "3 older results of read-only tools" in page
    assert "stopped: context_window" in page and "16,520 tokens &gt; 16,384" in page
