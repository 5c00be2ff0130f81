"""Benchmark servers as subprocesses: free loopback ports, start-and-wait-until-healthy, stop
with their children, the CPU time and RSS of a process tree, and SIGTERM handled like Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import psutil

from switchboard.errors import ServiceStartError
from switchboard_bench.http_load import http_status

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _tree(pid: int) -> list[psutil.Process]:
    process = psutil.Process(pid)
    return [process, *process.children(recursive=True)]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, MiB."""
    return sum(p.memory_info().rss for p in _tree(pid)) / 2**20


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its children so far."""
    return sum(sum(p.cpu_times()[:2]) for p in _tree(pid))


def log_tail(log: Path, lines: int = 8) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return " | ".join(line for line in text.splitlines()[-lines:] if line.strip())


@contextmanager
def server(
    name: str,
    argv: list[str],
    env: Mapping[str, str],
    port: int,
    health: str,
    logs: Path,
    timeout_s: float = 120.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run one server until the block ends (also on Ctrl-C); wait until ``health`` answers 200."""
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=dict(env), start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout_s
        while asyncio.run(http_status(HOST, port, health)) != 200:
            if process.poll() is not None:
                raise ServiceStartError(f"{name} exited ({process.returncode}): {log_tail(log)}")
            if time.monotonic() > deadline:
                raise ServiceStartError(
                    f"{name} not ready after {timeout_s:.0f} s: {log_tail(log)}"
                )
            time.sleep(0.2)
        yield process
    finally:
        stop_tree(process)


def stop_tree(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """Terminate a server, then wait for the children it leaves behind (they end on their
    own once their parent has gone); kill whatever is left after ``grace_s``."""
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    _, alive = psutil.wait_procs(children, timeout=grace_s)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(alive, timeout=grace_s)


@contextmanager
def sigterm_exits() -> Iterator[None]:
    """Turn SIGTERM into ``SystemExit`` so that the servers are stopped as on Ctrl-C."""
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
