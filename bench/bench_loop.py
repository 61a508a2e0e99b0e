"""Benchmark: what the harness adds to each tool call, on the path a run takes.

The real path is `run_agent` with redaction on both sides (`RedactingClient`,
`RedactingTools`) and loop detection after every turn (`loop_stop`), driven by a
zero-latency scripted model that asks for one tool per turn. Its baseline, measured
in the same run over the same transport, is the raw `mcp` client making the same
calls back to back. For each run length it prints:

* overhead per call: (real wall - raw wall) / calls, the harness's own cost;
* flatness: median per-call time of the last 10 % of calls / the first 10 %;
* the loop part of a 200-call run (the stand-in for a 200-turn replay).

It also times the reference server's start over each transport.

Run: python bench/bench_loop.py [--sizes 50,200,800] [--repeats 3] [--starts 5]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio

from pytest_specbench.agent.loop import Limits, run_agent
from pytest_specbench.agent.tools import RunPaths, Transport, open_tool_session
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.config.settings import BriefConfig
from pytest_specbench.models.types import AssistantTurn, Message, ToolSpec
from pytest_specbench.redact import RedactingClient, RedactingTools, Redactor
from pytest_specbench.testing import Reply, ScriptedClient, call
from pytest_specbench.verdicts.loops import loop_stop

CODEBASE = Path(__file__).resolve().parent.parent / "evals" / "codebases" / "todo-app"
BRIEF = BriefConfig(id="bench", codebase=CODEBASE, prompt="")
SECRET = "bench-secret-value-0123456789"
"""A configured key, so that redaction does the work of a real session."""


def paths_in(root: Path) -> RunPaths:
    workspace = root / "workspace"
    workspace.mkdir(parents=True)
    return RunPaths(workspace, workspace / "specs", CODEBASE)


def script(calls: int) -> list[Reply]:
    """Alternate a write and a read so the server does real work on each call."""
    steps = []
    for i in range(calls):
        if i % 2 == 0:
            steps.append(Reply(tool_calls=[call("create_feature", title=f"Feature {i}", description="d")]))
        else:
            steps.append(Reply(tool_calls=[call("read_file", path="todo/cli.py", limit=40)]))
    return [*steps, Reply.final("done")]


class TimedClient(ScriptedClient):
    """The scripted model, noting when each request arrives: the gaps are the per-call times."""

    def __init__(self, steps: Sequence[Reply]) -> None:
        super().__init__(steps)
        self.stamps: list[float] = []

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec]) -> AssistantTurn:
        self.stamps.append(time.perf_counter())
        return await super().generate(system, messages, tools)


@dataclass(frozen=True)
class Sample:
    wall: float
    per_call: list[float]


async def real_path(root: Path, calls: int, transport: Transport) -> Sample:
    redactor = Redactor([SECRET])
    client = TimedClient(script(calls))
    async with open_tool_session(BRIEF, paths_in(root), transport, timeout_s=30, redact=redactor) as tools:
        started = time.perf_counter()
        await run_agent(
            RedactingClient(client, redactor),
            RedactingTools(tools, redactor),
            system="",
            prompt="",
            limits=Limits(max_turns=calls + 1, timeout_s=600),
            transcript=Transcript(),
            stop_when=loop_stop(5),
        )
        wall = time.perf_counter() - started
    return Sample(wall, [b - a for a, b in itertools.pairwise(client.stamps)])


async def raw_mcp(root: Path, calls: int, transport: Transport) -> Sample:
    steps = script(calls)[:-1]
    async with open_tool_session(BRIEF, paths_in(root), transport, timeout_s=30) as tools:
        stamps = [time.perf_counter()]
        for step in steps:
            scripted = step.tool_calls[0]
            await tools.client.call_tool(scripted.name, dict(scripted.arguments))
            stamps.append(time.perf_counter())
    return Sample(stamps[-1] - stamps[0], [b - a for a, b in itertools.pairwise(stamps)])


def flatness(per_call: list[float]) -> float:
    tenth = max(len(per_call) // 10, 1)
    return statistics.median(per_call[-tenth:]) / statistics.median(per_call[:tenth])


async def one_start(root: Path, transport: Transport) -> float:
    started = time.perf_counter()
    async with open_tool_session(BRIEF, paths_in(root), transport, timeout_s=30) as tools:
        await tools.list_tools()
        return time.perf_counter() - started


def compare(root: Path, calls: int, transport: Transport, repeats: int) -> None:
    overheads, flat_real, flat_raw, walls = [], [], [], []
    for r in range(repeats):
        raw = anyio.run(raw_mcp, root / f"raw-{transport}-{calls}-{r}", calls, transport)
        real = anyio.run(real_path, root / f"real-{transport}-{calls}-{r}", calls, transport)
        overheads.append((real.wall - raw.wall) / calls * 1000)
        flat_real.append(flatness(real.per_call))
        flat_raw.append(flatness(raw.per_call))
        walls.append((real.wall, raw.wall))
    real_wall = statistics.median(w for w, _ in walls)
    raw_wall = statistics.median(w for _, w in walls)
    print(
        f"{transport:6} {calls:4} calls: real {real_wall * 1000 / calls:6.2f} ms/call,"
        f" raw mcp {raw_wall * 1000 / calls:6.2f} ms/call,"
        f" overhead {statistics.median(overheads):+6.2f} ms/call;"
        f" flatness last/first 10 %: real x{statistics.median(flat_real):.2f},"
        f" raw x{statistics.median(flat_raw):.2f}; real wall {real_wall:.3f} s (median of {repeats})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200,800")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--transports", default="memory,stdio")
    args = parser.parse_args()
    transports = [Transport(t) for t in args.transports.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for transport in transports:
            runs = range(args.starts)
            starts = [anyio.run(one_start, root / f"s-{transport}-{i}", transport) for i in runs]
            print(f"server start ({transport}): median {statistics.median(starts):.3f} s, n={len(starts)}")
        for transport in transports:
            for calls in (int(n) for n in args.sizes.split(",")):
                compare(root, calls, transport, args.repeats)


if __name__ == "__main__":
    main()
