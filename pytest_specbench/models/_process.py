"""Process plumbing of the local servers: free ports, liveness, group stops, log tails, a watchdog."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = ["HOST", "free_port", "running", "serve", "stop", "tail"]

HOST = "127.0.0.1"


def free_port() -> int:
    """A port on 127.0.0.1 that is free right now."""
    # Racy in principle (the port is free again until the server binds it), but another process
    # taking it within that second only makes the start fail with "address already in use".
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
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


def stop(pid: int, child: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM the process group `pid` leads, SIGKILL it if it is still there 5 s later."""
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
    while running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def tail(log_path: Path, lines: int = 10) -> str:
    """The log's last non-empty lines, joined into one line."""
    try:
        with log_path.open("rb") as log:
            log.seek(max(0, log_path.stat().st_size - 16_384))
            text = log.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    # Traceback markers (^^^^, ~~~~) only repeat the line above them.
    kept = [line.strip()[:300] for line in text.splitlines() if line.strip(" \t^~")]
    return " | ".join(kept[-lines:]) or "(empty)"


def serve() -> None:
    """Entry point of a watchdog process: argv is the owner's pid, then the server's command line.

    llama-server is a native program that cannot watch anyone; this process runs it as a child
    in its own process group and ends both once the owner is gone without stopping them.
    """
    owner_pid = int(sys.argv[1])
    child = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL)
    # Exit only once the server has: whoever waits for this pid to go then knows the port is free.
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    threading.Thread(target=_stop_when_gone, args=(owner_pid, child), daemon=True).start()
    code = child.wait()
    # A signal death (a segfault is -11) is reported the way a shell would: 128 + the signal.
    sys.exit(128 - code if code < 0 else code)


def _stop_when_gone(pid: int, child: subprocess.Popen[bytes]) -> None:
    while running(pid):
        time.sleep(1.0)
    # The owner is gone without stopping us: nobody will send another request.
    child.kill()
    os._exit(0)
