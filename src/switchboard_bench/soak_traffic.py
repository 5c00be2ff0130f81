"""The soak's traffic: closed-loop clients each going round a mix of requests (chat
completions streamed and not, assistant turns, searches, Markdown uploads, streams left
after their first event), every request timed and turned into an ``Outcome``.

Uploads accept both answers of ``POST /v1/collections/{c}/documents``: the ingest report
(200) or a background job (202) that is polled until it ends.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from switchboard.gateway.sse_lines import SSEDecoder
from switchboard_bench.http_load import carries_content, is_error_event
from switchboard_bench.soak_stats import BODY_CHARS, Kind, Outcome

# Each client goes round this mix, client k starting 2k steps in, so that at any moment
# the clients are doing different things.
MIX: tuple[Kind, ...] = (
    Kind.CHAT_STREAM, Kind.SEARCH, Kind.ASSISTANT, Kind.CHAT,
    Kind.SEARCH, Kind.UPLOAD, Kind.DISCONNECT, Kind.ASSISTANT,
)  # fmt: skip
TOPICS = ("hiking boots", "rain jackets", "tents", "sleeping bags", "headlamps", "backpacks")
QUESTIONS = (
    "How long do I have to return an item?",
    "How much does shipping to the UK cost?",
    "When will my refund arrive if I paid by card?",
    "Can I change the delivery address of an order?",
    "Where is my order {order_id}?",
    "What is the status of order {order_id}?",
)
SEARCHES = (
    "refund timeline", "delivery times to the US", "warranty claim", "gift cards",
    "damaged parcel", "student discount", "customs and duties", "size guide for boots",
)  # fmt: skip
UPLOAD_NAMES = 8  # uploads rewrite soak-0.md .. soak-7.md: the collection stays small
TERMINAL_JOB_STATES = frozenset({"succeeded", "failed", "cancelled"})
JOB_POLL_S = 0.2


@dataclass(frozen=True)
class Reply:
    """What a request came to, before it is timed into an ``Outcome``."""

    status: int
    error: str | None = None
    stream_error: str | None = None
    body: str | None = None


def reply_of(response: httpx.Response) -> Reply:
    """A read response: an error names its status and the start of its body."""
    if response.status_code < 400:
        return Reply(response.status_code)
    text = response.text
    body = text[:BODY_CHARS] if response.status_code >= 500 else None
    return Reply(response.status_code, f"HTTP {response.status_code}: {text[:200]}", body=body)


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """A response's JSON object, or None when its body is not one."""
    try:
        value = response.json()
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def error_type(payload: bytes) -> str:
    """The ``type`` of an in-band ``{"error": {...}}`` event (``unknown`` if unreadable)."""
    try:
        return str(json.loads(payload)["error"].get("type") or "unknown")
    except (ValueError, KeyError, TypeError, AttributeError):
        return "unknown"


async def sse_payloads(response: httpx.Response) -> AsyncIterator[bytes]:
    """The ``data`` payloads of a streamed response's events, as they arrive."""
    decoder = SSEDecoder()
    async for piece in response.aiter_bytes():
        for payload in decoder.feed(piece):
            yield payload
    for payload in decoder.close():
        yield payload


async def read_stream(response: httpx.Response, done: Callable[[bytes], bool]) -> Reply:
    """Read an SSE response to its end: an error event, or no event for which ``done`` is
    true (``[DONE]``, the assistant's ``done`` event), is a failed request."""
    if response.status_code != 200:
        await response.aread()
        return reply_of(response)
    finished = False
    async for payload in sse_payloads(response):
        if is_error_event(payload):
            kind = error_type(payload)
            body = payload[:BODY_CHARS].decode(errors="replace")
            return Reply(200, f"stream error: {body[:200]}", kind, body)
        finished = finished or done(payload)
    return Reply(200) if finished else Reply(200, "stream ended before its last event")


def is_chat_done(payload: bytes) -> bool:
    return payload == b"[DONE]"


def is_turn_done(payload: bytes) -> bool:
    """The assistant's ``done`` event: the only one that names the session."""
    return payload.startswith(b"{") and b'"session_id"' in payload


@dataclass
class Traffic:
    """The requests of the mix against one server; ``n`` makes each request a little
    different (prompt, question, customer, upload) from its neighbours."""

    base_url: str
    token: str
    model: str
    customers: Sequence[tuple[str, str]]  # (customer id, one of their order ids)
    customer_tokens: Mapping[str, str] = field(default_factory=dict)  # x-customer-token
    upload_collection: str = "soak"
    timeout_s: float = 120.0
    sessions: dict[str, str] = field(default_factory=dict)  # customer id -> last session
    transport: httpx.AsyncBaseTransport | None = None  # None: the network

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=self.timeout_s,
            transport=self.transport,
        )

    def chat_body(self, n: int, stream: bool) -> dict[str, object]:
        topic = TOPICS[n % len(TOPICS)]
        prompt = f"Write one short sentence about {topic} (note {n})."
        return {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": 32,
            "stream": stream,
        }

    def turn_body(self, n: int) -> dict[str, object]:
        customer, order_id = self.customers[n % len(self.customers)]
        message = QUESTIONS[n % len(QUESTIONS)].format(order_id=order_id)
        session = self.sessions.get(customer) if n % 3 else None  # every third turn: new
        return {"customer_id": customer, "message": message, "session_id": session}

    async def chat(self, client: httpx.AsyncClient, n: int) -> Reply:
        response = await client.post("/v1/chat/completions", json=self.chat_body(n, False))
        return reply_of(response)

    async def chat_stream(self, client: httpx.AsyncClient, n: int) -> Reply:
        body = self.chat_body(n, True)
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            return await read_stream(response, is_chat_done)

    def turn_headers(self, body: Mapping[str, Any]) -> dict[str, str] | None:
        """The customer token of the turn's customer, when the server verifies them."""
        token = self.customer_tokens.get(str(body["customer_id"]))
        return {"x-customer-token": token} if token else None

    async def assistant(self, client: httpx.AsyncClient, n: int) -> Reply:
        body = self.turn_body(n)
        headers = self.turn_headers(body)
        async with client.stream(
            "POST", "/v1/assistant/chat", json=body, headers=headers
        ) as response:
            reply = await read_stream(response, self._remember_session(str(body["customer_id"])))
        return reply

    def _remember_session(self, customer: str) -> Callable[[bytes], bool]:
        def done(payload: bytes) -> bool:
            if not is_turn_done(payload):
                return False
            self.sessions[customer] = str(json.loads(payload)["session_id"])
            return True

        return done

    async def search(self, client: httpx.AsyncClient, n: int) -> Reply:
        body = {"query": SEARCHES[n % len(SEARCHES)], "collection": "shop", "top_k": 4}
        return reply_of(await client.post("/v1/search", json=body))

    async def upload(self, client: httpx.AsyncClient, n: int) -> Reply:
        name = f"soak-{n % UPLOAD_NAMES}.md"
        text = f"# Soak note {n}\n\nA small note about {TOPICS[n % len(TOPICS)]}, version {n}.\n"
        path = f"/v1/collections/{self.upload_collection}/documents"
        response = await client.post(path, files={"files": (name, text.encode(), "text/markdown")})
        if response.status_code == 202:
            return await self._finish_job(client, response)
        if response.status_code != 200:
            return reply_of(response)
        report = json_object(response)
        if report is None or report.get("failed"):
            return Reply(200, f"ingest failed: {response.text[:200]}")
        return Reply(200)

    async def _finish_job(self, client: httpx.AsyncClient, accepted: httpx.Response) -> Reply:
        """Poll an upload's job until it ends (within the request timeout)."""
        job = json_object(accepted)
        if job is None or "id" not in job:
            return Reply(202, f"202 without a job: {accepted.text[:200]}")
        path = f"/v1/collections/{self.upload_collection}/jobs/{job['id']}"
        url = accepted.headers.get("location") or path
        deadline = time.monotonic() + self.timeout_s
        while job.get("status") not in TERMINAL_JOB_STATES:
            if time.monotonic() > deadline:
                return Reply(202, f"job {job['id']} still {job.get('status')}")
            await asyncio.sleep(JOB_POLL_S)
            polled = await client.get(url)
            if polled.status_code != 200:
                return reply_of(polled)
            polled_job = json_object(polled)
            if polled_job is None:
                return Reply(200, f"unreadable job: {polled.text[:200]}")
            job = polled_job
        if job["status"] != "succeeded":
            return Reply(202, f"job {job['status']}: {json.dumps(job)[:200]}")
        return Reply(202)

    async def disconnect(self, client: httpx.AsyncClient, n: int) -> Reply:
        """Open a stream (a chat completion or an assistant turn, in turn), leave it after
        its first content: closing the response mid-body closes the connection."""
        chat = n % 2 == 0
        path, body = (
            ("/v1/chat/completions", self.chat_body(n, True))
            if chat
            else ("/v1/assistant/chat", self.turn_body(n))
        )
        headers = None if chat else self.turn_headers(body)
        async with client.stream("POST", path, json=body, headers=headers) as response:
            if response.status_code != 200:
                await response.aread()
                return reply_of(response)
            async for payload in sse_payloads(response):
                if is_error_event(payload):
                    return Reply(200, "stream error", error_type(payload))
                if not chat or carries_content(payload):
                    break
        return Reply(200)


Request = Callable[[Traffic, httpx.AsyncClient, int], Awaitable[Reply]]
REQUESTS: dict[Kind, Request] = {
    Kind.CHAT: Traffic.chat,
    Kind.CHAT_STREAM: Traffic.chat_stream,
    Kind.ASSISTANT: Traffic.assistant,
    Kind.SEARCH: Traffic.search,
    Kind.UPLOAD: Traffic.upload,
    Kind.DISCONNECT: Traffic.disconnect,
}


async def timed(
    kind: Kind, request: Awaitable[Reply], started: float, clock: Callable[[], float]
) -> Outcome:
    """Run one request; a transport failure or timeout is an outcome without a status."""
    begin = clock()
    try:
        reply = await request
    except httpx.HTTPError as exc:
        reply = Reply(0, f"{type(exc).__name__}: {exc}".rstrip(": "))
    end = clock()
    return Outcome(
        kind, end - started, end - begin, reply.status, reply.error, reply.stream_error, reply.body
    )


async def run_client(
    traffic: Traffic,
    k: int,
    numbers: itertools.count[int],
    record: Callable[[Outcome], None],
    started: float,
    clock: Callable[[], float] = time.perf_counter,
) -> None:
    """Client ``k``: one request after another round ``MIX`` until cancelled."""
    async with traffic.client() as client:
        for step in itertools.count(2 * k):
            kind = MIX[step % len(MIX)]
            request = REQUESTS[kind](traffic, client, next(numbers))
            record(await timed(kind, request, started, clock))
