"""The cassette file: JSON Lines, a header, one line per model exchange, an end line.

    {"kind": "header", "version": 1, "test_id": "test_spec[gpt-todo-app]", "sample": 1, "model": {...}, ...}
    {"kind": "exchange", "turn": 1, "hash": "sha256:…", "request": {...}, "answer": {...}, "seconds": 2.1}
    {"kind": "end", "turns": 31, "seconds": 211.4}

A request holds the system prompt and tools only where they changed since the previous
turn, and only the messages added since then (`messages_from` says how many came
before), so a 200-turn run stays linear in size and a PR diff shows each turn once.
A cassette is read with `json` only; anything unexpected is a `CassetteError` naming
the file and line.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_specbench._files import write_text_atomic
from pytest_specbench.errors import CassetteError
from pytest_specbench.models.types import AssistantTurn
from pytest_specbench.replay.codec import turn_from_data

__all__ = ["CASSETTE_VERSION", "Cassette", "Exchange", "cassette_path", "load_cassette", "write_cassette"]

CASSETTE_VERSION = 1
RERECORD = "re-record with --specbench-record-mode=all"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_MAX_NAME = 150
"""Characters of a file name before the `.jsonl`: short enough for every file system."""


def cassette_path(directory: Path, test_id: str, sample: int = 1) -> Path:
    """Where the cassette of `test_id` (and of its `sample`, when repeats run) lives.

    `test_spec[gpt-todo-app]` → `test_spec.gpt-todo-app.jsonl` (`[` becomes `.`, `]` goes),
    sample k ≥ 2 → `test_spec.gpt-todo-app.sample-k.jsonl`. Any other character outside
    letters, digits, `.`, `_` and `-` becomes `_`, and then (or when the name is too long) a
    short hash of the test id is appended, so two ids never share a file.
    """
    readable = test_id.replace("[", ".", 1).removesuffix("]") if test_id.endswith("]") else test_id
    name = _SAFE.sub("_", readable)
    if name != readable or len(name) > _MAX_NAME:
        name = f"{name[:_MAX_NAME]}-{hashlib.sha256(test_id.encode()).hexdigest()[:8]}"
    suffix = "" if sample == 1 else f".sample-{sample}"
    return directory / f"{name}{suffix}.jsonl"


@dataclass(frozen=True, slots=True)
class Exchange:
    """One recorded model request and its answer, the request expanded to its full form."""

    turn: int
    line: int
    """The line of the file it came from, for error messages."""
    hash: str
    system: str
    tools: list[Any]
    messages: tuple[Any, ...]
    """Every message of the request, encoded."""
    answer: AssistantTurn
    seconds: float


@dataclass(frozen=True, slots=True)
class Cassette:
    """A loaded cassette: the header, every exchange, and the messages the requests carried."""

    path: Path
    header: dict[str, Any]
    exchanges: tuple[Exchange, ...]

    @property
    def seconds(self) -> float:
        """The model's time over the recorded run: the sum of the exchanges' latencies."""
        return sum(e.seconds for e in self.exchanges)


def write_cassette(path: Path, header: dict[str, Any], exchanges: list[dict[str, Any]]) -> None:
    """Write the cassette atomically: a reader never sees half of one, a crash never leaves one."""
    seconds = round(sum(e["seconds"] for e in exchanges), 3)
    end = {"kind": "end", "turns": len(exchanges), "seconds": seconds}
    lines = [{"kind": "header", "version": CASSETTE_VERSION, **header}, *exchanges, end]
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    write_text_atomic(path, text, errors="backslashreplace")


def header_fields(created: datetime | None = None) -> dict[str, Any]:
    """The header's provenance: this package's version and when the recording was made."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("pytest-specbench")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
        package = "unknown"
    when = (created or datetime.now(UTC)).isoformat(timespec="seconds")
    return {"specbench_version": package, "recorded_at": when}


def load_cassette(path: Path, test_id: str, sample: int = 1) -> Cassette:
    """Read and check a cassette; raises CassetteError naming the file and line of any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CassetteError(f"{path}: cannot read the cassette ({err}) — {RERECORD}") from None
    lines = [_parse(path, number, raw) for number, raw in enumerate(text.splitlines(), 1)]
    if not lines:
        raise CassetteError(f"{path}: the cassette is empty — {RERECORD}")
    header = _header(path, lines[0], test_id, sample)
    reader = _Reader(path)
    for number, line in enumerate(lines[1:], 2):
        reader.take(number, line)
    if not reader.ended:  # cut short: it must not replay as a shorter run
        raise CassetteError(f"{path}:{len(lines)}: truncated, no end line after it — {RERECORD}")
    return Cassette(path, header, tuple(reader.exchanges))


def _parse(path: Path, number: int, raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise CassetteError(f"{path}:{number}: not JSON ({err.msg}) — {RERECORD}") from None
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        raise CassetteError(f'{path}:{number}: not a cassette line (no "kind") — {RERECORD}')
    return data


def _header(path: Path, line: dict[str, Any], test_id: str, sample: int) -> dict[str, Any]:
    if line["kind"] != "header":
        raise CassetteError(f"{path}:1: the first line is not a header — {RERECORD}")
    if line.get("version") != CASSETTE_VERSION:
        version = json.dumps(line.get("version"))
        raise CassetteError(
            f"{path}:1: unknown cassette version {version} (this pytest-specbench reads "
            f"{CASSETTE_VERSION}) — upgrade pytest-specbench, or {RERECORD}"
        )
    recorded = (line.get("test_id"), line.get("sample", 1))
    if recorded != (test_id, sample):
        raise CassetteError(
            f"{path}:1: recorded for {recorded[0]} sample {recorded[1]}, not {test_id} sample {sample}"
            f" — move it back, or {RERECORD}"
        )
    return line


class _Reader:
    """Expands exchange lines into full requests, checking each against the one before."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.exchanges: list[Exchange] = []
        self.messages: list[Any] = []
        self.system, self.tools = "", list[Any]()
        self.ended = False

    def take(self, number: int, line: dict[str, Any]) -> None:
        where = f"{self.path}:{number}"
        if self.ended:
            raise CassetteError(f"{where}: a line after the end line — {RERECORD}")
        if line["kind"] == "end":
            self._end(where, line)
        elif line["kind"] == "exchange":
            try:
                self.exchanges.append(self._exchange(number, line))
            except (KeyError, TypeError, ValueError) as err:
                raise CassetteError(f"{where}: malformed exchange ({_describe(err)}) — {RERECORD}") from None
        else:
            raise CassetteError(f"{where}: unknown line kind {json.dumps(line['kind'])} — {RERECORD}")

    def _exchange(self, number: int, line: dict[str, Any]) -> Exchange:
        turn, request = line["turn"], line["request"]
        if turn != len(self.exchanges) + 1:
            raise ValueError(f"turn {turn} where turn {len(self.exchanges) + 1} was due")
        start = request["messages_from"]
        if not isinstance(start, int) or not 0 <= start <= len(self.messages):
            raise ValueError(f"messages_from {start} after {len(self.messages)} messages")
        del self.messages[start:]
        self.system = request.get("system", self.system)
        self.tools = request.get("tools", self.tools)
        if not isinstance(self.system, str) or not isinstance(self.tools, list):
            raise TypeError("system must be a string and tools a list")
        self.messages.extend(request["messages"])
        answer = turn_from_data(line["answer"])
        seconds = float(line["seconds"])
        messages = tuple(self.messages)
        return Exchange(turn, number, str(line["hash"]), self.system, self.tools, messages, answer, seconds)

    def _end(self, where: str, line: dict[str, Any]) -> None:
        if line.get("turns") != len(self.exchanges):
            raise CassetteError(
                f"{where}: the end line counts {line.get('turns')} turns, the file has "
                f"{len(self.exchanges)} — {RERECORD}"
            )
        self.ended = True


def _describe(err: Exception) -> str:
    return f"missing {err}" if isinstance(err, KeyError) else str(err)
