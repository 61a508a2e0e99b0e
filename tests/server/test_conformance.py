"""The official MCP conformance suite against the reference server, over Streamable HTTP.

The suite's server scenarios that apply to a spec server must pass; the others are listed,
each with its reason, in conformance-baseline.yml.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

BASELINE = Path(__file__).with_name("conformance-baseline.yml")
MUST_PASS = (
    "server-initialize",
    "ping",
    "tools-list",
    "dns-rebinding-protection",
    "server-sse-multiple-streams",
)


def test_the_scenarios_that_apply_pass(node_bin: Path, http_server: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = http_server
    env = {**os.environ, "PATH": f"{node_bin}{os.pathsep}{os.environ['PATH']}"}
    argv = ["conformance", "server", "--url", url, "--suite", "all", "--expected-failures", str(BASELINE)]
    done = subprocess.run(
        [*argv, "-o", str(tmp_path / "results")], env=env, capture_output=True, text=True, timeout=300
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    passed = {line.split()[1].rstrip(":") for line in output.splitlines() if line.startswith("✓")}
    assert set(MUST_PASS) <= passed, output
