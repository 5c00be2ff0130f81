"""Closed-loop HTTP load generator for streaming chat completions, on raw asyncio streams.

A minimal HTTP/1.1 client (keep-alive, ``Content-Length`` or chunked bodies, SSE events) so
the client costs far less CPU than the servers it measures. ``concurrency`` clients each
send their next request as soon as the previous one finished, over their own connection,
and record per request the time to the first content chunk (TTFT), the total latency and
the status.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

from switchboard.gateway.sse_lines import SSEDecoder
from switchboard_bench.stats import latency_percentiles

_DONE = b"[DONE]"


@dataclass(frozen=True)
class Target:
    """One HTTP endpoint and the request sent to it, again and again."""

    host: str
    port: int
    path: str
    body: bytes = b""
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict)

    def request_bytes(self) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if self.body or self.method == "POST":
            lines += ["Content-Type: application/json", f"Content-Length: {len(self.body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def chat_target(
    host: str, port: int, model: str, token: str | None = None, max_tokens: int = 64
) -> Target:
    """A streaming ``/v1/chat/completions`` request for ``model`` (usage included)."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Say something short."}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": max_tokens,
    }
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Target(host, port, "/v1/chat/completions", json.dumps(body).encode(), "POST", headers)


def carries_content(payload: bytes) -> bool:
    """Whether one chunk's JSON holds generated output (content or a tool call fragment)."""
    try:
        chunk = json.loads(payload)
    except ValueError:
        return False
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("content") or delta.get("tool_calls"):
            return True
    return False


def is_error_event(payload: bytes) -> bool:
    """An in-band error event of a broken stream (``{"error": ...}``)."""
    return payload.startswith(b'{"error"')


@dataclass(frozen=True)
class RequestResult:
    status: int  # 0 when the connection failed
    total_s: float
    ttft_s: float | None = None
    events: int = 0  # SSE data events but [DONE]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class _Head:
    status: int
    chunked: bool
    length: int
    keep_alive: bool


def parse_head(head: bytes) -> _Head:
    """Status line and the headers that say how the body is framed."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.x response: {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    return _Head(
        status=int(parts[1]),
        chunked="chunked" in headers.get("transfer-encoding", ""),
        length=int(headers.get("content-length", "0")),
        keep_alive=headers.get("connection") != "close" and parts[0] == "HTTP/1.1",
    )


class Connection:
    """One keep-alive connection; reopened after a server close or an error."""

    def __init__(self, target: Target, timeout_s: float) -> None:
        self.target = target
        self.timeout_s = timeout_s
        self._request = target.request_bytes()
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self) -> RequestResult:
        start = time.perf_counter()
        try:
            return await asyncio.wait_for(self._exchange(start), self.timeout_s)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            await self.close()
            error = f"{type(exc).__name__}: {exc}".rstrip(": ")
            return RequestResult(0, time.perf_counter() - start, error=error)

    async def _exchange(self, start: float) -> RequestResult:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.target.host, self.target.port)
        reader, writer = self._streams
        writer.write(self._request)
        head = parse_head(await reader.readuntil(b"\r\n\r\n"))
        parser, ttft, events, done, error = SSEDecoder(), None, 0, False, None
        async for data in self._body(reader, head):
            for payload in parser.feed(data):
                if payload == _DONE:
                    done = True
                elif is_error_event(payload):
                    error = f"stream error: {payload[:200].decode(errors='replace')}"
                else:
                    events += 1
                    if ttft is None and carries_content(payload):  # parse only until then
                        ttft = time.perf_counter() - start
        if not head.keep_alive:
            await self.close()
        total = time.perf_counter() - start
        if head.status != 200:
            error = f"HTTP {head.status}"
        elif error is None and not done:
            error = "stream ended without [DONE]"
        return RequestResult(head.status, total, ttft, events, error)

    @staticmethod
    async def _body(reader: asyncio.StreamReader, head: _Head) -> AsyncIterator[bytes]:
        if not head.chunked:
            if head.length:
                yield await reader.readexactly(head.length)
            return
        while True:
            line = await reader.readline()
            if not line:
                raise ConnectionError("connection closed mid-body")
            size = int(line.split(b";", 1)[0], 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            yield (await reader.readexactly(size + 2))[:-2]

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@dataclass(frozen=True)
class PhaseStats:
    """What one load run measured against one target."""

    requests: int
    errors: int
    duration_s: float
    rps: float  # successful requests per second
    ttft_p50_ms: float
    ttft_p99_ms: float
    total_p50_ms: float
    total_p99_ms: float
    first_error: str | None = None
    server_cpu_ms_per_request: float | None = None  # filled in by whoever watches the server

    @classmethod
    def of(cls, results: list[RequestResult], duration_s: float) -> PhaseStats:
        ok = [r for r in results if r.ok]
        ttft = latency_percentiles([r.ttft_s * 1000 for r in ok if r.ttft_s is not None])
        total = latency_percentiles([r.total_s * 1000 for r in ok])
        failed = next((r.error for r in results if not r.ok), None)
        return cls(
            requests=len(results),
            errors=len(results) - len(ok),
            duration_s=round(duration_s, 3),
            rps=round(len(ok) / duration_s, 1) if duration_s > 0 else 0.0,
            ttft_p50_ms=round(ttft[0], 2),
            ttft_p99_ms=round(ttft[1], 2),
            total_p50_ms=round(total[0], 2),
            total_p99_ms=round(total[1], 2),
            first_error=failed,
        )


async def run_load(
    target: Target,
    concurrency: int,
    requests: int,
    on_result: Callable[[RequestResult], None] | None = None,
    timeout_s: float = 60.0,
    ramp_s: float = 0.0,
) -> PhaseStats:
    """Send ``requests`` requests from ``concurrency`` closed-loop clients; summarise them.

    With ``ramp_s`` the clients start evenly spread over that time (client k after
    ``k * ramp_s / concurrency``), as independent users would, instead of in lockstep."""
    if concurrency < 1 or requests < 0:
        raise ValueError("concurrency must be >= 1 and requests >= 0")
    results: list[RequestResult] = []
    remaining = [requests]

    async def client(k: int) -> None:
        await asyncio.sleep(k * ramp_s / concurrency)
        connection = Connection(target, timeout_s)
        try:
            while remaining[0] > 0:
                remaining[0] -= 1
                result = await connection.request()
                results.append(result)
                if on_result is not None:
                    on_result(result)
        finally:
            await connection.close()

    start = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(min(concurrency, max(requests, 1)))))
    return PhaseStats.of(results, time.perf_counter() - start)


async def http_status(host: str, port: int, path: str, timeout_s: float = 2.0) -> int:
    """Status of one ``GET`` (0 when nothing answers): for readiness checks."""
    connection = Connection(Target(host, port, path, method="GET"), timeout_s)
    try:
        return (await connection.request()).status
    finally:
        await connection.close()
