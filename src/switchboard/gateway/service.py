"""The gateway's request path: limits → budget → route → stream → settle → record.

    open(principal, body)                      before any byte goes to the client
      ├─ rate limits: reserve 1 request and prompt + max_tokens tokens      (429)
      ├─ budget: reserve the most the request may cost                      (429)
      └─ route: providers in order until one sends a first token            (502/503)
    chunks(call)                               the stream, never buffered
    finish(call)                               once the answer is delivered (at once on
                                               a failure): settle tokens and spend to the
                                               real usage, metrics, trace, request log

Every request that reaches ``open`` is recorded once, refused or not. Nothing here
writes to disk on the request path: the request log batches in its own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Span

from switchboard.config import GatewaySettings
from switchboard.errors import BudgetExceededError, RateLimitError, RequestError
from switchboard.gateway.budget import BudgetHold, BudgetLedger
from switchboard.gateway.limiter import RateLimiter, Reservation, rate_limit_headers
from switchboard.gateway.pricing import PriceTable
from switchboard.gateway.routing import ModelRouter, RoutedStream
from switchboard.gateway.timing import StreamTimer, ms
from switchboard.gateway.types import (
    Principal,
    RequestRecord,
    StreamChunk,
    Usage,
    failure_kind,
)
from switchboard.observability.log_store import LogStore
from switchboard.observability.metrics import GatewayMetrics
from switchboard.observability.request_log import RequestLog
from switchboard.observability.tracing import Tracing

log = logging.getLogger(__name__)

#: Status recorded (and sent to nobody) when the client left before the answer ended.
CLIENT_CLOSED_REQUEST = 499
#: Template tokens around each message (role markers): the estimate errs on the high side.
_TOKENS_PER_MESSAGE = 4


def estimate_prompt_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """A cheap upper-leaning estimate (~3 characters per token) used for reservations;
    the provider's real count settles them."""
    chars = 0
    for message in messages:
        content = message.get("content")
        chars += len(content) if isinstance(content, str) else len(json.dumps(content))
        if message.get("tool_calls"):
            chars += len(json.dumps(message["tool_calls"]))
    return chars // 3 + _TOKENS_PER_MESSAGE * len(messages) + 1


def _sets_max_tokens(body: Mapping[str, Any]) -> bool:
    return any(isinstance(body.get(n), int) for n in ("max_completion_tokens", "max_tokens"))


def requested_output_tokens(body: Mapping[str, Any], default: int) -> int:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and value > 0:
            return value
    return default


@dataclass
class GatewayCall:
    """One request's state from admission to its record."""

    record: RequestRecord
    principal: Principal
    body: Mapping[str, Any]
    prompt_estimate: int
    timer: StreamTimer = field(default_factory=StreamTimer)
    reservation: Reservation | None = None
    hold: BudgetHold | None = None
    routed: RoutedStream | None = None
    usage: Usage | None = None
    token_chunks: int = 0
    output: list[str] = field(default_factory=list)
    span: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    trace: Span | None = None  # the request's span, when tracing is on
    finished: bool = False

    @property
    def headers(self) -> dict[str, str]:
        headers = {"x-request-id": self.record.request_id}
        if self.reservation is not None:
            headers.update(rate_limit_headers(self.reservation))
        if self.routed is not None:
            headers["x-switchboard-provider"] = self.routed.provider
        return headers


class Gateway:
    """Rate limits, budgets, routing and accounting around every model call."""

    def __init__(
        self,
        settings: GatewaySettings,
        router: ModelRouter,
        limiter: RateLimiter,
        ledger: BudgetLedger,
        prices: PriceTable,
        request_log: RequestLog | None,
        log_store: LogStore,
        metrics: GatewayMetrics,
        tracing: Tracing,
    ) -> None:
        self.created = int(time.time())
        self.settings = settings
        self.router = router
        self.limiter = limiter
        self.ledger = ledger
        self.prices = prices
        self.request_log = request_log
        self.log_store = log_store
        self.metrics = metrics
        self.tracing = tracing
        self._settling: set[asyncio.Future[None]] = set()  # shielded settles still running

    # -- admission ---------------------------------------------------------------------------
    async def open(
        self, principal: Principal, body: Mapping[str, Any], *, endpoint: str
    ) -> GatewayCall:
        """Admit the request and wait for its first token; raise the refusal otherwise
        (the refusal is recorded). Cancelling this (client gone) releases what it held."""
        call = self._new_call(principal, body, endpoint)
        try:
            chain = self.router.chain(call.record.model)
            max_out = requested_output_tokens(body, self.settings.limits.reserve_max_tokens)
            tokens = call.prompt_estimate + max_out
            call.reservation = await self.limiter.reserve(
                principal.key_id, principal.rpm, principal.tpm, tokens
            )
            worst = max(self.prices.estimate(t.model, call.prompt_estimate, max_out) for t in chain)
            call.hold = await self.ledger.reserve(principal, worst, now=call.record.started_at)
            upstream = {**body, "stream": True, "stream_options": {"include_usage": True}}
            if not _sets_max_tokens(body):  # the reservation is a bound only if it binds
                upstream["max_tokens"] = max_out
            call.routed = await self.router.open(
                call.record.model,
                upstream,
                request_id=call.record.request_id,
                prompt_tokens=call.prompt_estimate,
                attempts=call.record.attempts,
            )
        except BaseException as exc:
            await self.finish(call, exc)
            raise
        call.record.provider = call.routed.provider
        call.record.served_model = call.routed.model
        return call

    def _new_call(
        self, principal: Principal, body: Mapping[str, Any], endpoint: str
    ) -> GatewayCall:
        messages = body.get("messages") or []
        record = RequestRecord(
            request_id=uuid.uuid4().hex,
            started_at=time.time(),
            key_id=principal.key_id,
            tenant=principal.tenant,
            endpoint=endpoint,
            model=str(body.get("model", "")),
            stream=bool(body.get("stream")),
        )
        if self.settings.log.record_text and messages:
            record.input_text = json.dumps(messages, ensure_ascii=False)
        call = GatewayCall(record, principal, body, estimate_prompt_tokens(messages))
        call.trace = call.span.enter_context(self.tracing.request_span(record, body))
        self.metrics.in_flight.inc()
        return call

    # -- streaming ---------------------------------------------------------------------------
    async def chunks(self, call: GatewayCall) -> AsyncGenerator[StreamChunk, None]:
        """Every chunk of the admitted stream, as it arrives. Raises ``UpstreamError`` if the
        provider fails mid-stream. A stream that fails or is abandoned is finished here at
        once; after a complete one the caller calls ``finish`` once the answer is out, so
        the bookkeeping never delays the client."""
        routed = call.routed
        if routed is None:
            raise ValueError("chunks() of a request that was not admitted")
        try:
            for chunk in routed.head:
                self._account(call, chunk)
                yield chunk
            async for chunk in routed.rest:
                self._account(call, chunk)
                yield chunk
        except BaseException as exc:
            await routed.aclose()
            await self.finish(call, exc)
            raise
        await routed.aclose()

    def _account(self, call: GatewayCall, chunk: StreamChunk) -> None:
        if chunk.tokens:
            call.timer.token()
            call.token_chunks += 1
            if self.settings.log.record_text:
                call.output.append(_delta_text(chunk.data))
        if chunk.usage is not None:
            call.usage = chunk.usage
        if chunk.queue_wait_s is not None:
            call.record.queue_wait_ms = ms(chunk.queue_wait_s)

    # -- settling ----------------------------------------------------------------------------
    async def finish(self, call: GatewayCall, error: BaseException | None = None) -> None:
        """Settle limits and spend to what was used, then metrics, trace and log; once."""
        if call.finished:
            return
        call.finished = True
        record = call.record
        try:
            usage = self._usage(call, error)
            record.prompt_tokens = usage.prompt_tokens
            record.completion_tokens = usage.completion_tokens
            if record.served_model is not None:
                record.cost_usd = self.prices.cost(record.served_model, usage)
            record.status, record.error_code = _status(error)
            _fill_timings(record, call.timer)
            if call.output:
                record.output_text = "".join(call.output)
            # Shielded: a client leaving now must not cancel the settling half-way (a
            # budget hold left reserved, spend never counted).
            settling = asyncio.ensure_future(self._settle(call, usage))
            self._settling.add(settling)
            settling.add_done_callback(self._settling.discard)
            await asyncio.shield(settling)
        finally:
            self.metrics.in_flight.dec()
            self.metrics.observe(record, call.timer.gaps)
            for attempt in record.attempts:
                if attempt.error is not None:
                    self.metrics.provider_failed(attempt.provider, failure_kind(attempt.error))
            if isinstance(error, RateLimitError):
                self.metrics.rate_limited(error.error_type)
            elif isinstance(error, BudgetExceededError):
                self.metrics.rate_limited("budget")
            self.tracing.attempt_spans(call.trace, record.attempts)
            call.span.close()
            if self.request_log is not None:
                self.request_log.submit(record)

    def _usage(self, call: GatewayCall, error: BaseException | None) -> Usage:
        if call.usage is not None:
            return call.usage
        if call.routed is None:  # refused before any provider ran: nothing was used
            return Usage(0, 0)
        # The stream broke (or the client left) before the usage chunk: count what was sent.
        return Usage(call.prompt_estimate, call.token_chunks)

    async def _settle(self, call: GatewayCall, usage: Usage) -> None:
        """Each settle on its own: a failure must neither break the answer already sent
        nor keep the other from settling."""
        request_id = call.record.request_id
        if call.reservation is not None:
            try:
                await self.limiter.settle(call.reservation, usage.total_tokens)
            except Exception:
                log.exception("settling the rate limit of request %s failed", request_id)
        if call.hold is not None:
            try:
                await self.ledger.settle(call.hold, call.record.cost_usd)
            except Exception:
                log.exception("settling the budget of request %s failed", request_id)

    async def aclose(self) -> None:
        await self.router.aclose()
        await self.limiter.aclose()
        await self.ledger.aclose()
        if self.request_log is not None:
            await asyncio.to_thread(self.request_log.close)
        self.log_store.close()
        self.tracing.shutdown()


def _status(error: BaseException | None) -> tuple[int, str | None]:
    if error is None:
        return 200, None
    if isinstance(error, RequestError):
        return error.status_code, error.code
    if isinstance(error, GeneratorExit | asyncio.CancelledError):
        return CLIENT_CLOSED_REQUEST, "client_closed_request"
    return 500, "internal_error"


def _fill_timings(record: RequestRecord, timer: StreamTimer) -> None:
    record.ttft_ms = ms(timer.ttft_s)
    record.itl_mean_ms = ms(timer.mean_gap_s)
    record.itl_p99_ms = ms(timer.p99_gap_s)
    record.total_ms = ms(timer.elapsed_s())


def _delta_text(data: bytes) -> str:
    try:
        choices = json.loads(data).get("choices") or [{}]
    except ValueError:
        return ""
    return str((choices[0].get("delta") or {}).get("content") or "")
