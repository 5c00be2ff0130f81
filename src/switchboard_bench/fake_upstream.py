"""A fast fake OpenAI-compatible model server, for gateway tests and the throughput benchmark.

Raw asyncio streams and a minimal HTTP/1.1 parser (keep-alive, Content-Length bodies): no
framework stands between the socket and the bytes. ``POST /v1/chat/completions`` streams
like vLLM — a role chunk, N content chunks (``"tok0 "``...), a finish chunk, the usage chunk
when ``stream_options.include_usage``, then ``data: [DONE]`` — or answers one
``chat.completion`` JSON. A ``Behaviour`` scripts delays and failures; ``POST /_control``
changes it while the server runs and ``GET /_stats`` counts requests. Run it as
``python -m switchboard_bench.fake_upstream --port P [...]``; it prints ``listening on PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from switchboard_bench.http_server import (
    LAST_FRAME,
    ClientGone,
    Connection,
    Request,
    frame,
    json_response,
)

_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
)
_DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True)
class Behaviour:
    """How the server answers chat requests; ``None`` turns a failure off."""

    ttft_s: float = 0.0  # before the first content chunk
    chunk_s: float = 0.0  # between content chunks
    chunks: int = 16  # content chunks (capped by the request's max_tokens)
    fail_status: int | None = None  # answer this status with an OpenAI error JSON
    stall_s: float = 0.0  # before anything, headers included
    die_after: int | None = None  # content chunks sent before the socket is cut
    hang_after: int | None = None  # content chunks sent before it goes silent

    def __post_init__(self) -> None:
        for name in ("ttft_s", "chunk_s", "stall_s", "chunks", "die_after", "hang_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if self.fail_status is not None and not 400 <= self.fail_status <= 599:
            raise ValueError(f"fail_status must be 400..599, got {self.fail_status}")

    def updated(self, changes: Mapping[str, Any]) -> Behaviour:
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown behaviour fields: {sorted(unknown)}")
        return replace(self, **changes)


class _Frames:
    """Encoded SSE events of one streamed completion, each in a chunked-encoding frame."""

    def __init__(self, model: str, serial: int) -> None:
        head = f'{{"id":"chatcmpl-{serial}","object":"chat.completion.chunk",'
        head += f'"created":{int(time.time())},"model":{json.dumps(model)},"choices":'
        self._head = head

    def role(self) -> bytes:
        return self._event(
            '[{"index":0,"delta":{"role":"assistant","content":""},'
            '"logprobs":null,"finish_reason":null}]}'
        )

    def content(self, i: int) -> bytes:
        return self._event(
            f'[{{"index":0,"delta":{{"content":"tok{i} "}},'
            '"logprobs":null,"finish_reason":null}]}'
        )

    def finish(self, reason: str) -> bytes:
        return self._event(
            f'[{{"index":0,"delta":{{}},"logprobs":null,"finish_reason":"{reason}"}}]}}'
        )

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        total = prompt_tokens + completion_tokens
        return self._event(
            f'[],"usage":{{"prompt_tokens":{prompt_tokens},'
            f'"completion_tokens":{completion_tokens},"total_tokens":{total}}}}}'
        )

    def _event(self, tail: str) -> bytes:
        return frame(b"data: " + (self._head + tail).encode() + b"\n\n")


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": status}}


def _prompt_tokens(messages: Any) -> int:
    """A deterministic stand-in for tokenising: message characters // 4 + 1."""
    chars = 0
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(p.get("text", "")) for p in content if isinstance(p, dict))
    return chars // 4 + 1


def _completion_tokens(payload: Mapping[str, Any], chunks: int) -> int:
    limit = payload.get("max_completion_tokens") or payload.get("max_tokens")
    return min(chunks, limit) if isinstance(limit, int) and limit > 0 else chunks


Handler = Callable[[Connection, Request], Awaitable[None]]


class FakeUpstream:
    """The server; ``behaviour`` may be replaced at any time, the next request uses it."""

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.requests = 0  # chat completion requests received
        self.cancelled = 0  # responses the client hung up on before their end
        self._server: asyncio.Server | None = None
        self._host = "127.0.0.1"
        self._tasks: set[asyncio.Task[Any]] = set()
        self._routes: dict[tuple[str, str], Handler] = {
            ("POST", "/v1/chat/completions"): self._chat,
            ("GET", "/v1/models"): self._models,
            ("POST", "/_control"): self._control,
            ("GET", "/_stats"): self._stats,
        }

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._server = await asyncio.start_server(self._serve, host, port, backlog=2048)

    @property
    def port(self) -> int:
        if self._server is None:
            raise ValueError("the fake upstream is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}/v1"

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        conn = Connection(reader, writer)
        try:
            while (request := await conn.request()) is not None:
                route = self._routes.get((request.method, request.path), self._not_found)
                conn.responding = True
                await route(conn, request)
                conn.responding = False
                if not request.keep_alive or conn.writer.is_closing():
                    break
        except (ClientGone, ConnectionError):
            self.cancelled += conn.responding
        except ValueError:  # a request line or header the parser cannot read
            with contextlib.suppress(ConnectionError):
                await conn.send(json_response(400, _error_body(400, "malformed request")))
        finally:
            conn.close()
            if task is not None:
                self._tasks.discard(task)

    async def _chat(self, conn: Connection, request: Request) -> None:
        self.requests += 1
        behaviour = self.behaviour
        try:
            payload = json.loads(request.body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            await conn.send(json_response(400, _error_body(400, "the body is not a JSON object")))
            return
        await conn.pause(behaviour.stall_s)
        if behaviour.fail_status is not None:
            status = behaviour.fail_status
            await conn.send(json_response(status, _error_body(status, f"fake failure {status}")))
            return
        if payload.get("stream") is True:
            await self._stream(conn, behaviour, payload)
        else:
            await self._complete(conn, behaviour, payload)

    async def _stream(
        self, conn: Connection, behaviour: Behaviour, payload: Mapping[str, Any]
    ) -> None:
        frames = _Frames(str(payload.get("model", "fake")), self.requests)
        n = _completion_tokens(payload, behaviour.chunks)
        out = [_STREAM_HEAD, frames.role()]
        # Tokens are due on a fixed schedule from the request's start (like a model's
        # decode steps), so a busy machine delays a token without shifting all the rest.
        due = time.monotonic()
        for i in range(n + 1):
            if i in (behaviour.die_after, behaviour.hang_after) or i == n:
                await conn.send(b"".join(out))
                out = []
            if i == behaviour.die_after:
                conn.writer.transport.abort()
                return
            if i == behaviour.hang_after:
                await conn.pause(math.inf)
            if i == n:
                break
            delay = behaviour.ttft_s if i == 0 else behaviour.chunk_s
            if delay > 0:
                await conn.send(b"".join(out))
                out = []
                due += delay
                await conn.pause(due - time.monotonic())
            out.append(frames.content(i))
        out.append(frames.finish("length" if n < behaviour.chunks else "stop"))
        options = payload.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            out.append(frames.usage(_prompt_tokens(payload.get("messages")), n))
        out += [frame(_DONE), LAST_FRAME]
        await conn.send(b"".join(out))

    async def _complete(
        self, conn: Connection, behaviour: Behaviour, payload: Mapping[str, Any]
    ) -> None:
        n = _completion_tokens(payload, behaviour.chunks)
        await conn.pause(behaviour.ttft_s + behaviour.chunk_s * max(n - 1, 0))
        if behaviour.die_after is not None:
            conn.writer.transport.abort()
            return
        if behaviour.hang_after is not None:
            await conn.pause(math.inf)
        prompt = _prompt_tokens(payload.get("messages"))
        body = {
            "id": f"chatcmpl-{self.requests}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(payload.get("model", "fake")),
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "".join(f"tok{i} " for i in range(n)),
                    },
                    "finish_reason": "length" if n < behaviour.chunks else "stop",
                }
            ],
            "usage": {"prompt_tokens": prompt, "completion_tokens": n, "total_tokens": prompt + n},
        }
        await conn.send(json_response(200, body))

    async def _models(self, conn: Connection, request: Request) -> None:
        model = {"id": "fake", "object": "model", "created": 0, "owned_by": "fake-upstream"}
        await conn.send(json_response(200, {"object": "list", "data": [model]}))

    async def _control(self, conn: Connection, request: Request) -> None:
        try:
            self.behaviour = self.behaviour.updated(json.loads(request.body))
        except (ValueError, TypeError) as exc:
            await conn.send(json_response(400, _error_body(400, str(exc))))
            return
        await conn.send(json_response(200, asdict(self.behaviour)))

    async def _stats(self, conn: Connection, request: Request) -> None:
        stats = {"requests": self.requests, "cancelled": self.cancelled}
        await conn.send(json_response(200, stats))

    async def _not_found(self, conn: Connection, request: Request) -> None:
        message = f"no route {request.method} {request.path}"
        await conn.send(json_response(404, _error_body(404, message)))


@contextlib.contextmanager
def run_in_thread(behaviour: Behaviour | None = None) -> Iterator[str]:
    """Serve on a free loopback port from a thread of its own; yields the ``/v1`` URL."""
    loop = asyncio.new_event_loop()
    upstream = FakeUpstream(behaviour)
    thread = threading.Thread(target=loop.run_forever, name="fake-upstream", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(upstream.start(), loop).result(timeout=30)
        yield upstream.url
    finally:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(upstream.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


async def _serve_until_signal(behaviour: Behaviour, host: str, port: int) -> None:
    upstream = FakeUpstream(behaviour)
    await upstream.start(host, port)
    print(f"listening on {upstream.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await upstream.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ttft-ms", type=float, default=0.0)
    parser.add_argument("--chunk-ms", type=float, default=0.0)
    parser.add_argument("--chunks", type=int, default=Behaviour.chunks)
    parser.add_argument("--stall-ms", type=float, default=0.0)
    parser.add_argument("--fail-status", type=int, default=None)
    parser.add_argument("--die-after", type=int, default=None)
    parser.add_argument("--hang-after", type=int, default=None)
    args = parser.parse_args(argv)
    behaviour = Behaviour(
        ttft_s=args.ttft_ms / 1000,
        chunk_s=args.chunk_ms / 1000,
        chunks=args.chunks,
        fail_status=args.fail_status,
        stall_s=args.stall_ms / 1000,
        die_after=args.die_after,
        hang_after=args.hang_after,
    )
    asyncio.run(_serve_until_signal(behaviour, args.host, args.port))


if __name__ == "__main__":
    main()
