"""Run the Order API as its own process beside ``switchboard serve``.

The child is ``python -m switchboard orders serve`` with the parent's environment (so the
same settings); it is up once ``/health`` answers, and is terminated, then killed after a
grace period, when the parent is done with it.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from switchboard.config import OrdersSettings
from switchboard.errors import ServiceStartError

START_TIMEOUT_S = 30.0
_PR_SET_PDEATHSIG = 1  # <sys/prctl.h>
STOP_GRACE_S = 5.0
POLL_INTERVAL_S = 0.1


def serve_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "switchboard", "orders", "serve", "--host", host,
            "--port", str(port)]  # fmt: skip


def base_url(host: str, port: int) -> str:
    return f"http://{host}:{port}"


@contextmanager
def order_service(
    settings: OrdersSettings, timeout_s: float = START_TIMEOUT_S, *, quiet: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """The running Order API process; stopped when the block exits, however it exits.
    ``quiet`` discards its log (which otherwise goes to this process's stdout/stderr)."""
    command = serve_command(settings.host, settings.port)
    sink = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(command, preexec_fn=_die_with_parent, stdout=sink, stderr=sink)
    try:
        wait_healthy(proc, base_url(settings.host, settings.port), timeout_s)
        yield proc
    finally:
        stop(proc)


def wait_healthy(proc: subprocess.Popen[bytes], url: str, timeout_s: float) -> None:
    """Poll ``url/health`` until it answers 200; raise if the child dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceStartError(f"the Order API exited with code {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(POLL_INTERVAL_S)
    raise ServiceStartError(f"the Order API did not answer {url}/health within {timeout_s:.0f} s")


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM us when the parent dies. uvicorn
    re-raises SIGTERM after its graceful shutdown, which ends the parent without running
    ``finally`` blocks, and a SIGKILLed parent runs none either; this still stops the child."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


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
