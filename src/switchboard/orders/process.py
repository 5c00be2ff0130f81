"""Run the Order API as its own process beside ``switchboard serve``.

The parent listens on the port itself (``listen``) and hands the socket to the child,
``python -m switchboard orders serve --fd N``, which serves on it; the child gets the
parent's environment (so the same settings) plus its service token and database in
environment variables, never on its command line. It is up once ``/health`` answers, and is
terminated, then killed after a grace period, when the parent is done with it.
``supervisor`` puts these together and restarts the child when it dies.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from switchboard.errors import ServiceStartError

START_TIMEOUT_S = 30.0
_PR_SET_PDEATHSIG = 1  # <sys/prctl.h>
STOP_GRACE_S = 5.0
POLL_INTERVAL_S = 0.1
BACKLOG = 128
TOKEN_ENV = "SWITCHBOARD_ORDERS__SERVICE_TOKEN"  # what the child's settings read
DB_ENV = "SWITCHBOARD_ORDERS__DB_PATH"


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (0: a free port); ``ServiceStartError`` with the
    way out if the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=BACKLOG)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ServiceStartError(
                f"the Order API's port {host}:{port} is already in use: set orders.port to a "
                "free port, or to 0 for one chosen at start"
            ) from None
        raise ServiceStartError(f"the Order API cannot listen on {host}:{port}: {exc}") from None


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def spawn(
    sock: socket.socket, token: str, db_path: Path | None, *, quiet: bool
) -> subprocess.Popen[bytes]:
    """The Order API serving on ``sock`` with ``token``. ``quiet`` discards its log (which
    otherwise goes to this process's stdout/stderr)."""
    fd = sock.fileno()
    command = [sys.executable, "-m", "switchboard", "orders", "serve", "--fd", str(fd)]
    env = {**os.environ, TOKEN_ENV: token}
    if db_path is not None:
        env[DB_ENV] = str(db_path)
    sink = subprocess.DEVNULL if quiet else None
    return subprocess.Popen(
        command,
        env=env,
        pass_fds=(fd,),
        preexec_fn=_die_with_parent(),
        stdout=sink,
        stderr=sink,
    )


def wait_healthy(proc: subprocess.Popen[bytes], url: str, timeout_s: float) -> None:
    """Poll ``url/health`` until it answers 200; raise if the child dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceStartError(f"the Order API {exit_reason(proc.returncode)}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(POLL_INTERVAL_S)
    raise ServiceStartError(f"the Order API did not answer {url}/health within {timeout_s:.0f} s")


def exit_reason(returncode: int) -> str:
    """``exited with code 1`` or ``exited: killed by SIGKILL``."""
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return f"exited: killed by {name}"


@functools.cache
def _prctl() -> Callable[[int, int], int] | None:
    """libc's ``prctl``, looked up here in the parent: the child between fork and exec of a
    threaded server must not load libraries."""
    if not sys.platform.startswith("linux"):
        return None
    prctl: Callable[[int, int], int] = ctypes.CDLL(None, use_errno=True).prctl
    return prctl


def _die_with_parent() -> Callable[[], None] | None:
    """For the child, before exec: ask Linux to SIGTERM it when the parent thread that
    started it ends. uvicorn re-raises SIGTERM after its graceful shutdown, which ends the
    parent without running ``finally`` blocks, and a SIGKILLed parent runs none either;
    this still stops the child."""
    prctl = _prctl()
    if prctl is None:
        return None

    def ask() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return ask


def stop(proc: subprocess.Popen[bytes], grace_s: float = STOP_GRACE_S) -> None:
    """Terminate, then kill if it has not exited after ``grace_s``."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
