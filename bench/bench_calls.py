"""Benchmark: the harness's own cost per tool call against the wire floor, 100 vs 800 calls.

The real path is a run as a session makes it: `run_agent` with the OpenAI adapter talking to
the loopback FakeProvider, redaction on both sides, loop detection after every turn, and the
reference server in-process; the scripted model asks for one tool per turn (a write and a
read, alternating). The wire floor, measured in the same run, posts the very request bodies
the real path sent (recorded by the FakeProvider) as raw HTTP on one kept-alive connection:
no SDK, no harness, no MCP, just the protocol resending the history each turn.

Overhead per call = (real - floor) / calls, in CPU (`time.process_time`: every thread, so the
FakeProvider's and the in-process server's too) and in wall time. The target is that the
overhead per call of an 800-call run is at most x1.5 that of a 100-call run.

Run: python bench/bench_calls.py [--sizes 100,800] [--repeats 3]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from pytest_specbench.agent.loop import Limits, run_agent
from pytest_specbench.agent.tools import RunPaths, Transport, open_tool_session
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.config.settings import BriefConfig, ModelConfig, Provider, RunSettings
from pytest_specbench.models import open_client
from pytest_specbench.redact import RedactingClient, RedactingTools, Redactor
from pytest_specbench.testing import FakeProvider, Reply, call
from pytest_specbench.verdicts.loops import loop_stop

CODEBASE = Path(__file__).resolve().parent.parent / "evals" / "codebases" / "todo-app"
BRIEF = BriefConfig(id="bench", codebase=CODEBASE, prompt="")
SECRET = "bench-secret-value-0123456789"
"""A configured key, so that redaction does the work of a real session."""


def script(calls: int) -> list[Reply]:
    steps = [
        Reply(tool_calls=[call("create_feature", title=f"Feature {i}", description="d")])
        if i % 2 == 0
        else Reply(tool_calls=[call("read_file", path="todo/cli.py", limit=40)])
        for i in range(calls)
    ]
    return [*steps, Reply.final("done")]


async def real_path(provider: FakeProvider, root: Path, name: str, calls: int) -> tuple[float, float]:
    """Wall and CPU seconds of a run of `calls` tool calls; the bodies it sent stay in provider.requests."""
    workspace = root / "workspace"
    workspace.mkdir(parents=True)
    paths = RunPaths(workspace, workspace / "specs", CODEBASE)
    model = ModelConfig(id="m", provider=Provider.OPENAI, model=name, base_url=provider.openai_base_url)
    redactor = Redactor([SECRET])
    async with (
        open_tool_session(BRIEF, paths, Transport.MEMORY, timeout_s=30, redact=redactor) as tools,
        open_client(model, RunSettings(), "key") as client,
    ):
        started, cpu = time.perf_counter(), time.process_time()
        stop = await run_agent(
            RedactingClient(client, redactor),
            RedactingTools(tools, redactor),
            system="Write the spec.",
            prompt="Specify this codebase.",
            limits=Limits(max_turns=calls + 1, timeout_s=3600),
            transcript=Transcript(),
            stop_when=loop_stop(5),
        )
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert stop.reason == "final_answer", stop
    return wall, cpu


HEADERS = {"content-type": "application/json", "authorization": "Bearer key"}


def floor(port: int, requests: list[tuple[str, dict[str, Any]]]) -> tuple[float, float]:
    """Wall and CPU seconds of posting `requests` as they were, each answer read in full."""
    bodies = [(path, json.dumps(body).encode()) for path, body in requests]
    connection = http.client.HTTPConnection("127.0.0.1", port)
    started, cpu = time.perf_counter(), time.process_time()
    for path, body in bodies:
        connection.request(
            "POST", path, body, {"content-type": "application/json", "authorization": "Bearer key"}
        )
        response = connection.getresponse()
        json.loads(response.read())
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    connection.close()
    return wall, cpu


def measure(provider: FakeProvider, root: Path, calls: int, repeat: int) -> tuple[float, float, float, float]:
    """Real wall, real CPU, floor wall, floor CPU of one repeat."""
    name = f"calls-{calls}-{repeat}"
    provider.script(name, script(calls))
    before = len(provider.requests)
    wall, cpu = anyio.run(real_path, provider, root / name, name, calls)
    sent = [request for request in provider.requests[before:] if request[1].get("model") == name]
    floor_wall, floor_cpu = floor(provider.port, sent)
    return wall, cpu, floor_wall, floor_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,800")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    overheads: dict[int, tuple[float, float]] = {}
    with FakeProvider() as provider, tempfile.TemporaryDirectory() as tmp:
        samples: dict[int, list[tuple[float, float, float, float]]] = {n: [] for n in sizes}
        for repeat in range(args.repeats):  # sizes interleaved, so a load change hits both alike
            for calls in sizes:
                samples[calls].append(measure(provider, Path(tmp), calls, repeat))
        for calls in sizes:
            wall, cpu, floor_wall, floor_cpu = (
                statistics.median(s[i] for s in samples[calls]) for i in range(4)
            )
            per = 1000 / calls
            overheads[calls] = ((cpu - floor_cpu) * per, (wall - floor_wall) * per)
            print(
                f"{calls:4} calls: real CPU {cpu * per:5.2f} ms/call, floor {floor_cpu * per:5.2f},"
                f" overhead {overheads[calls][0]:5.2f} ms/call; wall real {wall * per:5.2f} ms/call,"
                f" floor {floor_wall * per:5.2f}, overhead {overheads[calls][1]:5.2f}"
                f" (medians of {args.repeats})"
            )
    small, large = overheads[min(sizes)], overheads[max(sizes)]
    print(
        f"overhead per call, {max(sizes)} vs {min(sizes)} calls: CPU x{large[0] / small[0]:.2f},"
        f" wall x{large[1] / small[1]:.2f}; load average at end {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
