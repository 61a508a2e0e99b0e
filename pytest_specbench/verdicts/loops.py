"""Loops in a run: the same call again and again, or a short cycle of calls that gets nowhere.

`find_loop` serves twice: after every turn, to end a looping run early (`stop_on_loop`),
and after the run, for the `no_loop` check, so that both say the same thing. Both go
through `LoopDetector`, which takes the calls one at a time: during a run `loop_stop`
feeds it only the calls of the last turn, so detection costs O(1) per call, not O(run).

Three shapes count, each when it repeats `threshold` times back to back:

* a streak: one tool with the same arguments (compared as canonical JSON, `stats.call_key`);
  the same tool with other arguments is not a loop;
* a failed streak: one tool failing with the same kind of error each time (`failed_streaks`),
  whatever the arguments: a model that breaks its JSON at a different point every time
  is stuck all the same. It repeats once per turn, since only after a turn has the model
  seen its errors: a batch of failing calls in one turn is one attempt, not a loop;
* a cycle of two or three different calls (A, B, A, B, ...) in which no create_* call
  succeeds: a cycle that keeps creating items is making progress, however repetitive
  (duplicates are `tree_quality`'s business).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from pytest_specbench._text import shorten
from pytest_specbench.agent.loop import StopCheck
from pytest_specbench.agent.stats import call_key
from pytest_specbench.agent.transcript import ToolCallEvent, Transcript

__all__ = ["Loop", "LoopDetector", "failed_streaks", "find_loop", "loop_stop", "render_call"]

CYCLE_PERIODS = (2, 3)
ARGUMENTS_WIDTH = 60
"""Characters of arguments shown per call in a verdict."""
FAILURES = {
    "invalid_json": "invalid JSON",
    "unknown_tool": "an unknown tool",
    "bad_arguments": "bad arguments",
    "tool_error": "a tool error",
}
"""How a verdict names each kind of tool error."""


@dataclass(frozen=True, slots=True)
class Loop:
    """Calls repeated back to back: one call (a streak) or a cycle of two or three."""

    calls: tuple[ToolCallEvent, ...]
    """One period of the loop, as first made."""
    repeats: int
    """How many times the period ran in a row."""
    start: int
    """Index of the loop's first call among the run's tool calls."""
    failure: str | None = None
    """The error kind every call of a failed streak ended with; None for identical calls."""
    failed_calls: int = 0
    """Calls in a failed streak, which counts `repeats` in turns."""

    @property
    def size(self) -> int:
        """Calls spent in the loop."""
        return len(self.calls) * self.repeats

    def __str__(self) -> str:
        turn = self.calls[0].turn
        if self.failure is not None:
            how = FAILURES.get(self.failure, self.failure)
            times = f"{self.repeats}×"
            if self.failed_calls > self.repeats:
                times = f"{self.failed_calls}× over {self.repeats} turns"
            return f"{self.calls[0].name} failed {times} in a row with {how} from turn {turn}"
        if len(self.calls) == 1:
            return f"{render_call(self.calls[0])} called {self.repeats}× in a row from turn {turn}"
        cycle = " → ".join(render_call(c) for c in self.calls)
        return f"cycle {cycle} repeated {self.repeats}× from turn {turn}, no spec item created in between"


def find_loop(calls: list[ToolCallEvent], threshold: int) -> Loop | None:
    """The biggest loop that repeats at least `threshold` times (the earliest of equals), or None."""
    detector = LoopDetector(threshold)
    for call in calls:
        detector.add(call)
    return detector.loop


def loop_stop(threshold: int) -> StopCheck:
    """A `stop_when` for the agent loop: the loop's description once there is one.

    It reads only the events added since its last look, so a run pays O(1) per call
    for loop detection however long it gets.
    """
    return _Follower(threshold)


class LoopDetector:
    """`find_loop` kept up to date one call at a time: `add` is O(1) amortised, `loop` is O(1).

    Each shape of loop is a tracker that sees every call and reports each of its loops
    once it can grow no more (closed), plus the one still growing (open). A new shape is
    one more tracker in `_trackers`; its position breaks ties between loops of equal size
    and start.
    """

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.calls: list[ToolCallEvent] = []
        self.keys: list[str] = []
        """`call_key` of each call, computed once."""
        self.last_created = -1
        """Index of the last successful create_* call, -1 before the first."""
        # In the order find_loop always broke ties in: streaks, cycles, failed streaks.
        self._trackers: tuple[_Tracker, ...] = (
            _Streaks(),
            *(_Cycles(p) for p in CYCLE_PERIODS),
            _FailedStreaks(),
        )
        self._best: tuple[tuple[int, int, int], Loop] | None = None
        """The biggest closed loop so far that repeats often enough, with its rank."""

    def add(self, call: ToolCallEvent) -> None:
        """Take the run's next call."""
        self.calls.append(call)
        self.keys.append(call_key(call))
        for order, tracker in enumerate(self._trackers):
            self._best = self._better(self._best, tracker.add(self), order)
        if _created(call):  # after the trackers: a loop they close ends before this call
            self.last_created = len(self.calls) - 1

    @property
    def loop(self) -> Loop | None:
        """What `find_loop` says of the calls added so far."""
        best = self._best
        for order, tracker in enumerate(self._trackers):
            best = self._better(best, tracker.open(self), order)
        return None if best is None else best[1]

    def _better(
        self, best: tuple[tuple[int, int, int], Loop] | None, loop: Loop | None, order: int
    ) -> tuple[tuple[int, int, int], Loop] | None:
        # The biggest wins; of equals, the earliest, then the tracker listed first.
        if loop is None or loop.repeats < self.threshold:
            return best
        rank = (loop.size, -loop.start, -order)
        return (rank, loop) if best is None or rank > best[0] else best


class _Tracker(Protocol):
    def add(self, seen: LoopDetector) -> Loop | None:
        """Note the call just added to `seen`; return the loop it closed, if any."""
        ...

    def open(self, seen: LoopDetector) -> Loop | None:
        """The loop still growing at the end of `seen`, if any."""
        ...


@dataclass(slots=True)
class _Streaks:
    """Maximal runs of one call with the same arguments."""

    start: int = 0
    count: int = 0

    def add(self, seen: LoopDetector) -> Loop | None:
        i = len(seen.keys) - 1
        if self.count and seen.keys[i] == seen.keys[i - 1]:
            self.count += 1
            return None
        closed = self.open(seen)
        self.start, self.count = i, 1
        return closed

    def open(self, seen: LoopDetector) -> Loop | None:
        return Loop((seen.calls[self.start],), self.count, self.start) if self.count else None


@dataclass(slots=True)
class _Cycles:
    """Maximal stretches where every call repeats the one `period` calls before it."""

    period: int
    matched: int = 0
    """Calls in the current stretch that equal the call `period` before them."""

    def add(self, seen: LoopDetector) -> Loop | None:
        i = len(seen.keys) - 1
        if i < self.period:
            return None
        if seen.keys[i] == seen.keys[i - self.period]:
            self.matched += 1
            return None
        closed = self._stretch(seen, i)
        self.matched = 0
        return closed

    def open(self, seen: LoopDetector) -> Loop | None:
        return self._stretch(seen, len(seen.keys))

    def _stretch(self, seen: LoopDetector, end: int) -> Loop | None:
        """The stretch that ends before `end`, if it is a cycle that created nothing."""
        period, start = self.period, end - self.matched - self.period
        if self.matched < period or len(set(seen.keys[start : start + period])) < 2:
            return None
        if seen.last_created >= start:  # a create_* call before `end` succeeded in the stretch
            return None
        return Loop(tuple(seen.calls[start : start + period]), (self.matched + period) // period, start)


@dataclass(slots=True)
class _FailedStreaks:
    """Maximal runs of calls to one tool failing with one kind of error (`failed_streaks`, call by call)."""

    start: int = 0
    failure: tuple[str, str] | None = None
    turns: set[int] = field(default_factory=set)
    """The turns the current run spans: it repeats once per turn."""

    def add(self, seen: LoopDetector) -> Loop | None:
        i = len(seen.calls) - 1
        call = seen.calls[i]
        failure = _failure(call)
        if i and failure == self.failure:
            self.turns.add(call.turn)
            return None
        closed = self._run(seen, i)
        self.start, self.failure, self.turns = i, failure, {call.turn}
        return closed

    def open(self, seen: LoopDetector) -> Loop | None:
        return self._run(seen, len(seen.calls))

    def _run(self, seen: LoopDetector, end: int) -> Loop | None:
        if self.failure is None or end == 0:
            return None
        return Loop((seen.calls[self.start],), len(self.turns), self.start, self.failure[1], end - self.start)


@dataclass(slots=True)
class _Follower:
    """The `stop_when` of `loop_stop`: feeds a detector the calls a transcript gained since last time."""

    threshold: int
    detector: LoopDetector | None = None
    transcript: Transcript | None = None
    seen: int = 0
    """Events of `transcript` already read."""

    def __call__(self, transcript: Transcript) -> str | None:
        events = transcript.events
        if self.detector is None or transcript is not self.transcript or len(events) < self.seen:
            self.detector, self.transcript, self.seen = LoopDetector(self.threshold), transcript, 0
        for index in range(self.seen, len(events)):
            event = events[index]
            if isinstance(event, ToolCallEvent):
                self.detector.add(event)
        self.seen = len(events)
        loop = self.detector.loop
        return None if loop is None else str(loop)


def render_call(call: ToolCallEvent, width: int = ARGUMENTS_WIDTH) -> str:
    """`name(key="value", ...)`, the arguments shortened to `width` characters."""
    try:
        arguments = json.loads(call.arguments)
    except ValueError:
        arguments = None
    if isinstance(arguments, dict):
        text = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items())
    else:
        text = call.arguments
    return f"{call.name}({shorten(text, width)})"


def failed_streaks(calls: list[ToolCallEvent]) -> Iterator[Loop]:
    """Each maximal run of back-to-back calls to one tool that all failed with the same kind of error,
    repeated once per turn it spans."""
    start = 0
    for i in range(1, len(calls) + 1):
        if i < len(calls) and _failure(calls[i]) == _failure(calls[start]):
            continue
        if (failure := _failure(calls[start])) is not None:
            turns = len({call.turn for call in calls[start:i]})
            yield Loop((calls[start],), turns, start, failure[1], i - start)
        start = i


def _failure(call: ToolCallEvent) -> tuple[str, str] | None:
    """The tool and the kind of error of a failed call; None for a success."""
    return (call.name, call.error_kind or "tool_error") if call.is_error else None


def _created(call: ToolCallEvent) -> bool:
    return call.name.startswith("create_") and not call.is_error
