"""Loops in a run: the same call again and again, or a short cycle of calls that gets nowhere.

`find_loop` serves twice: after every turn, to end a looping run early (`stop_on_loop`),
and after the run, for the `no_loop` check, so that both say the same thing.

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
from dataclasses import dataclass

from pytest_specbench._text import shorten
from pytest_specbench.agent.loop import StopCheck
from pytest_specbench.agent.stats import call_key, identical_streaks
from pytest_specbench.agent.transcript import ToolCallEvent, Transcript

__all__ = ["Loop", "failed_streaks", "find_loop", "loop_stop", "render_call"]

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
    found = sorted(
        [*_streaks(calls), *_all_cycles(calls), *failed_streaks(calls)], key=lambda loop: loop.start
    )
    loops = [loop for loop in found if loop.repeats >= threshold]
    return max(loops, key=lambda loop: loop.size) if loops else None


def loop_stop(threshold: int) -> StopCheck:
    """A `stop_when` for the agent loop: the loop's description once there is one."""

    def check(transcript: Transcript) -> str | None:
        loop = find_loop(transcript.tool_calls(), threshold)
        return None if loop is None else str(loop)

    return check


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


def _streaks(calls: list[ToolCallEvent]) -> Iterator[Loop]:
    start = 0
    for first, _, count in identical_streaks(calls):
        yield Loop((first,), count, start)
        start += count


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


def _all_cycles(calls: list[ToolCallEvent]) -> Iterator[Loop]:
    keys = [call_key(c) for c in calls]
    for period in CYCLE_PERIODS:
        yield from _cycles(calls, keys, period)


def _cycles(calls: list[ToolCallEvent], keys: list[str], period: int) -> Iterator[Loop]:
    """Each maximal stretch where every call repeats the one `period` calls before it."""
    matched = 0  # calls in the current stretch that equal the call `period` before them
    for i in range(period, len(keys) + 1):
        if i < len(keys) and keys[i] == keys[i - period]:
            matched += 1
            continue
        start = i - matched - period
        repeating = matched >= period and len(set(keys[start : start + period])) > 1
        if repeating and not any(_created(c) for c in calls[start:i]):
            yield Loop(tuple(calls[start : start + period]), (matched + period) // period, start)
        matched = 0


def _created(call: ToolCallEvent) -> bool:
    return call.name.startswith("create_") and not call.is_error
