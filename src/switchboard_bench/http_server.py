"""A minimal HTTP/1.1 server side on raw asyncio streams: one client connection's request
parsing (keep-alive, Content-Length bodies), pauses that notice hang-ups, and the bytes of a
JSON response or a chunked-encoding frame."""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

_MAX_HEAD = 65536
LAST_FRAME = b"0\r\n\r\n"  # ends a chunked body


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes
    keep_alive: bool


class ClientGone(Exception):
    """The client hung up while a response was waiting."""


class Connection:
    """One client socket: buffered request parsing, and hang-ups noticed during pauses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buffer = bytearray()
        self.eof = False
        self.responding = False
        self._read: asyncio.Future[bytes] | None = None

    async def request(self) -> Request | None:
        """The next request, or ``None`` once the client closed the connection."""
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            if self.eof or len(self.buffer) > _MAX_HEAD:
                return None
            await self._fill(None)
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        del self.buffer[: end + 4]
        method, path, version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            if self.eof:
                return None
            await self._fill(None)
        body = bytes(self.buffer[:length])
        del self.buffer[:length]
        connection = headers.get("connection", "")
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        return Request(method, path.split("?", 1)[0], body, keep_alive)

    async def pause(self, seconds: float) -> None:
        """Sleep ``seconds`` (``math.inf``: forever); raise ``ClientGone`` on a hang-up."""
        if seconds <= 0:
            return
        deadline = time.monotonic() + seconds
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await self._fill(None if math.isinf(left) else left)
        raise ClientGone

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def _fill(self, timeout: float | None) -> None:
        if self._read is None:
            self._read = asyncio.ensure_future(self.reader.read(65536))
        done, _ = await asyncio.wait({self._read}, timeout=timeout)
        if done:
            data = self._read.result()
            self._read = None
            self.buffer += data
            self.eof = not data

    def close(self) -> None:
        if self._read is not None:
            self._read.cancel()
        self.writer.close()


def frame(data: bytes) -> bytes:
    """``data`` as one frame of a chunked-encoding body."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def json_response(status: int, body: Any) -> bytes:
    """A whole response: ``status`` and ``body`` as JSON, with its Content-Length."""
    payload = json.dumps(body).encode()
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    head = f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\n"
    return f"{head}content-length: {len(payload)}\r\n\r\n".encode() + payload
