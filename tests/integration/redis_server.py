"""A real redis-server on a free loopback port, for integration tests.

Use the ``redis_url`` fixture (import it into a test module, or into a conftest), or the
``redis_server()`` context manager for a server of one's own (to stop it mid-test, and to
start it again on the same ``port``: a Redis that was down and is back, empty).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

REDIS_SERVER = "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server(startup_s: float = 10.0, port: int | None = None) -> Iterator[str]:
    """Start redis-server (no persistence) on ``port`` (default: a free one); yield its
    URL; stop it."""
    binary = shutil.which("redis-server") or REDIS_SERVER
    if not os.path.exists(binary):
        raise RuntimeError(f"{binary} not found: run scripts/install-redis.sh")
    port = free_port() if port is None else port
    args = [binary, "--save", "", "--appendonly", "no", "--port", str(port)]
    process = subprocess.Popen(
        [*args, "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + startup_s
        while not _answers_ping(port):
            if process.poll() is not None:
                err = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"redis-server exited with {process.returncode}: {err}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer PING within {startup_s}s")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A redis-server shared by the tests of one module (tests use distinct keys)."""
    with redis_server() as url:
        yield url
