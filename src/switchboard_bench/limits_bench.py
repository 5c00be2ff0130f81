"""``switchboard bench limits``: what a hostile request costs the server, measured against
a real ``switchboard serve`` process (authentication on, the default model, the guard):

- **refusal**: the time, as the client sees it, from sending a chat request of 20,000
  short messages (~0.7 MB) to its 400 (the message-count limit, before the guard);
- **memory**: the server's RSS while a 400 MB JSON body is sent to ``/v1/search``:
  without a key (declared length, and chunked), and with a key but chunked (the body
  limit counts it): sampled every 20 ms until the server answers and closes.
"""

from __future__ import annotations

import json
import os
import select
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from switchboard.config import Settings
from switchboard.gateway.keys import KeyStore
from switchboard.gateway.types import Scope
from switchboard_bench.processes import HOST, free_port, rss_mb, server, sigterm_exits
from switchboard_bench.stats import percentiles_ms

MESSAGES = 20_000
BODY_BYTES = 400 * 2**20
SEND_CHUNK = 1 << 20
SAMPLE_S = 0.02
Say = Callable[[str], None]


@dataclass(frozen=True)
class MemoryRun:
    case: str
    status: int | None  # the server's answer, None if it closed without one
    sent_mb: float  # what the client got into the socket before the server closed it
    rss_before_mb: float
    rss_peak_mb: float

    @property
    def growth_mb(self) -> float:
        return self.rss_peak_mb - self.rss_before_mb


def run_limits_bench(settings: Settings, refusals: int, say: Say) -> dict[str, Any]:
    """Start the server, measure, stop it; the figures as JSON-ready dicts."""
    with tempfile.TemporaryDirectory(prefix="switchboard-limits-") as tmp, sigterm_exits():
        work = Path(tmp)
        token = _key(work / "gateway.sqlite3")
        port = free_port()
        say("starting switchboard serve (model, embedder, guard)...")
        with _serve(settings, work, port) as pid:
            base = f"http://{HOST}:{port}"
            say(f"refusing {refusals} chat requests of {MESSAGES} messages...")
            times = _refusal_times(base, token, settings.model, refusals)
            runs = []
            for case, auth, chunked in (
                ("no key, Content-Length", False, False),
                ("no key, chunked", False, True),
                ("key, chunked (body limit)", True, True),
            ):
                say(f"sending 400 MB to /v1/search: {case}...")
                runs.append(_memory_run(pid, port, token if auth else None, chunked, case))
    return {
        "refusal": {
            "messages": MESSAGES,
            "body_mb": round(len(_many_messages(settings.model)) / 2**20, 2),
            **percentiles_ms(times, 50, 99, 100),
            "target_ms": 50,
        },
        "memory": [
            {**asdict(run), "growth_mb": round(run.growth_mb, 1), "target_mb": 50} for run in runs
        ],
    }


def _key(db: Path) -> str:
    keys = KeyStore.open(db)
    try:
        return keys.create(tenant="default", name="bench-limits", scopes=list(Scope)).token
    finally:
        keys.close()


@contextmanager
def _serve(settings: Settings, work: Path, port: int) -> Iterator[int]:
    """``switchboard serve`` with auth on, its stores in ``work``, no Order API."""
    env = {
        **os.environ,
        "SWITCHBOARD_DATA_DIR": str(settings.data_dir.resolve()),
        "SWITCHBOARD_GATEWAY__AUTH": "on",
        "SWITCHBOARD_GATEWAY__DB_PATH": str(work / "gateway.sqlite3"),
        "SWITCHBOARD_KNOWLEDGE__STORE": str(work / "knowledge.sqlite3"),
        "SWITCHBOARD_ASSISTANT__DB_PATH": str(work / "assistant.sqlite3"),
        "SWITCHBOARD_CACHE__DB_PATH": str(work / "cache.sqlite3"),
        "SWITCHBOARD_ORDERS__START_WITH_SERVER": "false",
    }
    argv = [sys.executable, "-m", "switchboard", "serve", "--host", HOST, "--port", str(port)]
    with server("serve", argv, env, port, "/health", work, timeout_s=300) as process:
        yield process.pid


def _many_messages(model: str) -> bytes:
    messages = [{"role": "user", "content": f"hi {i}"} for i in range(MESSAGES)]
    return json.dumps({"model": model, "messages": messages, "max_tokens": 4}).encode()


def _refusal_times(base: str, token: str, model: str, count: int) -> list[float]:
    body = _many_messages(model)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    times = []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for _ in range(count + 1):  # the first one warms the connection up
            started = time.perf_counter()
            response = client.post("/v1/chat/completions", content=body)
            times.append(time.perf_counter() - started)
            if response.status_code != 400:
                raise RuntimeError(f"expected a 400, got {response.status_code}: {response.text}")
    return times[1:]


def _memory_run(pid: int, port: int, token: str | None, chunked: bool, case: str) -> MemoryRun:
    before = rss_mb(pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(SAMPLE_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        status, sent = _send_huge(port, token, chunked)
        time.sleep(0.5)  # whatever the server still does with it shows in RSS now
    finally:
        done.set()
        sampler.join()
    peak[0] = max(peak[0], rss_mb(pid))
    return MemoryRun(case, status, round(sent / 2**20, 1), round(before, 1), round(peak[0], 1))


def _send_huge(
    port: int, token: str | None, chunked: bool, path: str = "/v1/search"
) -> tuple[int | None, int]:
    """Send a 400 MB JSON body until the server answers or closes; (status, bytes sent)."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {HOST}:{port}", "Content-Type: application/json"]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {BODY_BYTES}")
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    piece = b'{"collection": "shop", "query": "' + b"a" * (SEND_CHUNK - 34)
    sent = 0
    with socket.create_connection((HOST, port), timeout=60) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        reply = _answer(sock, 0.2)  # a refusal by the headers alone comes at once
        try:
            while sent < BODY_BYTES and not reply:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent += len(piece)
                reply = _answer(sock, 0.0)
            if chunked and not reply:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection: it reads no more
        reply = reply or _answer(sock, 10.0)
    status = int(reply.split()[1]) if reply.startswith(b"HTTP/") else None
    return status, sent


def _answer(sock: socket.socket, wait_s: float) -> bytes:
    """What the server has answered within ``wait_s`` (nothing if it has not, or reset)."""
    ready, _, _ = select.select([sock], [], [], wait_s)
    if not ready:
        return b""
    try:
        return sock.recv(65536)
    except OSError:
        return b""
