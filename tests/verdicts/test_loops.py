"""The incremental loop detector says exactly what the whole-transcript rescan it replaced said."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_specbench.agent.stats import call_key, identical_streaks
from pytest_specbench.agent.transcript import ToolCallEvent, ToolErrorKind, Transcript
from pytest_specbench.verdicts.loops import Loop, failed_streaks, find_loop, loop_stop


def rescan_find_loop(calls: list[ToolCallEvent], threshold: int) -> Loop | None:
    """The previous `find_loop`, verbatim in substance: every shape recomputed from the start."""
    found: list[Loop] = []
    start = 0
    for first, _, count in identical_streaks(calls):
        found.append(Loop((first,), count, start))
        start += count
    keys = [call_key(c) for c in calls]
    for period in (2, 3):
        matched = 0
        for i in range(period, len(keys) + 1):
            if i < len(keys) and keys[i] == keys[i - period]:
                matched += 1
                continue
            begin = i - matched - period
            repeating = matched >= period and len(set(keys[begin : begin + period])) > 1
            created = any(c.name.startswith("create_") and not c.is_error for c in calls[begin:i])
            if repeating and not created:
                found.append(Loop(tuple(calls[begin : begin + period]), (matched + period) // period, begin))
            matched = 0
    found += failed_streaks(calls)
    loops = [loop for loop in sorted(found, key=lambda loop: loop.start) if loop.repeats >= threshold]
    return max(loops, key=lambda loop: loop.size) if loops else None


Spec = tuple[str, str, ToolErrorKind | None, bool]
"""A call: tool, arguments, error kind (None for a success), whether it starts a new turn."""

CALLS = st.tuples(
    st.sampled_from(
        [
            ("read_file", '{"path": "a"}', None),
            ("read_file", '{"path":"a"}', None),  # the same call, spelled differently
            ("read_file", '{"path": "b"}', None),
            ("read_file", '{"path": "b"}', "tool_error"),
            ("read_file", '{"path": "c"}', "tool_error"),
            ("list_files", "{}", None),
            ("create_feature", '{"title": "x"}', None),
            ("create_feature", '{"title": "x"}', "bad_arguments"),  # a failed create is no progress
            ("search_code", "not json", "invalid_json"),
            ("search_code", "{", "invalid_json"),
        ]
    ),
    st.booleans(),
).map(lambda pair: (*pair[0], pair[1]))


def events(spec: list[Spec]) -> list[ToolCallEvent]:
    calls, turn = [], 1
    for i, (name, args, kind, new_turn) in enumerate(spec):
        turn += bool(i and new_turn)
        calls.append(ToolCallEvent(turn, f"c{i}", name, args, "r", kind is not None, 0.0, kind))
    return calls


@settings(max_examples=500, deadline=None)
@given(st.lists(CALLS, max_size=40), st.integers(min_value=2, max_value=5))
def test_every_prefix_gets_the_rescans_verdict(spec: list[Spec], threshold: int) -> None:
    calls = events(spec)
    check, transcript = loop_stop(threshold), Transcript()

    for n, call in enumerate(calls, start=1):
        transcript.append(call)
        expected = rescan_find_loop(calls[:n], threshold)
        assert find_loop(calls[:n], threshold) == expected
        assert check(transcript) == (None if expected is None else str(expected))


def test_a_stop_check_follows_a_new_transcript_from_its_start() -> None:
    check = loop_stop(3)
    looping = Transcript(list(events([("list_files", "{}", None, True)] * 3)))
    assert check(looping) is not None

    assert check(Transcript(list(events([("list_files", "{}", None, True)])))) is None


def test_call_keys_are_computed_once_per_call() -> None:
    calls = events([("read_file", json.dumps({"path": str(i)}), None, True) for i in range(50)])
    check, transcript = loop_stop(5), Transcript()

    for call in calls:
        transcript.append(call)
        check(transcript)

    assert check.detector is not None and len(check.detector.keys) == 50  # type: ignore[attr-defined]
