"""Benchmark: the OpenAI adapter's CPU per request as the conversation grows.

A conversation of N tool calls (one call and a ~1 kB result per turn) is sent to the
loopback FakeProvider; CPU is the event-loop thread's (`time.thread_time`), so the fake
server's threads are not counted. The baseline, in the same run, is the SDK's
`chat.completions.create` with the same messages (the path the adapter used before).

Run: python bench/bench_openai.py [--sizes 50,200,800] [--requests 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from pytest_specbench.config.settings import ModelConfig, Provider, RunSettings
from pytest_specbench.models.openai import OpenAIChatClient, _message, _tool
from pytest_specbench.models.types import (
    AssistantMessage,
    Message,
    ToolResult,
    ToolResultsMessage,
    ToolSpec,
    UserMessage,
)
from pytest_specbench.testing import FakeProvider, Reply
from pytest_specbench.testing.scripted import _as_turn

TOOLS = [ToolSpec("read_file", "Read a file", {"type": "object", "properties": {"path": {"type": "string"}}})]
RESULT = "def handler(request):\n    return render(request, 'todo.html')\n" * 16


def conversation(calls: int) -> list[Message]:
    messages: list[Message] = [UserMessage("Write the spec.")]
    for i in range(calls):
        turn = _as_turn(Reply.tool("read_file", path=f"todo/module_{i}.py"), i)
        messages.append(AssistantMessage(turn))
        result = ToolResult(turn.tool_calls[0].id, "read_file", RESULT, False)
        messages.append(ToolResultsMessage((result,)))
    return messages


async def cpu_per_request(send: Callable[[], Awaitable[object]], requests: int) -> float:
    await send()  # warm up: connection, caches
    samples = []
    for _ in range(requests):
        started = time.thread_time()
        await send()
        samples.append(time.thread_time() - started)
    return statistics.median(samples) * 1000


async def measure(base_url: str, calls: int, requests: int) -> tuple[float, float]:
    model = ModelConfig(id="m", provider=Provider.OPENAI, model="fake", base_url=base_url)
    client = OpenAIChatClient(model, RunSettings(), "key")
    messages = conversation(calls)

    async def adapter() -> object:
        return await client.generate("system prompt", messages, TOOLS)

    async def sdk_create() -> object:
        params: list[Any] = [{"role": "system", "content": "system prompt"}]
        params += [p for m in messages for p in _message(m)]
        return await client._sdk.chat.completions.create(
            model="fake",
            messages=params,
            tools=[_tool(t) for t in TOOLS],
            tool_choice="auto",
            temperature=0.0,
            max_tokens=model.max_tokens,
        )

    try:
        return await cpu_per_request(adapter, requests), await cpu_per_request(sdk_create, requests)
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200,800")
    parser.add_argument("--requests", type=int, default=15)
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    results = {}
    with FakeProvider() as provider:
        for calls in sizes:
            results[calls] = anyio.run(measure, provider.openai_base_url, calls, args.requests)
            body = len(json.dumps(provider.requests[-1][1]))
            adapter, create = results[calls]
            print(
                f"{calls:4} calls ({body / 1e6:.2f} MB body): adapter {adapter:6.2f} ms CPU/request,"
                f" create() {create:6.2f} ms (x{create / adapter:.1f}); median of {args.requests}"
            )
            provider.requests.clear()
    first, last = results[sizes[0]], results[sizes[-1]]
    print(
        f"{sizes[-1]} vs {sizes[0]} calls: adapter x{last[0] / first[0]:.2f},"
        f" create() x{last[1] / first[1]:.2f}"
    )


if __name__ == "__main__":
    main()
