"""Server-sent events: OpenAI's ``data: {json}`` blocks ending with ``[DONE]``, and the
assistant's named events (``event: <kind>`` then ``data: {json}``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from pydantic import BaseModel
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

DONE = b"data: [DONE]\n\n"


def data_event(data: bytes) -> bytes:
    """A ``data:`` event of already encoded JSON."""
    return b"data: " + data + b"\n\n"


def sse_event(payload: BaseModel) -> bytes:
    return data_event(payload.model_dump_json().encode())


def named_event(kind: str, data: Any) -> bytes:
    """An ``event: <kind>`` whose data is ``data`` as JSON."""
    payload = json.dumps(data, ensure_ascii=False, default=str)
    return f"event: {kind}\ndata: {payload}\n\n".encode()


class SSEResponse(StreamingResponse):
    """A stream of events whose generator is always closed when the response ends,
    normally or because the client went away, so its ``finally`` runs at once.

    A client that disconnects cancels the stream even while it waits for its next event
    (a model's next token). One watcher task per response does it, instead of the anyio
    task group Starlette builds per streaming response: the gateway's hot path."""

    media_type = "text/event-stream"

    def __init__(
        self,
        events: AsyncGenerator[bytes, None],
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(
            events,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})},
            background=background,
        )
        self._events = events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streaming = asyncio.current_task()
        state = {"streaming": True, "gone": False}

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            if state["streaming"] and streaming is not None:
                state["gone"] = True
                streaming.cancel()

        watcher = asyncio.get_running_loop().create_task(watch())
        try:
            await send(
                {"type": "http.response.start", "status": self.status_code,
                 "headers": self.raw_headers}
            )  # fmt: skip
            async for chunk in self._events:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not state["gone"] or streaming is None:
                raise
            streaming.uncancel()  # the client left: a normal end for this response
        finally:
            state["streaming"] = False
            watcher.cancel()
            await self._events.aclose()
            if self.background is not None:  # after the last byte, whatever happened
                await self.background()
