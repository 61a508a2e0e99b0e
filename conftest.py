"""Fixtures shared by the plugin's own tests (tests/)."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_specbench.testing import FakeProvider, Reply, call

# The SDKs and their lazily imported HTTP stack are loaded before any in-process pytester
# run: such a run unloads every module it imported first, and a module imported again later
# defines new classes, so httpx2 (loaded early, by mcp) would no longer recognise a new
# httpcore2's exceptions, and a dropped connection would escape as an unknown error.
# Likewise cryptography (under mcp.server, for in-process servers) cannot be imported twice.
_PRELOADED = (
    "h11",
    "httpcore2",
    "mcp.server.mcpserver",
    "pytest_specbench.models.anthropic",
    "pytest_specbench.models.openai",
)
for _module in _PRELOADED:
    importlib.import_module(_module)

pytest_plugins = ["pytester"]


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    """A scripted model server on 127.0.0.1 speaking the OpenAI and Anthropic wire protocols."""
    with FakeProvider() as fake:
        yield fake


@pytest.fixture(params=[[], ["-n", "2"]], ids=["inprocess", "xdist"])
def xdist_args(request: pytest.FixtureRequest) -> list[str]:
    """Run a pytester case without and with pytest-xdist, as syrupy does for its own tests."""
    return list(request.param)


class Suite:
    """Writes a small eval suite into a pytester directory: config, codebase, brief, test file."""

    def __init__(self, pytester: pytest.Pytester, provider: FakeProvider) -> None:
        self.pytester = pytester
        self.provider = provider
        self.models: list[str] = []
        self.briefs: list[str] = []

    def model(self, model_id: str, protocol: str = "openai", **keys: object) -> str:
        """Add a model served by the fake provider; its script is keyed by the returned model name."""
        base_url = self.provider.openai_base_url if protocol == "openai" else self.provider.anthropic_base_url
        table = {"provider": protocol, "model": f"scripted-{model_id}", "base_url": base_url, **keys}
        if protocol == "anthropic":
            table.setdefault("api_key_env", "SPECBENCH_TEST_KEY")
        self.models.append(_table(f"models.{model_id}", table))
        return f"scripted-{model_id}"

    def brief(self, brief_id: str, **keys: object) -> None:
        """Add a brief over a two-file codebase."""
        codebase = self.pytester.path / "codebases" / brief_id
        codebase.mkdir(parents=True, exist_ok=True)
        (codebase / "README.md").write_text("# notes\nA note-taking app.\n")
        (codebase / "app.py").write_text("def add_note(text):\n    return text.strip()\n")
        table = {"codebase": f"codebases/{brief_id}", "prompt": "Specify this app.", **keys}
        self.briefs.append(_table(f"briefs.{brief_id}", table))

    def write(self, test_body: str | None = None, defaults: str = "max_turns = 10\n") -> None:
        """Write specbench.toml (pointed at by the ini option) and the test module."""
        text = f"[defaults]\n{defaults}\n" + "\n".join(self.models + self.briefs)
        (self.pytester.path / "specbench.toml").write_text(text)
        self.pytester.makeini("[pytest]\nspecbench_config = specbench.toml\n")
        # Not "test_specs": evals/test_specs.py holds that module name when the whole tree runs.
        self.pytester.makepyfile(test_suite_specs=test_body or DEFAULT_TEST)


DEFAULT_TEST = """
def test_spec(spec_run, snapshot):
    spec_run.verify()
    assert spec_run.tree == snapshot
"""


def _table(name: str, keys: dict[str, object]) -> str:
    lines = [f"[{name}]"] + [f"{key} = {_toml(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


@pytest.fixture
def suite(pytester: pytest.Pytester, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> Suite:
    """A writer for a small eval suite whose models are scripted on the fake provider."""
    monkeypatch.setenv("SPECBENCH_TEST_KEY", "sk-test-key")
    return Suite(pytester, provider)


NODE_TOOLS = Path(__file__).parent / "tests" / "node"
NODE_INSTALL = "npm ci --prefix tests/node"


@pytest.fixture(scope="session")
def node_bin() -> Path:
    """tests/node's bin directory (node 22, the MCP conformance suite, Inspector, server-filesystem)."""
    bin_dir = NODE_TOOLS / "node_modules" / ".bin"
    if not (bin_dir / "node").exists():
        pytest.skip(f"the MCP tools in tests/node are not installed: run `{NODE_INSTALL}`")
    return bin_dir


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The reference server over Streamable HTTP on a port it picks (`--http 0`): its URL and specs dir."""
    codebase, specs = tmp_path / "code", tmp_path / "served-specs"
    codebase.mkdir()
    (codebase / "app.py").write_text("print('hi')\n")
    argv = [
        sys.executable,
        "-m",
        "pytest_specbench.server",
        "--codebase",
        str(codebase),
        "--specs",
        str(specs),
    ]
    log = tmp_path / "http-server.log"
    with log.open("w") as errlog:
        process = subprocess.Popen([*argv, "--http", "0"], stderr=errlog)
    try:
        deadline = time.monotonic() + 30
        # The server prints where it listens before it serves.
        while not (found := re.search(r"http://127\.0\.0\.1:\d+/mcp", log.read_text())):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield found.group(0), specs
    finally:
        process.terminate()
        process.wait(timeout=10)


def _writing(features: int, requirements: int, input_tokens: int = 10, output_tokens: int = 5) -> list[Reply]:
    """A script: one turn writes the features and the requirements (spread over them), then a final answer."""
    made = [call("create_feature", title=f"Feature {i}", description="d") for i in range(1, features + 1)]
    made += [
        call(
            "create_requirement",
            feature_id=f"F-{i % features + 1:04d}",
            title=f"Req {i}",
            description="d",
            acceptance_criteria=["c"],
        )
        for i in range(requirements)
    ]
    return [
        Reply(tool_calls=made, input_tokens=input_tokens, output_tokens=output_tokens),
        Reply.final("Done."),
    ]


@pytest.fixture
def writing() -> Any:
    """`writing(features, requirements)`: the script of a model that writes that much in one turn."""
    return _writing


class TomlConfigs:
    """Writes a specbench.toml beside an empty codebase `code/` in a tmp directory, and loads it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def load(self, text: str) -> Any:
        from pytest_specbench.config import load_config

        (self.root / "code").mkdir(exist_ok=True)
        path = self.root / "specbench.toml"
        path.write_text(text, encoding="utf-8")
        return load_config(path)

    def failure(self, text: str) -> str:
        """The message of the ConfigError loading `text` raises (the test fails if none)."""
        from pytest_specbench.errors import ConfigError

        with pytest.raises(ConfigError) as info:
            self.load(text)
        return str(info.value)


@pytest.fixture
def toml(tmp_path: Path) -> TomlConfigs:
    """`toml.load(text)`, `toml.failure(text)`: a specbench.toml of `text`, loaded or refused."""
    return TomlConfigs(tmp_path)
