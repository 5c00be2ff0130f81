"""A pure ASGI middleware refusing request bodies over a size limit before they are read.

Every route has a limit: ``max_bytes``, or the one of the longest matching path prefix in
``routes`` (uploads have their own). A request whose ``Content-Length`` is over it is
refused at once with 413 and OpenAI-shaped JSON, the body unread (Starlette would spool a
multipart upload to disk, FastAPI parse a JSON body, before any route runs). A body sent
without a length (chunked) is counted as it streams: at the limit the 413 is sent, and
the app is told the client disconnected. A refusal closes the connection, so the server
reads none of the rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def has_body(scope: Scope) -> bool:
    """The request declares a body (a length over 0, or a chunked one)."""
    headers = dict(scope["headers"])
    length = headers.get(b"content-length", b"0")
    return b"transfer-encoding" in headers or not (length.isdigit() and int(length) == 0)


class BodySizeLimit:
    def __init__(
        self, app: ASGIApp, *, max_bytes: int, routes: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # longest prefix first: the most specific route wins
        self.routes = sorted((routes or {}).items(), key=lambda item: -len(item[0]))

    def limit(self, path: str) -> int:
        return next(
            (limit for prefix, limit in self.routes if path.startswith(prefix)), self.max_bytes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit(scope["path"])
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > max_bytes:
            await refuse(send, 413, too_large(max_bytes), close=True)
            return
        received = 0
        refused = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            received += len(message.get("body", b""))
            if received > max_bytes:
                # Answer now (a form parser would turn an exception into its own 400), then
                # tell the app the client left, and drop whatever it still sends.
                refused = True
                if not started:
                    await refuse(send, 413, too_large(max_bytes), close=True)
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise


def too_large(max_bytes: int) -> dict[str, object]:
    return {
        "error": {
            "message": f"The request body is over the limit of {max_bytes} bytes.",
            "type": "invalid_request_error",
            "param": None,
            "code": "payload_too_large",
        }
    }


async def refuse(
    send: Send,
    status: int,
    payload: Mapping[str, object],
    *,
    close: bool,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Send ``payload`` as the JSON response; ``close``: ask the server to close the
    connection afterwards instead of reading (and discarding) the rest of the body."""
    body = json.dumps(payload).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    if close:
        raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
