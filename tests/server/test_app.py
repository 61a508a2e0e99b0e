"""The reference server through a real MCP client: in memory for most tests, once over stdio."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import TextContent

from pytest_specbench.server import build_server, server_command
from pytest_specbench.tree import read_tree

TOOLS = {
    "list_files": ["path", "depth"],
    "read_file": ["path", "offset", "limit"],
    "search_code": ["pattern", "path", "max_results"],
    "create_feature": ["title", "description", "parent_id"],
    "create_requirement": ["feature_id", "title", "description", "acceptance_criteria"],
    "update_item": ["id", "title", "description", "acceptance_criteria"],
    "delete_item": ["id"],
    "get_spec_tree": [],
}
REQUIRED = {
    "read_file": ["path"],
    "search_code": ["pattern"],
    "create_feature": ["title", "description"],
    "create_requirement": ["feature_id", "title", "description", "acceptance_criteria"],
    "update_item": ["id"],
    "delete_item": ["id"],
}


@pytest.fixture
def codebase(tmp_path: Path) -> Path:
    """A one-file codebase."""
    root = tmp_path / "code"
    root.mkdir()
    (root / "app.py").write_text("def draw():\n    pass\n", encoding="utf-8")
    return root


async def call(client: Client, tool: str, **arguments: Any) -> tuple[bool, str]:
    result = await client.call_tool(tool, arguments)
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    return result.is_error, "\n".join(texts)


def run_with(server: Any, body: Callable[[Client], Awaitable[None]]) -> None:
    async def main() -> None:
        async with Client(server) as client:
            await body(client)

    anyio.run(main)


def test_tools_are_the_public_contract(codebase: Path, tmp_path: Path) -> None:
    async def body(client: Client) -> None:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert {name: list(tool.input_schema["properties"]) for name, tool in tools.items()} == TOOLS
        for name, tool in tools.items():
            assert sorted(tool.input_schema.get("required", [])) == sorted(REQUIRED.get(name, []))
            assert tool.description and len(tool.description) > 40

    run_with(build_server(codebase, tmp_path / "specs"), body)


def test_writing_a_tree(codebase: Path, tmp_path: Path) -> None:
    async def body(client: Client) -> None:
        assert await call(client, "get_spec_tree") == (
            False,
            "The spec tree is empty (0 features, 0 requirements). Start with create_feature.",
        )
        assert await call(client, "create_feature", title="Canvas", description="Drawing.") == (
            False,
            "Created feature F-0001 at specs/features/F-0001-canvas/F-0001-canvas.md",
        )
        await call(client, "create_feature", title="Export", description="")
        assert await call(client, "create_feature", title="Layers", description="", parent_id="F-0001") == (
            False,
            "Created feature F-0003 at specs/features/F-0001-canvas/F-0003-layers/F-0003-layers.md",
        )
        created = await call(
            client, "create_requirement", feature_id="F-0001", title="Draw shapes", description="d",
            acceptance_criteria=["Circles", "Lines"],
        )  # fmt: skip
        assert created == (
            False,
            "Created requirement R-0001 at specs/features/F-0001-canvas/requirements/R-0001-draw-shapes.md",
        )
        await call(
            client,
            "create_requirement",
            feature_id="F-0003",
            title="Order",
            description="",
            acceptance_criteria=["Layers keep their order"],
        )
        assert await call(client, "get_spec_tree") == (
            False,
            "F-0001 Canvas (1 requirement)\n  R-0001 Draw shapes\n  F-0003 Layers (1 requirement)\n"
            "    R-0002 Order\nF-0002 Export (0 requirements)\nTotal: 3 features, 2 requirements",
        )
        assert await call(client, "update_item", id="R-0001", title="Draw many shapes") == (
            False,
            "Updated R-0001 (title) at specs/features/F-0001-canvas/requirements/R-0001-draw-shapes.md",
        )
        assert await call(client, "delete_item", id="R-0002") == (False, "Deleted requirement R-0002")
        assert await call(client, "delete_item", id="F-0001") == (
            False,
            "Deleted feature F-0001 with 1 requirement and 1 sub-feature",
        )

    run_with(build_server(codebase, tmp_path / "specs"), body)
    assert [f.id for f in read_tree(tmp_path / "specs").features] == ["F-0002"]


REQUIREMENT: dict[str, Any] = {"feature_id": "F-0001", "title": "x", "description": ""}
BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("create_feature", {"title": "  ", "description": "d"}, "title is empty"),
    (
        "create_feature",
        {"title": "x", "description": "", "parent_id": "F-0404"},
        "unknown feature id 'F-0404'",
    ),
    ("create_requirement", {**REQUIREMENT, "acceptance_criteria": "a"}, "acceptance_criteria"),
    (
        "create_requirement",
        {**REQUIREMENT, "acceptance_criteria": [""]},
        r"acceptance_criteria\[0\] is empty",
    ),
    ("create_requirement", {"feature_id": "F-0001", "title": "x"}, "description"),
    ("update_item", {"id": "R-0404", "title": "x"}, "unknown id 'R-0404'"),
    ("update_item", {"id": "F-0001"}, "nothing to update"),
    ("delete_item", {"id": "nonsense"}, "unknown id 'nonsense'"),
    ("read_file", {"path": "../secret.txt"}, "'..'"),
    ("read_file", {"path": "/etc/passwd"}, "absolute"),
    ("list_files", {"path": "app.py"}, "is a file"),
    ("search_code", {"pattern": ""}, "pattern is empty"),
    ("no_such_tool", {}, "Unknown tool"),
    ("create_requirement", {**REQUIREMENT, "acceptance_criteria": []}, "at least one testable statement"),
    (
        "create_feature",
        {"title": "x" * 201, "description": ""},
        "title is 201 characters, over the limit of 200",
    ),
    ("update_item", {"id": "F-0001", "title": "x" * 5000}, "over the limit of 200"),
    (
        "read_file",
        {"path": "app.py", "limit": "5"},
        '^Error: validation error in the arguments of read_file: limit: expected integer, got string "5"$',
    ),
    ("read_file", {"path": "app.py", "limit": True}, "limit: expected integer, got boolean true$"),
    (
        "create_feature",
        {"description": "d"},
        "^Error: validation error in the arguments of create_feature: title: required$",
    ),
    (
        "create_requirement",
        {**REQUIREMENT, "acceptance_criteria": [3]},
        r"acceptance_criteria\.0: expected string, got integer 3",
    ),
]


def test_bad_calls_are_errors_and_the_server_carries_on(codebase: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("TOP-SECRET", encoding="utf-8")

    async def body(client: Client) -> None:
        await call(client, "create_feature", title="Canvas", description="")
        for tool, arguments, message in BAD_CALLS:
            is_error, text = await call(client, tool, **arguments)
            assert is_error, (tool, arguments)
            assert re.search(message, text), (text, message)
            assert "TOP-SECRET" not in text
            assert "pydantic" not in text, text
        assert await call(client, "get_spec_tree") == (
            False,
            "F-0001 Canvas (0 requirements)\nTotal: 1 feature, 0 requirements",
        )

    run_with(build_server(codebase, tmp_path / "specs"), body)


def test_the_same_calls_give_the_same_results(codebase: Path, tmp_path: Path) -> None:
    transcripts: list[list[tuple[bool, str]]] = []

    async def body(client: Client) -> None:
        transcript = [
            await call(client, "create_feature", title="A", description=""),
            await call(client, "create_feature", title="B", description="", parent_id="F-0001"),
            await call(
                client,
                "create_requirement",
                feature_id="F-0002",
                title="R",
                description="",
                acceptance_criteria=["x"],
            ),
            await call(client, "delete_item", id="F-0002"),
            await call(client, "create_feature", title="C", description=""),
            await call(client, "get_spec_tree"),
        ]
        transcripts.append(transcript)

    run_with(build_server(codebase, tmp_path / "one" / "specs"), body)
    run_with(build_server(codebase, tmp_path / "two" / "specs"), body)
    assert transcripts[0] == transcripts[1]
    assert transcripts[0][4] == (False, "Created feature F-0003 at specs/features/F-0003-c/F-0003-c.md")


def test_read_tools_through_the_client(codebase: Path, tmp_path: Path) -> None:
    async def body(client: Client) -> None:
        assert await call(client, "list_files") == (False, "./\n  app.py")
        assert await call(client, "read_file", path="app.py") == (
            False,
            "     1\tdef draw():\n     2\t    pass\n[lines 1-2 of 2]",
        )
        assert await call(client, "search_code", pattern="DRAW") == (False, "app.py:1: def draw():")

    run_with(build_server(codebase, tmp_path / "specs"), body)


def test_over_stdio(codebase: Path, tmp_path: Path) -> None:
    argv = server_command(codebase, tmp_path / "specs")
    params = StdioServerParameters(command=argv[0], args=argv[1:])
    log = tmp_path / "server.log"
    timings: dict[str, float] = {}

    async def main() -> None:
        with log.open("w", encoding="utf-8") as errlog:
            started = time.perf_counter()
            async with Client(stdio_client(params, errlog=errlog)) as client:
                timings["startup"] = time.perf_counter() - started
                assert await call(client, "create_feature", title="Canvas", description="") == (
                    False,
                    "Created feature F-0001 at specs/features/F-0001-canvas/F-0001-canvas.md",
                )
                is_error, text = await call(client, "create_requirement", feature_id="F-0009", title="x",
                                            description="", acceptance_criteria=["y"])  # fmt: skip
                assert is_error
                assert "unknown feature id 'F-0009'" in text
                assert (await call(client, "get_spec_tree"))[1].endswith("Total: 1 feature, 0 requirements")

    anyio.run(main)
    assert [f.title for f in read_tree(tmp_path / "specs").features] == ["Canvas"]
    assert "unknown feature id" in log.read_text(encoding="utf-8")  # tool failures are logged on stderr
    assert timings["startup"] < 30


def test_only_tools_are_advertised_and_unserved_methods_are_unknown(codebase: Path, tmp_path: Path) -> None:
    from importlib.metadata import version

    from mcp.shared.exceptions import MCPError

    async def body(client: Client) -> None:
        assert client.server_info is not None
        assert client.server_info.version == version("pytest-specbench")
        capabilities = client.server_capabilities
        assert (capabilities.tools is not None, capabilities.prompts, capabilities.resources) == (
            True,
            None,
            None,
        )
        for request in (client.get_prompt("nope"), client.list_prompts(), client.read_resource("file:///x")):
            with pytest.raises(MCPError) as raised:
                await request
            assert raised.value.code == -32601  # method not found, not error 0 with a traceback

    run_with(build_server(codebase, tmp_path / "specs"), body)


RAW_LINES: list[tuple[bytes, int, object]] = [
    (b"this is not json", -32700, None),
    (b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_code","arguments":'
     b'{"pattern":"\\ud800"}}}', -32700, None),  # a lone surrogate escape: JSON no parser accepts
    (b'{"jsonrpc":"2.0","id":3,"method":"ping"', -32700, None),
    (b'{"id":7,"hello":"world"}', -32600, 7),
]  # fmt: skip


def test_over_stdio_an_unparsable_line_is_answered(codebase: Path, tmp_path: Path) -> None:
    argv = server_command(codebase, tmp_path / "specs")
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdin is not None and process.stdout is not None
    hello = {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    }
    lines = [
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello}).encode(),
        b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
        *(line for line, _, _ in RAW_LINES),
        b'{"jsonrpc":"2.0","id":9,"method":"ping"}',
    ]
    # stdin stays open until every answer is in: at end of input the server may stop before answering.
    watchdog = threading.Timer(60, process.kill)
    watchdog.start()
    with process:
        try:
            process.stdin.write(b"\n".join(lines) + b"\n")
            process.stdin.flush()
            out = b"".join(process.stdout.readline() for _ in range(len(RAW_LINES) + 2))
        finally:
            watchdog.cancel()
            process.kill()
    replies = [json.loads(line) for line in out.splitlines()]
    errors = [(reply["error"]["code"], reply["id"]) for reply in replies if "error" in reply]
    assert errors == [(code, request_id) for _, code, request_id in RAW_LINES]
    assert replies[-1] == {"jsonrpc": "2.0", "id": 9, "result": {}}  # and it carries on
