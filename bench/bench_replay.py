"""Benchmark: replaying a recorded 200-turn run, against the same run with no cassette.

A scripted in-process model makes one tool call per turn (a write, then a read, in
turn). It is recorded once; then, for each transport (in-memory and stdio), the run is
replayed `--repeats` times and, as the baseline measured in the same process, driven
the same number of times by the scripted model directly. The replay's own cost per turn
is what it adds to the baseline: encoding, normalising, redacting and hashing each
request and checking it against the cassette. Loading the cassette is timed on its own.

Run: python bench/bench_replay.py [--turns 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from bench_loop import CODEBASE, paths_in, script  # the same run as the loop benchmark's

from pytest_specbench import DEFAULT_SYSTEM_PROMPT
from pytest_specbench.agent.loop import Limits, run_agent
from pytest_specbench.agent.tools import RunPaths, Transport, open_tool_session
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.config.settings import BriefConfig, ModelConfig, Provider, RunSettings
from pytest_specbench.models.types import ModelClient
from pytest_specbench.redact import Redactor
from pytest_specbench.replay import cassette_path, load_cassette
from pytest_specbench.replay.clients import RecordingClient, ReplayingClient
from pytest_specbench.replay.codec import Normaliser, RequestCodec, sampling_of
from pytest_specbench.testing import ScriptedClient

MODEL = ModelConfig(id="bench", provider=Provider.OPENAI, model="scripted")
TEST_ID = "test_spec[bench-todo-app]"


def codec(paths: RunPaths) -> RequestCodec:
    return RequestCodec(Normaliser.of(dataclasses.asdict(paths)), Redactor())


async def drive(client: ModelClient, paths: RunPaths, transport: Transport, turns: int) -> float:
    """Wall time of the loop alone (the server already started), for `turns` turns."""
    brief = BriefConfig(id="bench", codebase=CODEBASE, prompt="Specify it.")
    async with open_tool_session(brief, paths, transport, timeout_s=30) as tools:
        limits = Limits(max_turns=turns, timeout_s=600)
        started = time.perf_counter()
        await run_agent(
            client,
            tools,
            system=DEFAULT_SYSTEM_PROMPT,
            prompt="Specify it.",
            limits=limits,
            transcript=Transcript(),
        )
        return time.perf_counter() - started


def record(root: Path, turns: int) -> Path:
    paths = paths_in(root / "record")
    path = cassette_path(root / "cassettes", TEST_ID)
    header = {"test_id": TEST_ID, "sample": 1, "sampling": sampling_of(MODEL, RunSettings())}
    recorder = RecordingClient(ScriptedClient(script(turns - 1)), path, header, codec(paths))
    anyio.run(drive, recorder, paths, Transport.MEMORY, turns)
    recorder.finish()
    return path


def one(root: Path, cassette: Path | None, transport: Transport, turns: int) -> float:
    paths = paths_in(root)
    if cassette is None:
        return anyio.run(drive, ScriptedClient(script(turns - 1)), paths, transport, turns)
    replayer = ReplayingClient(
        load_cassette(cassette, TEST_ID), sampling_of(MODEL, RunSettings()), codec(paths)
    )
    wall = anyio.run(drive, replayer, paths, transport, turns)
    replayer.finish()
    return wall


def timed_load(cassette: Path, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        load_cassette(cassette, TEST_ID)
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cassette = record(root, args.turns)
        size = cassette.stat().st_size
        load = statistics.median(timed_load(cassette, args.repeats))
        print(f"cassette: {args.turns} turns, {size / 1024:.0f} KiB; load median {load * 1000:.1f} ms")
        for transport in Transport:
            walls: dict[str, list[float]] = {"replay": [], "baseline": []}
            for i in range(args.repeats):  # interleaved, so load on the machine hits both alike
                walls["replay"].append(one(root / f"{transport}-r{i}", cassette, transport, args.turns))
                walls["baseline"].append(one(root / f"{transport}-b{i}", None, transport, args.turns))
            report(transport, walls, args.turns, args.repeats)


def report(transport: Any, walls: dict[str, list[float]], turns: int, repeats: int) -> None:
    replay, base = statistics.median(walls["replay"]), statistics.median(walls["baseline"])
    added = (replay - base) / turns * 1000
    print(
        f"{transport}: replay loop median {replay:.3f} s ({replay / turns * 1000:.2f} ms/turn), "
        f"scripted baseline {base:.3f} s; ratio {replay / base:.2f}; replay adds {added:.2f} ms/turn "
        f"(n={repeats} each)"
    )


if __name__ == "__main__":
    main()
