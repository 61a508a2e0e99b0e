"""Benchmark: what giving each run its own copy of the codebase costs (`RunPaths.create`).

Measured on the example codebase and on a generated one of ~5,000 files (a mid-sized
repository: 250 directories of 20 source files of 1-8 KiB). The baseline, measured in the
same run, is one stdio start of the reference server, which every run pays anyway.

Run: python bench/bench_codebase_copy.py [--files 5000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import anyio

from pytest_specbench._files import copy_tree
from pytest_specbench.agent.tools import RunPaths, Transport, open_tool_session
from pytest_specbench.config.settings import BriefConfig

EXAMPLE = Path(__file__).resolve().parent.parent / "evals" / "codebases" / "todo-app"


def generate(root: Path, files: int) -> Path:
    rng = random.Random(14)
    per_dir = 20
    for index in range(files):
        directory = root / f"pkg{index // per_dir // 10}" / f"mod{index // per_dir}"
        directory.mkdir(parents=True, exist_ok=True)
        line = f"def f{index}(x):\n    return x + {index}\n"
        (directory / f"file{index}.py").write_text(line * (rng.randint(1024, 8192) // len(line)))
    return root


def time_copies(source: Path, scratch: Path, repeat: int) -> list[float]:
    times = []
    for n in range(repeat):
        started = time.perf_counter()
        copy_tree(source, scratch / f"copy{n}")
        times.append(time.perf_counter() - started)
    return times


def time_server_starts(scratch: Path, repeat: int) -> list[float]:
    brief = BriefConfig(id="bench", codebase=EXAMPLE, prompt="")

    async def one(n: int) -> float:
        workspace = scratch / f"ws{n}"
        workspace.mkdir()
        started = time.perf_counter()
        async with open_tool_session(
            brief, RunPaths(workspace, workspace / "specs", EXAMPLE), Transport.STDIO, 30
        ):
            return time.perf_counter() - started

    return [anyio.run(one, n) for n in range(repeat)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        big = generate(scratch / "big", args.files)
        size = sum(p.stat().st_size for p in big.rglob("*") if p.is_file()) / 2**20
        example = sum(1 for p in EXAMPLE.rglob("*") if p.is_file())
        baseline = statistics.median(time_server_starts(scratch, args.repeat))
        rows = [
            (
                f"copy of the example codebase ({example} files)",
                time_copies(EXAMPLE, scratch / "e", args.repeat),
            ),
            (f"copy of {args.files} files ({size:.1f} MiB)", time_copies(big, scratch / "b", args.repeat)),
        ]
        print(f"baseline: reference server start over stdio, median {baseline * 1000:.1f} ms")
        for label, times in rows:
            median = statistics.median(times)
            ratio = median / baseline
            print(f"{label}: median {median * 1000:.1f} ms; max {max(times) * 1000:.1f} ms; {ratio:.2f}×")


if __name__ == "__main__":
    main()
