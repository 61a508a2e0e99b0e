"""Measurement: the context strategies on a real codebase, with the bundled model at its 16k window.

The codebase is a copy of an installed package's source (pluggy, from the environment), which
the bundled Qwen2.5-Coder-1.5B cannot hold in 16,384 tokens once it has read a few modules. Each
strategy runs the same brief on its own copy, against one llama-server the script starts
(`n_threads` 1 by default: the machine is shared), and prints features, requirements, turns,
how the run ended, the peak context, tokens (with the prompt tokens llama-server served from
its cache: masking changes the prompt's prefix, so the cache is reused less) and wall time.

Run: python bench/bench_context.py [--package pluggy] [--max-turns 30] [--timeout 720]
     [--strategies full,mask,summary] [--keep-last 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import tempfile
import time
from pathlib import Path

import anyio

from pytest_specbench._run.prompts import system_prompt
from pytest_specbench.agent.loop import Limits, run_agent
from pytest_specbench.agent.stats import RunStats
from pytest_specbench.agent.tools import RunPaths, Transport, open_tool_session
from pytest_specbench.agent.transcript import Transcript
from pytest_specbench.config.settings import (
    BriefConfig,
    ContextConfig,
    ContextStrategy,
    ModelConfig,
    Provider,
    RunSettings,
)
from pytest_specbench.errors import InfrastructureError
from pytest_specbench.models import open_client
from pytest_specbench.models.llamacpp import LocalServers
from pytest_specbench.models.overflow import context_window
from pytest_specbench.tree import read_tree

PROMPT = (
    "Write a spec for the `{name}` library in this codebase: one feature per capability a user of "
    "the library relies on, and for each feature requirements with two acceptance criteria each. "
    "Work step by step with the tools: first call list_files, then read the modules one after the "
    "other with read_file, and create features and requirements for what each module does as you go."
)


def copy_package(name: str, into: Path) -> Path:
    """The package's source files (no bytecode), copied so that nothing here touches the install."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise SystemExit(f"package {name!r} is not installed")
    source = Path(spec.origin).parent
    target = into / name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so"))
    return target


async def one_run(
    model: ModelConfig, codebase: Path, root: Path, context: ContextConfig, limits: Limits
) -> str:
    paths = RunPaths(root / "ws", root / "ws" / "specs", codebase)
    paths.workspace.mkdir(parents=True)
    brief = BriefConfig(id="bench", codebase=codebase, prompt=PROMPT.format(name=codebase.name))
    transcript = Transcript()
    settings = RunSettings(request_timeout_s=900, max_retries=0)
    started = time.monotonic()
    failure = ""
    try:
        async with (
            open_client(model, settings, None) as client,
            open_tool_session(brief, paths, Transport.MEMORY, timeout_s=60) as tools,
        ):
            await run_agent(
                client,
                tools,
                system=system_prompt(brief),
                prompt=brief.prompt,
                limits=limits,
                transcript=transcript,
                context=context,
            )
    except* InfrastructureError as group:
        failure = f"ERROR {group.exceptions[0]}"
    seconds = time.monotonic() - started
    stats = RunStats.from_transcript(transcript, seconds)
    tree = read_tree(paths.specs_dir)
    stop = transcript.stop
    ended = failure or (f"{stop.reason}: {stop.detail}" if stop else "?")
    fraction = f"{stats.peak_context_fraction:.0%}" if stats.peak_context_fraction is not None else "-"
    return (
        f"| {context.id} | {tree.total_feature_count} | {tree.requirement_count} | {stats.turns} "
        f"(+{stats.summary_turns} summary) | {stats.peak_context_tokens:,} ({fraction}) | "
        f"{stats.input_tokens:,} / {stats.output_tokens:,} | {stats.cache_read_input_tokens:,} | "
        f"{stats.masked_results} | {seconds:.0f} | {ended[:160]} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="pluggy")
    parser.add_argument("--max-turns", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=720.0, help="seconds per run")
    parser.add_argument("--strategies", default="full,mask,summary")
    parser.add_argument("--keep-last", type=int, default=3)
    parser.add_argument("--summary-at", type=float, default=0.7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    contexts = {
        "full": ContextConfig("full"),
        "mask": ContextConfig("mask", ContextStrategy.MASK, keep_last=args.keep_last),
        "summary": ContextConfig("summary", ContextStrategy.SUMMARY, summary_at=args.summary_at),
    }
    work = Path(tempfile.mkdtemp(prefix="bench-context-"))
    servers = LocalServers(work / "shared", work / "logs")
    local = ModelConfig(
        id="qwen-coder-local", provider=Provider.LLAMACPP, model="local", max_tokens=384,
        extra={"n_threads": args.threads, "n_ctx": 16384, "n_parallel": 1},
    )  # fmt: skip
    try:
        model = ModelConfig(**{**_fields(local), "base_url": servers.base_url(local)})
        limits = Limits(
            max_turns=args.max_turns, timeout_s=args.timeout, context_window=context_window(local)
        )
        print(
            f"package {args.package}, window {limits.context_window:,}, threads {args.threads}, work {work}"
        )
        columns = [
            "strategy",
            "features",
            "requirements",
            "turns",
            "peak-context",
            "tokens-in/out",
            "cached",
            "masked",
            "s",
            "ended",
        ]
        print("| " + " | ".join(c.replace("-", " ") for c in columns) + " |")
        print("|" + " --- |" * len(columns))
        for name in args.strategies.split(","):
            root = work / name
            codebase = copy_package(args.package, root / "code")
            print(anyio.run(one_run, model, codebase, root, contexts[name], limits), flush=True)
    finally:
        servers.stop_all()


def _fields(model: ModelConfig) -> dict[str, object]:
    return {f: getattr(model, f) for f in model.__dataclass_fields__}


if __name__ == "__main__":
    main()
