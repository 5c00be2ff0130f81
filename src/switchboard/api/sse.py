"""Server-sent events as OpenAI streams them: ``data: {json}`` blocks, then ``[DONE]``."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from pydantic import BaseModel
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

DONE = b"data: [DONE]\n\n"


def sse_event(payload: BaseModel) -> bytes:
    return b"data: " + payload.model_dump_json().encode() + b"\n\n"


class SSEResponse(StreamingResponse):
    """A stream of events whose generator is always closed when the response ends,
    normally or because the client went away, so its ``finally`` runs at once."""

    media_type = "text/event-stream"

    def __init__(self, events: AsyncGenerator[bytes, None]) -> None:
        super().__init__(events, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self._events = events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._events.aclose()
