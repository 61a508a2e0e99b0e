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

Run: python bench/bench_parallel.py [--workers 2,4,8,auto] [--runs 16] [--requests 10] [--delay 1.5]
     [--transports stdio,memory] [--timeline] [--extra 'PYTEST ARGS']
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
from typing import Any

from pytest_specbench.testing import FakeProvider, Fault, Reply, call

# Installed in the suite: each worker notes each run's CPU and, at the end, its peak RSS.
CONFTEST = """
import json, os, resource, time, pytest

def _cpu():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

def _note(**fields):
    with open(os.environ["BENCH_OUT"], "a") as out:
        out.write(json.dumps({"pid": os.getpid(), "t": time.time(), "cpu_now": _cpu(), **fields}) + "\\n")

def _started():
    # The process's start, from /proc: the CPU and time before this conftest was imported.
    with open("/proc/stat") as stat:
        boot = next(float(line.split()[1]) for line in stat if line.startswith("btime"))
    with open(f"/proc/{os.getpid()}/stat") as stat:
        ticks = float(stat.read().rpartition(")")[2].split()[19])
    return boot + ticks / os.sysconf("SC_CLK_TCK")

_note(phase="conftest", spawned=_started())

def pytest_collection_finish(session):
    _note(phase="collected")

@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    started, at = _cpu(), time.time()
    try:
        return (yield)
    finally:
        _note(cpu=_cpu() - started, start=at)

@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config):
    if not hasattr(config, "workerinput"):
        _note(phase="unconfigure")

@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        _note(phase="sessionfinish")
    else:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        _note(phase="finish", rss_mb=own.ru_maxrss / 1024, child_rss_mb=kids.ru_maxrss / 1024)
"""

FREEZE = """
import gc

@pytest.hookimpl(trylast=True, specname="pytest_unconfigure")
def _freeze(config):
    gc.freeze()  # the process is about to end: its last collections need not walk the heap
"""
"""With --gc-freeze: what a worker's exit costs once the last collections skip the heap."""

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


def write_suite(
    root: Path, provider: FakeProvider, runs: int, requests: int, delay: float, *, freeze: bool = False
) -> None:
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
    (root / "conftest.py").write_text(CONFTEST + (FREEZE if freeze else ""))
    (root / "test_bench_specs.py").write_text(TEST)


Notes = list[dict[str, Any]]


def session(root: Path, workers: str, transport: str, *extra: str) -> tuple[float, float, Notes]:
    """Wall seconds, the epoch it started at, and the notes the conftest wrote."""
    out = root / "out.jsonl"
    out.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
    argv += ["-n", workers, f"--specbench-transport={transport}", "test_bench_specs.py", *extra]
    begun, started = time.time(), time.perf_counter()
    done = subprocess.run(argv, cwd=root, env={**os.environ, "BENCH_OUT": str(out)}, capture_output=True)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 5):  # 5: nothing ran (--collect-only)
        raise SystemExit(done.stdout.decode()[-3000:])
    lines = out.read_text().splitlines() if out.exists() else []
    return wall, begun, [json.loads(line) for line in lines]


def timeline(begun: float, wall: float, notes: Notes) -> str:
    """A worker's life in phases, median (max) over the workers, from the session's start."""
    workers = {n["pid"] for n in notes if "cpu" in n}
    phases: dict[str, list[float]] = {}
    for pid in workers:
        mine = [n for n in notes if n["pid"] == pid]
        boot = next(n for n in mine if n.get("phase") == "conftest")
        collected = next(n for n in mine if n.get("phase") == "collected")
        runs = sorted((n for n in mine if "cpu" in n), key=lambda n: n["start"])
        finish = next(n for n in mine if n.get("phase") == "finish")
        for name, value in {
            "spawned at": boot["spawned"] - begun,
            "start-up (to conftest)": boot["t"] - boot["spawned"],
            "start-up CPU": boot["cpu_now"],
            "collection": collected["t"] - boot["t"],
            "wait for first item": runs[0]["start"] - collected["t"],
            "first run CPU": runs[0]["cpu"],
            "first run wall": runs[0]["t"] - runs[0]["start"],
            "later runs wall": statistics.median(r["t"] - r["start"] for r in runs[1:] or runs),
            "CPU outside runs": finish["cpu_now"] - sum(r["cpu"] for r in runs),
            "last run ends at": runs[-1]["t"] - begun,
            "finish note after the last run": finish["t"] - runs[-1]["t"],
            "session end after the last run": begun + wall - runs[-1]["t"],
        }.items():
            phases.setdefault(name, []).append(value)
    controller = [n for n in notes if n.get("phase") == "conftest" and n["pid"] not in workers]
    cells = [f"{name} {statistics.median(v):.2f} ({max(v):.2f})" for name, v in phases.items()]
    if controller:
        boot = controller[0]
        cells.insert(0, f"controller start-up {boot['t'] - begun:.2f} s, CPU {boot['cpu_now']:.2f}")
        # Its sessionfinish comes before xdist's, which waits for the workers to exit.
        own = [n for n in notes if n["pid"] == boot["pid"]]
        ends = [n for n in own if n.get("phase") in ("sessionfinish", "unconfigure")]
        cells += [f"controller {n['phase']} at {n['t'] - begun:.2f}" for n in ends]
    return f"    {len(workers)} workers, s, median (max): " + "; ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="2,4,8,auto")
    parser.add_argument("--transports", default="stdio,memory")
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--delay", type=float, default=1.5)
    parser.add_argument("--timeline", action="store_true", help="also print each phase of a worker's life")
    parser.add_argument("--extra", default="", help="more pytest arguments, e.g. '-p no:hypothesispytest'")
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() as each process unconfigures")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with FakeProvider() as provider, tempfile.TemporaryDirectory() as tmp:
        for workers in args.workers.split(","):
            for transport in args.transports.split(","):
                root = Path(tmp) / f"n{workers}-{transport}"
                root.mkdir()
                write_suite(root, provider, args.runs, args.requests, args.delay, freeze=args.gc_freeze)
                extra = args.extra.split()
                start, _, _ = session(root, workers, transport, "--collect-only", *extra)
                wall, begun, notes = session(root, workers, transport, *extra)
                runs = [n for n in notes if "cpu" in n]
                started = len({n["pid"] for n in runs})
                ideal = -(-args.runs // started) * args.requests * args.delay
                # A worker's first run also imports the SDKs (once per worker, any transport).
                firsts = {n["pid"]: n for n in sorted(runs, key=lambda n: -n["start"])}.values()
                later = [n["cpu"] for n in runs if all(n is not f for f in firsts)]
                cpu = later or [n["cpu"] for n in runs]
                first = statistics.median(f["cpu"] for f in firsts)
                rss = [n["rss_mb"] for n in notes if "rss_mb" in n]
                child = [n["child_rss_mb"] for n in notes if "child_rss_mb" in n]
                print(
                    f"-n {workers} ({started} workers) {transport:6}: wall {wall:6.1f} s,"
                    f" ideal {ideal:5.1f} s,"
                    f" efficiency {ideal / wall:.2f} ({ideal / (wall - start):.2f} without the"
                    f" {start:.1f} s session start); CPU per run median {statistics.median(cpu):.3f} s"
                    f" (n={len(cpu)}, first run per worker {first:.2f} s);"
                    f" peak RSS per worker max {max(rss):.0f} MB,"
                    f" largest child {max(child):.0f} MB; load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
                if args.timeline:
                    print(timeline(begun, wall, notes), flush=True)


if __name__ == "__main__":
    main()
