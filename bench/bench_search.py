"""Benchmark: the reference server's search_code against `grep -rIEn` on the same real tree.

The tree is a copy of the installed `anthropic` SDK's source (no `__pycache__`), a real
repository nobody here wrote. For each pattern it times, interleaved round by round so a
drifting machine load hits all alike:

* grep: `grep -rIEn PATTERN TREE` as a subprocess (wall, and its CPU from getrusage);
* before: the search as it was before the index (walk and read every file at every call),
  the oracle kept in tests/server/test_search_index.py;
* after, first: a fresh `Codebase`'s first search (it builds the index);
* after: a search on a `Codebase` that has searched before (the index reused).

It prints medians and the ratios to grep measured in the same run, and the load average.

Run: python bench/bench_search.py [--rounds 7] [--tree DIR]
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import anthropic

from pytest_specbench.server.codebase import Codebase

ORACLE = Path(__file__).resolve().parent.parent / "tests" / "server" / "test_search_index.py"
PATTERNS = ["zq-no-such-thing-xj", r"zq_no_such_\w+_xj", r"def\s+__init__", "ANTHROPIC_API_KEY"]
"""No match (every file scanned) for a word and for a regex, many matches (stops at
max_results), a few matches."""


def old_search() -> Callable[[Codebase, str], str]:
    spec = importlib.util.spec_from_file_location("search_oracle", ORACLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.old_search_code  # type: ignore[no-any-return]


def copy_sdk(into: Path) -> Path:
    tree = into / "anthropic"
    shutil.copytree(Path(anthropic.__file__).parent, tree, ignore=shutil.ignore_patterns("__pycache__"))
    return tree


def grep(tree: Path, pattern: str) -> tuple[float, float]:
    """Wall and CPU seconds of one `grep -rIEn`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(["grep", "-rIEn", pattern, str(tree)], stdout=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def first_search(tree: Path, pattern: str) -> str:
    return Codebase(tree).search_code(pattern)


def timed(action: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of `action()` in this process."""
    started, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tree", type=Path, help="search this tree instead of a copy of the SDK")
    args = parser.parse_args()
    old = old_search()
    with tempfile.TemporaryDirectory() as tmp:
        tree = args.tree or copy_sdk(Path(tmp))
        files = sum(1 for p in tree.rglob("*") if p.is_file())
        print(f"tree {tree.name}: {files} files; load average at start {os.getloadavg()[0]:.1f}")
        warm = Codebase(tree)
        for pattern in PATTERNS:
            assert warm.search_code(pattern) == old(warm, pattern)  # and builds warm's index
        for pattern in PATTERNS:
            rows: dict[str, list[tuple[float, float]]] = {"grep": [], "before": [], "first": [], "after": []}
            for _ in range(args.rounds):
                rows["grep"].append(grep(tree, pattern))
                rows["before"].append(timed(functools.partial(old, warm, pattern)))
                rows["first"].append(timed(functools.partial(first_search, tree, pattern)))
                rows["after"].append(timed(functools.partial(warm.search_code, pattern)))
            report(pattern, rows)
        print(f"load average at end {os.getloadavg()[0]:.1f}")


def report(pattern: str, rows: dict[str, list[tuple[float, float]]]) -> None:
    wall = {name: statistics.median(w for w, _ in times) for name, times in rows.items()}
    cpu = {name: statistics.median(c for _, c in times) for name, times in rows.items()}
    cells = [
        f"{name} {wall[name] * 1000:7.1f} ms (×{wall[name] / wall['grep']:.2f} grep;"
        f" CPU {cpu[name] * 1000:.1f} ms, ×{cpu[name] / cpu['grep']:.2f})"
        for name in rows
        if name != "grep"
    ]
    print(
        f"{pattern!r}: grep {wall['grep'] * 1000:.1f} ms (CPU {cpu['grep'] * 1000:.1f} ms); "
        + "; ".join(cells)
    )


if __name__ == "__main__":
    main()
