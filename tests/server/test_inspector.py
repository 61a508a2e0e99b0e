"""The reference server under the official MCP Inspector's CLI, a client nobody here wrote."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from pytest_specbench.server import server_command

READ_TOOLS = ["list_files", "read_file", "search_code"]


def inspector(node_bin: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = server_command(tmp_path / "code", tmp_path / "specs")
    # MCP_STORAGE_DIR: the Inspector would otherwise keep its state under $HOME.
    env = {
        **os.environ,
        "PATH": f"{node_bin}{os.pathsep}{os.environ['PATH']}",
        "MCP_STORAGE_DIR": str(tmp_path),
    }
    return subprocess.run(
        ["mcp-inspector", "--cli", *argv, *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_inspector_lists_and_calls_the_tools(node_bin: Path, tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.py").write_text("def draw():\n    pass\n")

    listed = inspector(node_bin, tmp_path, "--method", "tools/list")
    assert listed.returncode == 0, listed.stderr
    names = [tool["name"] for tool in json.loads(listed.stdout)["tools"]]
    assert names == [
        *READ_TOOLS,
        "create_feature",
        "create_requirement",
        "update_item",
        "delete_item",
        "get_spec_tree",
    ]

    created = inspector(
        node_bin, tmp_path, "--method", "tools/call", "--tool-name", "create_feature",
        "--tool-arg", "title=Canvas", "--tool-arg", "description=Drawing.",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    text = json.loads(created.stdout)["content"][0]["text"]
    assert text == "Created feature F-0001 at specs/features/F-0001-canvas/F-0001-canvas.md"
    assert (tmp_path / "specs" / "features" / "F-0001-canvas" / "F-0001-canvas.md").is_file()
