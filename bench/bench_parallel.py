"""Benchmark: parallel runs with a slow model, per transport of the reference server.

A suite of R runs (one scripted model each, so each gets its own delays) of T requests
each, every answer delayed by the loopback FakeProvider, runs under `pytest -n N` for each
N and each transport. It prints, per N and transport:

* efficiency: the ideal wall time (R / N runs per worker × T × delay) over the measured one,
  and over the measured one less the session's own start (`--collect-only` with N workers);
* CPU per run outside the model: the worker's and its children's CPU from a run's setup to
  its teardown (the model's wait is a sleep in this process, so it costs the worker nothing),
  median over each worker's runs after its first (which also imports the SDKs, once);
* peak RSS per worker, and of the largest child (a stdio server) if any.

Run: python bench/bench_parallel.py [--workers 2,4,8] [--runs 16] [--requests 10] [--delay 1.5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_specbench.testing import FakeProvider, Fault, Reply, call

# Installed in the suite: each worker notes each run's CPU and, at the end, its peak RSS.
CONFTEST = """
import json, os, resource, pytest

def _cpu():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    started = _cpu()
    try:
        return (yield)
    finally:
        with open(os.environ["BENCH_OUT"], "a") as out:
            out.write(json.dumps({"cpu": _cpu() - started, "pid": os.getpid()}) + "\\n")

def pytest_sessionfinish(session):
    if hasattr(session.config, "workerinput"):
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        note = {"rss_mb": own.ru_maxrss / 1024, "child_rss_mb": kids.ru_maxrss / 1024}
        with open(os.environ["BENCH_OUT"], "a") as out:
            out.write(json.dumps(note) + "\\n")
"""

TEST = """
def test_spec(spec_run):
    assert spec_run.transcript.stop is not None
"""


def script(requests: int, delay: float) -> list[Reply]:
    wait = [Fault(kind="delay", seconds=delay)]
    steps = [
        Reply(tool_calls=[call("read_file", path="app.py")], faults=wait)
        if i % 2
        else Reply(tool_calls=[call("create_feature", title=f"Feature {i}", description="d")], faults=wait)
        for i in range(requests - 1)
    ]
    return [*steps, Reply(text="Done.", faults=wait)]


def write_suite(root: Path, provider: FakeProvider, runs: int, requests: int, delay: float) -> None:
    codebase = root / "codebase"
    codebase.mkdir()
    (codebase / "app.py").write_text("def add_note(text):\n    return text.strip()\n")
    tables = ['[briefs.notes]\ncodebase = "codebase"\nprompt = "Specify this app."\n']
    for i in range(runs):
        name = f"scripted-{root.name}-{i}"
        provider.script(name, script(requests, delay))
        tables.append(
            f'[models.m{i}]\nprovider = "openai"\nmodel = "{name}"\nbase_url = "{provider.openai_base_url}"\n'
        )
    text = f"[defaults]\nmax_turns = {requests + 1}\nstop_on_loop = false\n\n" + "\n".join(tables)
    (root / "specbench.toml").write_text(text)
    (root / "pytest.ini").write_text("[pytest]\nspecbench_config = specbench.toml\n")
    (root / "conftest.py").write_text(CONFTEST)
    (root / "test_bench_specs.py").write_text(TEST)


def session(root: Path, workers: int, transport: str, *extra: str) -> tuple[float, list[dict[str, float]]]:
    out = root / "out.jsonl"
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
    argv += ["-n", str(workers), f"--specbench-transport={transport}", "test_bench_specs.py", *extra]
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=root, env={**os.environ, "BENCH_OUT": str(out)}, capture_output=True)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 5):  # 5: nothing ran (--collect-only)
        raise SystemExit(done.stdout.decode()[-3000:])
    lines = out.read_text().splitlines() if out.exists() else []
    return wall, [json.loads(line) for line in lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="2,4,8")
    parser.add_argument("--transports", default="stdio,memory")
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--delay", type=float, default=1.5)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with FakeProvider() as provider, tempfile.TemporaryDirectory() as tmp:
        for workers in (int(n) for n in args.workers.split(",")):
            ideal = -(-args.runs // workers) * args.requests * args.delay
            for transport in args.transports.split(","):
                root = Path(tmp) / f"n{workers}-{transport}"
                root.mkdir()
                write_suite(root, provider, args.runs, args.requests, args.delay)
                start, _ = session(root, workers, transport, "--collect-only")
                wall, notes = session(root, workers, transport)
                runs = [n for n in notes if "cpu" in n]
                # A worker's first run also imports the SDKs (once per worker, any transport).
                firsts = {n["pid"]: n for n in reversed(runs)}.values()
                later = [n["cpu"] for n in runs if all(n is not f for f in firsts)]
                cpu = later or [n["cpu"] for n in runs]
                first = statistics.median(f["cpu"] for f in firsts)
                rss = [n["rss_mb"] for n in notes if "rss_mb" in n]
                child = [n["child_rss_mb"] for n in notes if "child_rss_mb" in n]
                print(
                    f"-n {workers} {transport:6}: wall {wall:6.1f} s, ideal {ideal:5.1f} s,"
                    f" efficiency {ideal / wall:.2f} ({ideal / (wall - start):.2f} without the"
                    f" {start:.1f} s session start); CPU per run median {statistics.median(cpu):.3f} s"
                    f" (n={len(cpu)}, first run per worker {first:.2f} s);"
                    f" peak RSS per worker max {max(rss):.0f} MB,"
                    f" largest child {max(child):.0f} MB"
                )


if __name__ == "__main__":
    main()
