"""Live progress: what each running test is doing, while it runs, on the controller's terminal.

How it travels: every process that runs tests (an xdist worker, or the single process
without xdist) appends one JSON line per transcript event to `<dir>/<pid>.jsonl`, a
directory the controller hands out through `workerinput` (beside the local-server
registry); a thread on the controller tails those files and redraws one line per
running test below pytest's current line. Files need no channel of xdist's own, survive
a worker's crash, and cost a worker one small append per model turn or tool call.

The display never writes while pytest does: the hooks that print (a test starting,
its reports, its end) hold the same lock as the drawing thread and take the lines
away before pytest writes and put them back after. Off a TTY nothing is redrawn;
instead one line per finished run follows pytest's own (`Progress.plain`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench._text import clip, plural
from pytest_specbench.agent.transcript import AssistantEvent, Event, StopEvent, ToolCallEvent

__all__ = [
    "LiveDisplay",
    "Progress",
    "ProgressMode",
    "ProgressWriter",
    "RunProgress",
    "finished_line",
    "progress_line",
]

INTERVAL_S = 0.5
"""How often the controller redraws."""
MAX_LINES = 12
"""Running tests shown at most; the rest are counted on one more line."""


class ProgressMode(StrEnum):
    """`--specbench-progress`: when the live display is drawn."""

    AUTO = "auto"
    """Live on a terminal; off one (CI logs), one line per finished run."""
    ON = "on"
    """Live, even when the output is not a terminal."""
    OFF = "off"
    """Neither the live lines nor the finished ones."""


@dataclass(slots=True)
class RunProgress:
    """One running test as the display shows it, counted from its transcript's events."""

    test_id: str
    started: float = field(default_factory=time.time)
    turn: int = 0
    tool_calls: int = 0
    features: int = 0
    requirements: int = 0
    tokens: int = 0
    sample: str = ""
    """`i/N` when the test runs several samples."""
    done: bool = False

    def see(self, event: Event) -> None:
        """Count one event; the tree counts come from the server's create_* and delete_item results."""
        if isinstance(event, AssistantEvent):
            self.turn = event.turn
            self.tokens += event.input_tokens + event.output_tokens
        elif isinstance(event, ToolCallEvent):
            self.tool_calls += 1
            if not event.is_error:
                self._count_tree(event.name, event.result)
        elif isinstance(event, StopEvent):
            self.done = True

    def _count_tree(self, name: str, result: str) -> None:
        if name == "create_feature":
            self.features += 1
        elif name == "create_requirement":
            self.requirements += 1
        elif name == "delete_item" and result.startswith("Deleted requirement"):
            self.requirements -= 1
        elif name == "delete_item" and result.startswith("Deleted feature"):
            self.features -= 1


class ProgressWriter:
    """A test process's side: appends each running test's progress to `<directory>/<pid>.jsonl`."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / f"{os.getpid()}.jsonl"

    def listener(self, test_id: str, sample: str = "") -> Callable[[Event], None]:
        """A transcript listener that writes the test's progress after every event."""
        progress = RunProgress(test_id, sample=sample)
        self._write(progress)

        def see(event: Event) -> None:
            progress.see(event)
            self._write(progress)

        return see

    def finish(self, test_id: str) -> None:
        """The test is over, however it ended (a run that errors may never see its stop event)."""
        self._write(RunProgress(test_id, done=True))

    def _write(self, progress: RunProgress) -> None:
        line = (json.dumps(asdict(progress)) + "\n").encode()
        # One write on an O_APPEND descriptor: the controller never reads half a line of another.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


class LiveDisplay:
    """The controller's side: tails the progress files and redraws one line per running test."""

    def __init__(self, directory: Path, reporter: pytest.TerminalReporter) -> None:
        self.directory = directory
        self.reporter = reporter
        self.running: dict[str, RunProgress] = {}
        self._offsets: dict[Path, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="specbench-progress", daemon=True)
        self._drawn = 0
        self._fd = _terminal_fd(self._writer()._file)

    def start(self) -> None:
        """Start redrawing (after the first test started, so collection's own lines are done)."""
        if not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and take the lines away for good."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            self._clear()
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """While pytest writes: no lines of ours on screen, and no redraw."""
        with self._lock:
            self._clear()
            try:
                yield
            finally:
                if self._thread.is_alive() and not self._stop.is_set():
                    self._draw()

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            with self._lock:
                self._clear()
                self._draw()

    def _read(self) -> None:
        for path in sorted(self.directory.glob("*.jsonl")):
            with path.open("rb") as handle:
                handle.seek(self._offsets.get(path, 0))
                data = handle.read()
            complete = data[: data.rfind(b"\n") + 1]
            self._offsets[path] = self._offsets.get(path, 0) + len(complete)
            for line in complete.splitlines():
                progress = RunProgress(**json.loads(line))
                key = f"{progress.test_id} {progress.sample}"  # each sample of a run has its line
                if progress.done and not progress.sample:  # the test is over: all its samples are
                    for gone in [k for k, p in self.running.items() if p.test_id == progress.test_id]:
                        del self.running[gone]
                elif progress.done:
                    self.running.pop(key, None)
                else:
                    self.running[key] = progress

    def _draw(self) -> None:
        self._read()
        lines = [progress_line(p) for p in list(self.running.values())[:MAX_LINES]]
        if len(self.running) > MAX_LINES:
            lines.append(f"… and {plural(len(self.running) - MAX_LINES, 'more running test')}")
        if not lines:
            return
        writer = self._writer()
        width = max(writer.fullwidth - 1, 20)
        body = "".join(f"\n\x1b[2K{clip(line, width)}" for line in lines)
        self._raw(f"{body}\x1b[{len(lines)}A{self._column(writer)}")
        self._drawn = len(lines)

    def _clear(self) -> None:
        if self._drawn:
            self._raw(f"\n\x1b[J\x1b[1A{self._column(self._writer())}")
            self._drawn = 0

    def _writer(self) -> Any:
        # The reporter's own writer: it knows the width and where pytest's current line ends.
        return self.reporter._tw

    def _column(self, writer: Any) -> str:
        column = int(writer.width_of_current_line)
        return f"\r\x1b[{column}C" if column else "\r"

    def _raw(self, text: str) -> None:
        # Past the writer's bookkeeping (these moves leave pytest's line as it was), after what
        # pytest has buffered, and to the terminal itself even while a test's output is captured.
        self.reporter.flush()
        if self._fd is not None:
            os.write(self._fd, text.encode())
        else:
            self._writer()._file.write(text)
            self._writer()._file.flush()


def _terminal_fd(handle: Any) -> int | None:
    """A duplicate of the reporter's file descriptor, taken before capture redirects the original."""
    try:
        return os.dup(handle.fileno())
    except (AttributeError, OSError, ValueError):  # an in-memory stream (pytester in-process)
        return None


class Progress:
    """The controller's hooks for `--specbench-progress`; registered on the controller unless it is off."""

    def __init__(
        self,
        mode: ProgressMode,
        directory: Path,
        records: Callable[[str], dict[str, Any] | None],
        on_live: Callable[[Path], None],
    ) -> None:
        self.mode = mode
        self.directory = directory
        """Where the test processes write; handed to them by `on_live` when the display is live."""
        self.records = records
        self.on_live = on_live
        self.display: LiveDisplay | None = None
        self.reporter: pytest.TerminalReporter | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Decide live or plain now that the terminal is known, before xdist starts its workers."""
        self.reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if self.reporter is None:
            return
        if self.mode is ProgressMode.ON or (self.mode is ProgressMode.AUTO and self.reporter.isatty):
            self.directory.mkdir(parents=True, exist_ok=True)
            self.display = LiveDisplay(self.directory, self.reporter)
            self.on_live(self.directory)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logstart(self) -> Iterator[None]:
        """Keep the lines off the screen while pytest names the test; start drawing after the first."""
        with self._paused():
            yield
        if self.display is not None:
            self.display.start()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> Iterator[None]:
        """Pause while pytest reports; off a terminal, one line per finished run after pytest's own."""
        with self._paused():
            yield
        plain = self.display is None and self.mode is ProgressMode.AUTO and self.reporter is not None
        record = self.records(report.nodeid) if plain and report.when == "teardown" else None
        if record is not None and self.reporter is not None:
            if self.reporter._tw.width_of_current_line:  # after xdist's bare "F", which names no file
                self.reporter.write("\n")
            self.reporter.write_line(finished_line(record))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logfinish(self) -> Iterator[None]:
        """Pause while pytest writes its percentage."""
        with self._paused():
            yield

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        """Stop drawing before the summary."""
        if self.display is not None:
            self.display.stop()

    def pytest_keyboard_interrupt(self) -> None:
        """Stop drawing at once on Ctrl-C."""
        if self.display is not None:
            self.display.stop()

    @contextmanager
    def _paused(self) -> Iterator[None]:
        if self.display is None:
            yield
        else:
            with self.display.paused():
                yield


def progress_line(progress: RunProgress) -> str:
    """`test_spec[gpt-todo-app]  sample 2/3 · turn 12 · 31 calls · 4 feat · 52 reqs · 120,931 tok · 1m05s`."""
    parts = [f"sample {progress.sample}"] if progress.sample else []
    parts += [
        f"turn {progress.turn}",
        plural(progress.tool_calls, "call"),
        f"{progress.features} feat",
        f"{progress.requirements} reqs",
        f"{progress.tokens:,} tok",
        _elapsed(time.time() - progress.started),
    ]
    return f"{progress.test_id}  {' · '.join(parts)}"


def finished_line(record: dict[str, Any]) -> str:
    """One line for a finished run (CI logs): its outcome, the live line's numbers, and a cause if any."""
    parts = [f"specbench: {record.get('test_id')} {str(record.get('outcome', '?')).upper()}"]
    if record.get("turns") is not None:  # a run that never started (a skip, a setup error) has none
        parts += [
            f"{record['turns']} turns",
            plural(int(record.get("tool_calls") or 0), "call"),
            f"{record.get('features', 0)} feat",
            f"{record.get('requirements', 0)} reqs",
            f"{(record.get('input_tokens') or 0) + (record.get('output_tokens') or 0):,} tok",
            f"{record.get('seconds') or 0:.1f}s",
        ]
    known = [str(c.get("name")) for c in record.get("checks") or () if c.get("known")]
    parts += [f"known failure{'s' if len(known) > 1 else ''}: {', '.join(known)}"] if known else []
    cause = record.get("error") or record.get("skip_reason")
    return " · ".join([*parts, str(cause)] if cause else parts)


def _elapsed(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"
