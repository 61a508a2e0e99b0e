"""Benchmark: what the harness adds to each tool call, on the path a run takes.

Times are CPU (`time.process_time`: every thread of this process, so the in-process
server's too, and the same in both paths), which a shared, loaded machine disturbs far
less than wall time; wall times are printed beside them.

The real path is `run_agent` with redaction on both sides (`RedactingClient`,
`RedactingTools`) and loop detection after every turn (`loop_stop`), driven by a
zero-latency scripted model that asks for one tool per turn. Its baseline, measured
in the same run over the same transport, is the raw `mcp` client making the same
calls back to back. For each run length it prints:

* overhead per call: (real CPU - raw CPU) / calls, the harness's own cost;
* flatness: median per-call CPU of the last 10 % of calls / the first 10 %;
* the loop part of a 200-call run (the stand-in for a 200-turn replay).

It also times the reference server's start over each transport.

Run: python bench/bench_loop.py [--sizes 50,200,800] [--repeats 3] [--starts 5]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
import time
from collections.abc import Iterable, Sequence
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
        self.stamps.append(time.process_time())
        return await super().generate(system, messages, tools)


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    per_call: list[float]
    """CPU seconds of each call."""


async def real_path(root: Path, calls: int, transport: Transport) -> Sample:
    redactor = Redactor([SECRET])
    client = TimedClient(script(calls))
    async with open_tool_session(BRIEF, paths_in(root), transport, timeout_s=30, redact=redactor) as tools:
        started, cpu = time.perf_counter(), time.process_time()
        await run_agent(
            RedactingClient(client, redactor),
            RedactingTools(tools, redactor),
            system="",
            prompt="",
            limits=Limits(max_turns=calls + 1, timeout_s=600),
            transcript=Transcript(),
            stop_when=loop_stop(5),
        )
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Sample(wall, cpu, [b - a for a, b in itertools.pairwise(client.stamps)])


async def raw_mcp(root: Path, calls: int, transport: Transport) -> Sample:
    steps = script(calls)[:-1]
    async with open_tool_session(BRIEF, paths_in(root), transport, timeout_s=30) as tools:
        started, stamps = time.perf_counter(), [time.process_time()]
        for step in steps:
            scripted = step.tool_calls[0]
            await tools.client.call_tool(scripted.name, dict(scripted.arguments))
            stamps.append(time.process_time())
        wall = time.perf_counter() - started
    return Sample(wall, stamps[-1] - stamps[0], [b - a for a, b in itertools.pairwise(stamps)])


def flatness(per_call: list[float]) -> float:
    tenth = max(len(per_call) // 10, 1)
    return statistics.median(per_call[-tenth:]) / statistics.median(per_call[:tenth])


async def one_start(root: Path, transport: Transport) -> float:
    started = time.perf_counter()
    async with open_tool_session(BRIEF, paths_in(root), transport, timeout_s=30) as tools:
        await tools.list_tools()
        return time.perf_counter() - started


def compare(root: Path, calls: int, transport: Transport, repeats: int) -> None:
    reals, raws = [], []
    for r in range(repeats):
        raws.append(anyio.run(raw_mcp, root / f"raw-{transport}-{calls}-{r}", calls, transport))
        reals.append(anyio.run(real_path, root / f"real-{transport}-{calls}-{r}", calls, transport))

    def median(values: Iterable[float]) -> float:
        return statistics.median(values)

    real_cpu, raw_cpu = (
        median(s.cpu for s in reals) * 1000 / calls,
        median(s.cpu for s in raws) * 1000 / calls,
    )
    real_wall, raw_wall = median(s.wall for s in reals), median(s.wall for s in raws)
    print(
        f"{transport:6} {calls:4} calls: CPU real {real_cpu:5.2f} ms/call, raw mcp {raw_cpu:5.2f} ms/call,"
        f" overhead {real_cpu - raw_cpu:+5.2f} ms/call; flatness last/first 10 %:"
        f" real x{median(flatness(s.per_call) for s in reals):.2f},"
        f" raw x{median(flatness(s.per_call) for s in raws):.2f};"
        f" wall real {real_wall:.3f} s, raw {raw_wall:.3f} s (medians of {repeats})"
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
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        for transport in transports:
            for calls in (int(n) for n in args.sizes.split(",")):
                compare(root, calls, transport, args.repeats)


if __name__ == "__main__":
    main()
