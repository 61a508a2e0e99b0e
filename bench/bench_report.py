"""Benchmark: the HTML report of 50 runs with long transcripts — its size, render and load time.

Records and transcripts are synthetic but shaped like a big real session: 50 runs over two
briefs, each with 8 features × 20 requirements × 3 criteria and 400 tool calls whose
results are ~2 KB. The baseline is the page of one such run, measured in the same run.
Load time is Chromium's own (navigation start to the end of the load event, headless,
from file://), the median of `--loads` loads.

Run: python bench/bench_report.py [--runs 50] [--loads 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from pytest_specbench.report.html import render_html

FLAGS = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
FLAGS += "--disable-component-update --disable-sync"


def record(index: int) -> dict[str, Any]:
    requirement = {"title": "The list is saved", "description": "Saved on every change. " * 4}
    features = [
        {
            "id": f"F-{f:04d}",
            "title": f"Feature {f}",
            "description": "What it does. " * 6,
            "children": [],
            "reference": None,
            "requirements": [
                {**requirement, "id": f"R-{f * 100 + r:04d}", "criteria": ["Given a, when b, then c"] * 3}
                for r in range(20)
            ],
        }
        for f in range(1, 9)
    ]
    checks = [{"name": f"check_{c}", "passed": c != 3, "detail": "3 < 4"} for c in range(10)]
    return {
        "version": 1,
        "test_id": f"test_spec[m{index}-brief{index % 2}]",
        "model": f"m{index}",
        "brief": f"brief{index % 2}",
        "scaffold": "bare",
        "outcome": "failed",
        "checks": checks,
        "features": 8,
        "requirements": 160,
        "turns": 200,
        "tool_calls": 400,
        "input_tokens": 10**6,
        "output_tokens": 10**5,
        "seconds": 321.0,
        "tree": features,
    }


def transcript() -> list[dict[str, Any]]:
    call = {
        "kind": "tool_call",
        "turn": 1,
        "name": "read_file",
        "arguments": json.dumps({"path": "src/app.py"}),
        "result": "   1  def add(item):\n" * 100,
        "is_error": False,
        "seconds": 0.01,
    }
    turn = {
        "kind": "assistant",
        "turn": 1,
        "text": "Reading.",
        "tool_calls": [{"name": "read_file"}],
        "input_tokens": 5000,
        "output_tokens": 300,
        "stop_reason": "tool_use",
        "seconds": 2.0,
    }
    return [turn, call] * 200 + [{"kind": "stop", "reason": "max_turns", "detail": "max_turns=200 reached"}]


def page(runs: int) -> tuple[str, float]:
    records = [record(i) for i in range(runs)]
    transcripts = {r["test_id"]: transcript() for r in records}
    started = time.perf_counter()
    html = render_html(records, transcripts)
    return html, time.perf_counter() - started


def load_times(paths: list[Path], loads: int) -> list[float]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    profile = tempfile.mkdtemp()
    for flag in [*FLAGS.split(), f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(
        service=Service(shutil.which("chromedriver") or "chromedriver"), options=options
    )
    script = "const t = performance.getEntriesByType('navigation')[0]; return t.loadEventEnd - t.startTime;"
    try:
        medians = []
        for path in paths:
            samples = []
            for _ in range(loads):
                driver.get(path.as_uri())
                samples.append(float(driver.execute_script(script)) / 1000)
            medians.append(statistics.median(samples))
        return medians
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp())
    rows = []
    for runs in (1, args.runs):
        html, seconds = page(runs)
        path = directory / f"report-{runs}.html"
        path.write_text(html, encoding="utf-8")
        rows.append((runs, len(html.encode()), seconds, path))
    loads = load_times([row[3] for row in rows], args.loads)
    print("| runs | page size | render (Python) | load in Chromium (median) |")
    print("| --- | --- | --- | --- |")
    for (runs, size, seconds, _), load in zip(rows, loads, strict=True):
        print(f"| {runs} | {size / 1e6:.2f} MB | {seconds:.2f} s | {load:.2f} s |")
    (base, big) = rows
    print(f"ratio {args.runs} runs / 1 run: size ×{big[1] / base[1]:.1f}, load ×{loads[1] / loads[0]:.1f}")
    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
