"""Benchmark: what the harness itself costs, with the model taken out.

* server start: spawning the reference MCP server over stdio and completing the
  handshake (the time every run pays before its first model request);
* per tool call: a scripted in-process model asks for one tool per turn, so a turn's
  wall time is the loop's bookkeeping plus the MCP round trip over stdio — the
  overhead the harness adds to each tool call a real model makes.

Run: python bench/bench_loop.py [--starts 10] [--calls 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import anyio

from pytest_specbench.agent.loop import Limits, run_agent
from pytest_specbench.agent.tools import RunPaths, Transport, open_tool_session
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.config.settings import BriefConfig
from pytest_specbench.testing import Reply, ScriptedClient, call

CODEBASE = Path(__file__).resolve().parent.parent / "evals" / "codebases" / "todo-app"


def paths_in(root: Path) -> RunPaths:
    workspace = root / "workspace"
    workspace.mkdir(parents=True)
    return RunPaths(workspace, workspace / "specs", CODEBASE)


async def one_start(root: Path, transport: Transport) -> float:
    brief = BriefConfig(id="bench", codebase=CODEBASE, prompt="")
    started = time.perf_counter()
    async with open_tool_session(brief, paths_in(root), transport, timeout_s=30) as tools:
        await tools.list_tools()
        elapsed = time.perf_counter() - started
    return elapsed


def script(calls: int) -> list[Reply]:
    """Alternate a write and a read so the server does real work on each call."""
    steps = []
    for i in range(calls):
        if i % 2 == 0:
            steps.append(Reply(tool_calls=[call("create_feature", title=f"Feature {i}", description="d")]))
        else:
            steps.append(Reply(tool_calls=[call("read_file", path="todo/cli.py", limit=40)]))
    return [*steps, Reply.final("done")]


async def one_loop(root: Path, calls: int, transport: Transport) -> tuple[Transcript, float]:
    brief = BriefConfig(id="bench", codebase=CODEBASE, prompt="")
    transcript = Transcript()
    async with open_tool_session(brief, paths_in(root), transport, timeout_s=30) as tools:
        limits = Limits(max_turns=calls + 1, timeout_s=600)
        client = ScriptedClient(script(calls))
        started = time.perf_counter()
        await run_agent(client, tools, system="", prompt="", limits=limits, transcript=transcript)
        wall = time.perf_counter() - started
    return transcript, wall


def report(name: str, samples: list[float], unit: float, label: str) -> str:
    scaled = sorted(s * unit for s in samples)
    p90 = scaled[int(len(scaled) * 0.9) - 1]
    return f"{name}: median {statistics.median(scaled):.2f} {label}, p90 {p90:.2f} {label}, n={len(scaled)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for transport in Transport:
            runs = range(args.starts)
            starts = [anyio.run(one_start, root / f"s-{transport}-{i}", transport) for i in runs]
            print(report(f"server start ({transport})", starts, 1, "s"))
        for transport in Transport:
            transcript, wall = anyio.run(one_loop, root / f"loop-{transport}", args.calls, transport)
            turns = transcript.assistant_turns()[:-1]
            calls = transcript.tool_calls()
            per_call = [t.seconds + c.seconds for t, c in zip(turns, calls, strict=True)]
            print(report(f"loop + MCP per tool call ({transport})", per_call, 1000, "ms"))
            print(report(f"MCP round trip alone ({transport})", [c.seconds for c in calls], 1000, "ms"))
            print(f"whole loop wall time / tool calls ({transport}): {wall / len(calls) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
