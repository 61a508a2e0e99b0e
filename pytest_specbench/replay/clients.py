"""The two `ModelClient`s of record and replay: one wraps a live client, one stands in for it.

Both encode each request the same way (`codec.RequestCodec`), so what the recorder
writes is what the replayer compares against. Neither touches the MCP server: in a
replay the server, the loop, the checks and the snapshot run for real.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic
from typing import Any, Literal, TypeAlias

from pytest_specbench._record import Provenance
from pytest_specbench.errors import CassetteError
from pytest_specbench.models.types import AssistantTurn, Message, ModelClient, ToolSpec
from pytest_specbench.replay.cassette import RERECORD, Cassette, Exchange, header_fields, write_cassette
from pytest_specbench.replay.codec import RequestCodec, map_text, turn_data, turn_from_data
from pytest_specbench.replay.drift import first_difference

__all__ = ["RecordingClient", "Redact", "ReplayingClient", "Source", "finish", "open_recording", "provenance"]

Source: TypeAlias = Literal["live", "recorded", "replayed"]
Redact: TypeAlias = Callable[[str], str]


@dataclass(slots=True)
class RecordingClient:
    """Passes each request to a live client and keeps the exchange; `finish()` writes the cassette."""

    inner: ModelClient
    path: Path
    header: dict[str, Any]
    """Test id, sample, model, sampling, brief, scaffold: written first, with the version and date."""
    codec: RequestCodec
    source: Source = "recorded"
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    failed: bool = False
    _system: str | None = None
    _tools: list[Any] | None = None

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec]) -> AssistantTurn:
        """The live answer, kept (normalised and redacted) with the request it answers."""
        before = len(self.codec.messages) if self.exchanges else 0
        started = monotonic()
        try:
            answer = await self.inner.generate(system, messages, tools)
        except BaseException:
            self.failed = True  # an unfinished run is not worth a cassette: keep the old one
            raise
        seconds = round(monotonic() - started, 3)
        self.exchanges.append(self._exchange(system, messages, tools, before, answer, seconds))
        return answer

    def _exchange(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec],
        before: int,
        answer: AssistantTurn,
        seconds: float,
    ) -> dict[str, Any]:
        codec = self.codec
        kept = codec.encode(messages)
        clean_system, clean_tools, digest = codec.request(self.header["sampling"], system, tools)
        request: dict[str, Any] = {}
        if clean_system != self._system:
            request["system"] = self._system = clean_system
        if clean_tools != self._tools:
            request["tools"] = self._tools = clean_tools
        start = min(before, kept)
        request |= {"messages_from": start, "messages": codec.messages[start:]}
        clean_answer = map_text(turn_data(answer), lambda t: codec.redact(codec.normaliser.paths_out(t)))
        return {"kind": "exchange", "turn": len(self.exchanges) + 1, "hash": digest, "request": request,
                "answer": clean_answer, "seconds": seconds}  # fmt: skip

    @property
    def recorded_seconds(self) -> float:
        """The model's time over the exchanges recorded so far."""
        return round(sum(float(e["seconds"]) for e in self.exchanges), 3)

    def finish(self) -> None:
        """Write the cassette, unless a request failed: a broken run never replaces a good recording."""
        if not self.failed:
            write_cassette(self.path, {**self.header, **header_fields()}, self.exchanges)


@dataclass(slots=True)
class ReplayingClient:
    """Answers from a cassette, after checking each request against the recorded one (drift)."""

    cassette: Cassette
    sampling: Mapping[str, Any]
    codec: RequestCodec
    source: Source = "replayed"
    turn: int = 0
    """Requests answered so far."""

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec]) -> AssistantTurn:
        """The recorded answer of this turn; raises CassetteError on the first difference."""
        exchanges, turn = self.cassette.exchanges, self.turn + 1
        if turn > len(exchanges):
            ended = f"the run asks for turn {turn}; the recording ended after turn {len(exchanges)}"
            self._drift(turn, ended)
        exchange = exchanges[turn - 1]
        self.codec.encode(messages)
        clean_system, clean_tools, digest = self.codec.request(self.sampling, system, tools)
        # The hash alone is not trusted: a request edited by hand keeps the hash it was recorded with.
        same = exchange.system == clean_system and exchange.tools == clean_tools
        if digest != exchange.hash or not same or list(exchange.messages) != self.codec.messages:
            self._drift(turn, self._difference(exchange, clean_system, clean_tools, digest), exchange.line)
        self.turn = turn
        return turn_from_data(map_text(turn_data(exchange.answer), self.codec.normaliser.paths_in))

    def _difference(self, exchange: Exchange, system: str, tools: list[Any], digest: str) -> str:
        """The first field in which the run's request differs from the recorded one (only on a mismatch)."""
        now = {"sampling": self.sampling, "system": system, "tools": tools}
        sampling = self.cassette.header.get("sampling")
        recorded = {"sampling": sampling if isinstance(sampling, dict) else {}, "system": exchange.system}
        recorded["tools"] = exchange.tools
        problem = first_difference(
            recorded, now, recorded_messages=exchange.messages, messages=self.codec.messages
        )
        if problem is not None:
            return problem
        if digest != exchange.hash:
            return "the request's hash differs, every field matches (edited by hand?)"
        return "the recorded request differs from the run's, its hash does not (edited by hand?)"

    def _drift(self, turn: int, problem: str, line: int | None = None) -> None:
        """Raise the drift at `turn`, naming the cassette (and the line of the exchange it differs from)."""
        where = f"{self.cassette.path}" if line is None else f"{self.cassette.path}:{line}"
        raise CassetteError(f"{where}: cassette drift at turn {turn}: {problem} — {RERECORD}")

    @property
    def recorded_seconds(self) -> float:
        """The model's time in the recorded run."""
        return round(self.cassette.seconds, 3)

    def finish(self) -> None:
        """Raise CassetteError when the run ended before the recording did."""
        recorded = len(self.cassette.exchanges)
        if self.turn < recorded:
            problem = f"the run ended after turn {self.turn}; the recording goes on to turn {recorded}"
            self._drift(self.turn + 1, problem, self.cassette.exchanges[self.turn].line)


def open_recording(
    live: AbstractAsyncContextManager[ModelClient], path: Path, header: dict[str, Any], codec: RequestCodec
) -> AbstractAsyncContextManager[RecordingClient]:
    """The live client, recording into `path` (written by `finish()`, after a run that completed)."""
    return _recording(live, path, header, codec)


@asynccontextmanager
async def _recording(
    live: AbstractAsyncContextManager[ModelClient], path: Path, header: dict[str, Any], codec: RequestCodec
) -> AsyncIterator[RecordingClient]:
    async with live as client:
        yield RecordingClient(client, path, header, codec)


def finish(client: object) -> None:
    """After a run completed: write its cassette, or check it used all of one; nothing for a live client."""
    if isinstance(client, RecordingClient | ReplayingClient):
        client.finish()


def provenance(client: object) -> Provenance:
    """The record's `source` and `recorded_seconds` (the model's recorded time; None for a live run)."""
    if isinstance(client, RecordingClient | ReplayingClient):
        return {"source": client.source, "recorded_seconds": client.recorded_seconds}
    return {"source": "live", "recorded_seconds": None}
