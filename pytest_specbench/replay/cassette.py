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
import math
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_specbench._files import write_text_atomic
from pytest_specbench.errors import CassetteError
from pytest_specbench.models.types import AssistantTurn
from pytest_specbench.replay import fields
from pytest_specbench.replay.codec import canonical, turn_from_data

__all__ = ["CASSETTE_VERSION", "Cassette", "Exchange", "cassette_path", "load_cassette", "write_cassette"]

CASSETTE_VERSION = 1
RERECORD = "re-record with --specbench-record-mode=all"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_MAX_NAME = 150
"""Characters of a file name before the `.jsonl`: short enough for every file system."""
MAX_LINE_BYTES = 32 * 1024 * 1024
"""The longest cassette line read (an exchange holds only the turn's new messages and its answer)."""
MAX_CASSETTE_BYTES = 256 * 1024 * 1024
"""The largest cassette read: a longer file is refused before a line of it is."""
_ROLES = frozenset({"user", "assistant", "tool"})


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


def load_cassette(
    path: Path, test_id: str, sample: int = 1, *, expected: Mapping[str, Any] | None = None
) -> Cassette:
    """Read and check a cassette; raises CassetteError naming the file and line of any problem.

    Args:
        expected: the header this run would record (model, sampling, brief, scaffold, ...):
            a cassette whose header says otherwise belongs to another run and is refused.
    """
    lines = [_parse(path, number, raw) for number, raw in enumerate(_read_lines(path), 1)]
    if not lines:
        raise CassetteError(f"{path}: the cassette is empty — {RERECORD}")
    header = _header(path, lines[0], test_id, sample)
    if expected is not None:
        _same_run(path, header, expected)
    reader = _Reader(path)
    for number, line in enumerate(lines[1:], 2):
        reader.take(number, line)
    if not reader.ended:  # cut short: it must not replay as a shorter run
        raise CassetteError(f"{path}:{len(lines)}: truncated, no end line after it — {RERECORD}")
    return Cassette(path, header, tuple(reader.exchanges))


def _read_lines(path: Path) -> list[str]:
    """The file's lines; a FIFO or device is refused before it is opened (reading one blocks)."""
    try:
        mode, size = _kind(path)
        if not stat.S_ISREG(mode):
            raise CassetteError(
                f"{path}: not a regular file — point it at a cassette (.jsonl), or {RERECORD}"
            )
        if size > MAX_CASSETTE_BYTES:
            limit = f"{MAX_CASSETTE_BYTES // (1024 * 1024)} MiB"
            raise CassetteError(f"{path}: a cassette larger than {limit} — {RERECORD}")
        lines: list[str] = []
        with path.open("rb") as handle:
            while raw := handle.readline(MAX_LINE_BYTES + 1):
                if len(raw) > MAX_LINE_BYTES:
                    limit = f"{MAX_LINE_BYTES // (1024 * 1024)} MiB"
                    raise CassetteError(f"{path}:{len(lines) + 1}: a line longer than {limit} — {RERECORD}")
                lines.append(raw.decode("utf-8").rstrip("\r\n"))
    except (OSError, UnicodeDecodeError) as err:
        raise CassetteError(f"{path}: cannot read the cassette ({err}) — {RERECORD}") from None
    return lines


def _kind(path: Path) -> tuple[int, int]:
    """The file's mode and size, read without opening it (opening a FIFO waits for a writer)."""
    status = path.stat()
    return status.st_mode, status.st_size


def _parse(path: Path, number: int, raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise CassetteError(f"{path}:{number}: not JSON ({err.msg}) — {RERECORD}") from None
    except RecursionError:
        raise CassetteError(
            f"{path}:{number}: not JSON a reader can take (nested too deep) — {RERECORD}"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        raise CassetteError(f'{path}:{number}: not a cassette line (no "kind") — {RERECORD}')
    return data


def _header(path: Path, line: dict[str, Any], test_id: str, sample: int) -> dict[str, Any]:
    if line["kind"] != "header":
        raise CassetteError(f"{path}:1: the first line is not a header — {RERECORD}")
    if not _same(line.get("version"), CASSETTE_VERSION):
        version = json.dumps(line.get("version"))
        raise CassetteError(
            f"{path}:1: unknown cassette version {version} (this pytest-specbench reads "
            f"{CASSETTE_VERSION}) — upgrade pytest-specbench, or {RERECORD}"
        )
    try:
        _check_header(line)
    except (TypeError, ValueError) as err:
        raise CassetteError(f"{path}:1: malformed header ({err}) — {RERECORD}") from None
    recorded = (line.get("test_id"), line.get("sample", 1))
    if not _same(recorded, (test_id, sample)):
        raise CassetteError(
            f"{path}:1: recorded for {recorded[0]} sample {recorded[1]}, not {test_id} sample {sample}"
            f" — move it back, or {RERECORD}"
        )
    return line


OPTIONAL_HEADER = frozenset({"context_window", "context_settings"})
"""Header fields a recording made before they existed lacks: missing, they are no drift."""
_RUN_HEADER = frozenset(
    {"model", "sampling", "brief", "scaffold", "context", "context_settings", "context_window"}
)
"""Header fields that describe the run (beside its test id and sample): each must be this run's."""
_HEADER = frozenset(
    {"kind", "version", "test_id", "sample", "specbench_version", "recorded_at", *_RUN_HEADER}
)
_MODEL = ("id", "provider", "name")


def _check_header(line: dict[str, Any]) -> None:
    """The type of each header field present (whether a field is this run's is `_same_run`'s)."""
    fields.known(line, _HEADER, "header")
    for key in ("test_id", "brief", "scaffold", "context", "specbench_version", "recorded_at"):
        if key in line:
            fields.text(line, key, "header")
    for key in ("sampling", "context_settings"):
        if key in line:
            fields.obj(line, key, "header")
    if "model" in line:
        model = fields.obj(line, "model", "header")
        fields.known(model, _MODEL, "header.model")
        for key in _MODEL:
            fields.text(model, key, "header.model")
    if "context_window" in line and fields.count(line, "context_window", "header") == 0:
        raise ValueError("header.context_window must be an integer above 0, got 0")


def recorded_window(path: Path) -> int | None:
    """The context window a recording ran with (its header's `context_window`), or None when it
    names none or cannot be read (loading the cassette then says why)."""
    try:
        if not stat.S_ISREG(_kind(path)[0]):
            return None
        with path.open("rb") as handle:
            header = json.loads(handle.readline(MAX_LINE_BYTES + 1))
    except (OSError, ValueError, RecursionError):
        return None
    window = header.get("context_window") if isinstance(header, dict) else None
    return window if isinstance(window, int) and not isinstance(window, bool) and window > 0 else None


def _same_run(path: Path, header: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    """Each field the run would write in its header is the one recorded (model, sampling, brief, ...)."""
    for key, now in expected.items():
        if key in OPTIONAL_HEADER and key not in header:
            continue
        recorded = header.get(key)
        if not _same(recorded, now):
            said = "is missing" if key not in header else f"is {_json(recorded)}"
            _drift_in_header(path, f"header.{key} {said}, this run's is {_json(now)}")
    for key in sorted(_RUN_HEADER & header.keys() - expected.keys()):
        # Recorded under a context strategy (or window) this run does not have: not this run's.
        _drift_in_header(path, f"header.{key} is {_json(header[key])}, this run has none")


def _drift_in_header(path: Path, problem: str) -> None:
    raise CassetteError(
        f"{path}:1: cassette drift: {problem} — replay it with the run it was recorded for, or {RERECORD}"
    )


def _same(recorded: Any, now: Any) -> bool:
    """Equal as JSON, so `true` is not `1` and `1` is not `1.0` (as the request hash sees them)."""
    try:
        return canonical(recorded) == canonical(now)
    except (TypeError, ValueError):
        return False


_json = fields.shown


_EXCHANGE = frozenset({"kind", "turn", "hash", "request", "answer", "seconds"})
_REQUEST = frozenset({"system", "tools", "messages_from", "messages"})


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
        fields.known(line, _EXCHANGE, "exchange")
        turn, request = line["turn"], line["request"]
        if not _same(turn, len(self.exchanges) + 1):
            raise ValueError(f"turn {_json(turn)} where turn {len(self.exchanges) + 1} was due")
        if not isinstance(request, dict):
            raise TypeError("request must be an object")
        fields.known(request, _REQUEST, "request")
        start = request["messages_from"]
        if type(start) is not int or not 0 <= start <= len(self.messages):
            raise ValueError(f"messages_from {_json(start)} after {len(self.messages)} messages")
        added = _messages(request["messages"])
        del self.messages[start:]
        self.system = request.get("system", self.system)
        self.tools = request.get("tools", self.tools)
        if not isinstance(self.system, str):
            raise TypeError("request.system must be a string")
        _tools(self.tools)
        self.messages.extend(added)
        answer = turn_from_data(line["answer"])
        digest = line["hash"]
        if not isinstance(digest, str):
            raise TypeError("hash must be a string")
        messages = tuple(self.messages)
        seconds = _seconds(line["seconds"], "seconds")
        return Exchange(turn, number, digest, self.system, self.tools, messages, answer, seconds)

    def _end(self, where: str, line: dict[str, Any]) -> None:
        try:
            fields.known(line, ("kind", "turns", "seconds"), "end")
            _seconds(line.get("seconds"), "the end line's seconds")
        except (TypeError, ValueError) as err:
            raise CassetteError(f"{where}: malformed end line ({err}) — {RERECORD}") from None
        if not _same(line.get("turns"), len(self.exchanges)):
            raise CassetteError(
                f"{where}: the end line counts {line.get('turns')} turns, the file has "
                f"{len(self.exchanges)} — {RERECORD}"
            )
        self.ended = True


def _messages(value: Any) -> list[Any]:
    """`request.messages`: a list of encoded messages, each a role's object (`codec.message_data`)."""
    if not isinstance(value, list):
        raise TypeError("request.messages must be a list")
    for index, message in enumerate(value):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise TypeError(f"request.messages[{index}] is not a user, assistant or tool message")
        parts = {"user": ("text", str), "assistant": ("tool_calls", list), "tool": ("results", list)}
        key, kind = parts[message["role"]]
        if not isinstance(message.get(key), kind):
            raise TypeError(f"request.messages[{index}].{key} must be a {kind.__name__}")
        if message["role"] == "tool" and not all(isinstance(r, dict) for r in message["results"]):
            raise TypeError(f"request.messages[{index}].results must be objects")
    return value


def _tools(value: Any) -> None:
    if not isinstance(value, list) or not all(
        isinstance(t, dict) and isinstance(t.get("name"), str) for t in value
    ):
        raise TypeError("request.tools must be a list of tools, each with a name")


def _seconds(value: Any, what: str) -> float:
    number = value if isinstance(value, float) else None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53:
        number = float(value)
    if number is None or not math.isfinite(number) or number < 0:
        raise TypeError(f"{what} must be a number of 0 or more, got {_json(value)}")
    return number


def _describe(err: Exception) -> str:
    return f"{err.args[0]} is missing" if isinstance(err, KeyError) else str(err)
