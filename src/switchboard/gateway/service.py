"""The gateway's request path: limits → budget → guard → cache → route → stream → record.

    open(principal, body)                      before any byte goes to the client
      ├─ size: message count and characters, then the context window        (400)
      │  (``admission``; the local engine's prompt is counted exactly)
      ├─ rate limits: reserve 1 request and prompt + max_tokens tokens      (429)
      │  (without max_tokens: the rest of the window, else reserve_max_tokens)
      ├─ budget: reserve the most the request may cost                      (429)
      ├─ input guard: PII redacted, injection and abuse refused             (400)
      ├─ cache: an exact or semantic hit answers without a provider
      └─ route: providers in order until one sends a first token            (502/503)
         (all failed: a matching cached answer, if any, marked as such)
    chunks(call)                               the stream, never buffered (the output
                                               guard holds back a few words at most)
    finish(call)                               once the answer is delivered (at once on
                                               a failure): settle tokens and spend to the
                                               real usage, cache the answer, metrics,
                                               trace, request log

Every request that reaches ``open`` is recorded once, refused or not. Nothing here
writes to disk on the request path: the request log batches in its own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Span

from switchboard.cache.service import ResponseCache
from switchboard.cache.types import CachedAnswer, CacheHit
from switchboard.config import GatewaySettings, RouteTarget
from switchboard.errors import (
    BudgetExceededError,
    ContentPolicyError,
    RateLimitError,
    RequestError,
    outcome,
)
from switchboard.gateway import cache_stage
from switchboard.gateway.admission import (
    check_size,
    count_prompt,
    output_bounds,
    requested_output_tokens,
)
from switchboard.gateway.budget import BudgetHold, BudgetLedger
from switchboard.gateway.guard_stage import (
    GuardedRequest,
    check_input,
    moderate_chunks,
    output_moderator,
)
from switchboard.gateway.limiter import RateLimiter, Reservation, rate_limit_headers
from switchboard.gateway.pricing import PriceTable
from switchboard.gateway.routing import ModelRouter, RoutedStream
from switchboard.gateway.timing import StreamTimer, ms
from switchboard.gateway.types import (
    Principal,
    PromptCounter,
    StreamChunk,
    Usage,
)
from switchboard.guard.scanner import Guard
from switchboard.observability.log_store import LogStore
from switchboard.observability.metrics import GatewayMetrics
from switchboard.observability.record import RequestRecord, failure_kind
from switchboard.observability.request_log import RequestLog
from switchboard.observability.tracing import Tracing

log = logging.getLogger(__name__)

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
    guarded: GuardedRequest | None = None  # what the input guard found and changed
    cached: CacheHit | None = None  # the answer comes from the cache
    cache_result: str | None = None  # "exact", "semantic", "fallback"; "miss"; None: not looked up
    cacheable: bool = False  # the answer may be stored once complete
    finish_reason: str | None = None  # the provider's, kept for the cache
    turn: RequestRecord | None = None  # a model call of an assistant turn: metered into it

    @property
    def headers(self) -> dict[str, str]:
        headers = {"x-request-id": self.record.request_id}
        if self.reservation is not None:
            headers.update(rate_limit_headers(self.reservation))
        if self.routed is not None:
            headers["x-switchboard-provider"] = self.routed.provider
        if self.cached is not None and self.cache_result is not None:
            headers["x-switchboard-cache"] = self.cache_result
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
        *,
        guard: Guard | None = None,
        cache: ResponseCache | None = None,
        counters: Mapping[str, PromptCounter] | None = None,
    ) -> None:
        """``counters``: by provider name, the ones that count prompts exactly (the local
        engine), so a prompt over their window is refused before the guard runs."""
        self.created = int(time.time())
        self.counters = dict(counters or {})
        self.guard = guard
        self.cache = cache
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
        self,
        principal: Principal,
        body: Mapping[str, Any],
        *,
        endpoint: str,
        turn: RequestRecord | None = None,
    ) -> GatewayCall:
        """Admit the request and wait for its first token; raise the refusal otherwise
        (the refusal is recorded). Cancelling this (client gone) releases what it held.

        ``turn``: the request is a model call of an assistant turn, whose record it is
        metered into (tokens, cost, the providers tried) instead of a record of its own.
        The turn has counted its request and screens and caches the conversation itself,
        so the call reserves tokens and budget only, without the guard or the cache."""
        call = self._new_call(principal, body, endpoint, turn)
        try:
            chain = self.router.chain(call.record.model)
            requested = requested_output_tokens(body)
            await self._check_size(call, body, chain, requested)
            default = self.settings.limits.reserve_max_tokens
            bounds = output_bounds(chain, call.prompt_estimate, requested, default)
            call.reservation = await self.limiter.reserve(
                principal.key_id,
                principal.rpm if turn is None else None,
                principal.tpm,
                call.prompt_estimate + max(bounds),
            )
            worst = max(
                self.prices.estimate(t.model, call.prompt_estimate, out)
                for t, out in zip(chain, bounds, strict=True)
            )
            call.hold = await self.ledger.reserve(principal, worst, now=call.record.started_at)
            if turn is None:
                prefetch = self._prefetch(body)  # the question's embedding, while guarding
                try:
                    body = await self._guard_input(call, body)
                finally:
                    if prefetch is not None:
                        await prefetch
                        self._forget_if_personal(call, body)
                if await self._from_cache(call, body):
                    return call
            upstream = {**body, "stream": True, "stream_options": {"include_usage": True}}
            try:
                call.routed = await self.router.open(
                    call.record.model,
                    upstream,
                    request_id=call.record.request_id,
                    prompt_tokens=call.prompt_estimate,
                    attempts=call.record.attempts,
                    # the reservation is a bound only if it binds where the window is unknown
                    output_cap=default if requested is None else None,
                )
            except RequestError as exc:
                if exc.status_code < 500 or turn is not None:
                    raise
                if not await self._from_cache(call, body, failed=True):
                    raise
                return call
        except BaseException as exc:
            await self.finish(call, exc)
            raise
        call.record.provider = call.routed.provider
        call.record.served_model = call.routed.model
        return call

    async def _check_size(
        self,
        call: GatewayCall,
        body: Mapping[str, Any],
        chain: Sequence[RouteTarget],
        requested: int | None,
    ) -> None:
        """Message count and characters, then the context window; the local engine's
        exact count replaces the estimate of the prompt's tokens."""
        messages = body.get("messages") or []
        check_size(messages, self.settings.limits)
        call.prompt_estimate = estimate_prompt_tokens(messages)
        if self.settings.log.record_text and messages and self.guard is None:
            call.record.input_text = json.dumps(messages, ensure_ascii=False)  # else once guarded
        if self.counters:
            exact = await asyncio.to_thread(count_prompt, messages, chain, self.counters, requested)
            if exact is not None:
                call.prompt_estimate = exact

    def _prefetch(self, body: Mapping[str, Any]) -> asyncio.Future[None] | None:
        return cache_stage.prefetch(self.cache, body) if self.cache is not None else None

    def _forget_if_personal(self, call: GatewayCall, body: Mapping[str, Any]) -> None:
        if self.cache is not None and call.guarded is not None and call.guarded.personal:
            query = cache_stage.query_of(call.body)
            if query:
                self.cache.forget(query)

    async def _guard_input(self, call: GatewayCall, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """The body the providers get (PII redacted); raises if the policy blocks it."""
        if self.guard is None:
            return body
        cancelled = threading.Event()  # set when this task is cancelled (client gone)
        try:
            call.guarded = await asyncio.to_thread(check_input, self.guard, body, cancelled.is_set)
        finally:
            cancelled.set()
        if self.settings.log.record_text:  # the log keeps what the providers were sent
            call.record.input_text = json.dumps(call.guarded.body["messages"], ensure_ascii=False)
        if call.guarded.refusal is not None:
            raise ContentPolicyError(call.guarded.refusal, param="messages")
        return call.guarded.body

    async def _from_cache(
        self, call: GatewayCall, body: Mapping[str, Any], *, failed: bool = False
    ) -> bool:
        """Look the request up; on a hit the call is answered from the cache. After every
        provider ``failed``, a sampled request may be answered too (better than nothing)."""
        cache = self.cache
        if cache is None or (call.guarded is not None and call.guarded.personal):
            return False
        settings = cache.settings
        shareable = cache_stage.shareable(body, settings)
        if failed:
            if not settings.serve_on_failure or body.get("tools") or body.get("functions"):
                return False
        elif not shareable:
            return False
        call.cacheable = shareable and not failed
        hit = await cache_stage.lookup(cache, call.principal.tenant, body, failed=failed)
        if hit is None:
            call.cache_result = None if failed else "miss"
            return False
        call.cached = hit
        call.cache_result = "fallback" if failed else hit.kind.value
        call.cacheable = False
        call.record.cache_hit = True
        return True

    def _new_call(
        self,
        principal: Principal,
        body: Mapping[str, Any],
        endpoint: str,
        turn: RequestRecord | None = None,
    ) -> GatewayCall:
        record = RequestRecord(
            request_id=uuid.uuid4().hex,
            started_at=time.time(),
            key_id=principal.key_id,
            tenant=principal.tenant,
            endpoint=endpoint,
            model=str(body.get("model", "")),
            stream=bool(body.get("stream")),
        )
        call = GatewayCall(record, principal, body, prompt_estimate=0, turn=turn)  # sized later
        if turn is None:  # a turn's model call is traced as a stage of the turn
            call.trace = call.span.enter_context(self.tracing.request_span(record, body))
        self.metrics.in_flight.inc()
        return call

    # -- streaming ---------------------------------------------------------------------------
    async def chunks(self, call: GatewayCall) -> AsyncGenerator[StreamChunk, None]:
        """Every chunk of the admitted stream, as it arrives. Raises ``UpstreamError`` if the
        provider fails mid-stream. A stream that fails or is abandoned is finished here at
        once; after a complete one the caller calls ``finish`` once the answer is out, so
        the bookkeeping never delays the client."""
        if call.cached is not None:
            for chunk in cache_stage.cached_chunks(
                call.cached.answer, call.record.model, call.record.request_id
            ):
                self._account(call, chunk)
                self._keep_text(call, chunk)
                yield chunk
            return
        routed = call.routed
        if routed is None:
            raise ValueError("chunks() of a request that was not admitted")
        source = self._provider_chunks(call, routed)
        if self.guard is not None and call.guarded is not None:
            moderator = output_moderator(self.guard, call.guarded, call.body)
            used = functools.partial(self._usage, call, None)
            source = moderate_chunks(source, moderator, call.guarded, used)
        try:
            async for chunk in source:
                if chunk.usage is not None:  # the provider's, or the output guard's count
                    call.usage = chunk.usage
                self._keep_text(call, chunk)
                yield chunk
        except BaseException as exc:
            await routed.aclose()
            await self.finish(call, exc)
            raise
        finally:
            await source.aclose()
        await routed.aclose()

    async def _provider_chunks(
        self, call: GatewayCall, routed: RoutedStream
    ) -> AsyncGenerator[StreamChunk, None]:
        for chunk in routed.head:
            self._account(call, chunk)
            yield chunk
        async for chunk in routed.rest:
            self._account(call, chunk)
            yield chunk

    def _account(self, call: GatewayCall, chunk: StreamChunk) -> None:
        if chunk.tokens:
            call.timer.token()
            call.token_chunks += 1
        if chunk.usage is not None:
            call.usage = chunk.usage
        if chunk.queue_wait_s is not None:
            call.record.queue_wait_ms = ms(chunk.queue_wait_s)

    def _keep_text(self, call: GatewayCall, chunk: StreamChunk) -> None:
        """The answer's text as the client got it (after the output guard), for the
        request log and the cache, and (for the cache) why it finished."""
        if chunk.tokens and (self.settings.log.record_text or call.cacheable):
            call.output.append(_delta_text(chunk.data))
        if call.cacheable and b'"finish_reason"' in chunk.data:
            call.finish_reason = _finish_reason(chunk.data) or call.finish_reason

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
            record.status, record.error_code = outcome(error)
            _fill_timings(record, call.timer)
            if call.guarded is not None:
                record.guard_events = call.guarded.events
            if call.output and self.settings.log.record_text:
                output = "".join(call.output)  # as the client got it: mask its data again
                record.output_text = (
                    call.guarded.placeholders.mask(output) if call.guarded else output
                )
            if error is None and self._should_store(call):
                self._store(call)
            # Shielded: a client leaving now must not cancel the settling half-way (a
            # budget hold left reserved, spend never counted).
            settling = asyncio.ensure_future(self._settle(call, usage))
            self._settling.add(settling)
            settling.add_done_callback(self._settling.discard)
            await asyncio.shield(settling)
        finally:
            self.metrics.in_flight.dec()
            if call.turn is None:
                self.metrics.observe(record, call.timer.gaps)
            for attempt in record.attempts:
                if attempt.error is not None:
                    self.metrics.provider_failed(attempt.provider, failure_kind(attempt.error))
            if isinstance(error, RateLimitError):
                self.metrics.rate_limited(error.error_type)
            elif isinstance(error, BudgetExceededError):
                self.metrics.rate_limited("budget")
            if record.guard_events:
                self.metrics.guarded("chat", record.guard_events)
            if call.cache_result is not None:
                self.metrics.cache_lookup("chat", call.cache_result)
            self.tracing.attempt_spans(call.trace, record.attempts)
            call.span.close()
            if call.turn is not None:
                meter_into(call.turn, record)
            elif self.request_log is not None:
                self.request_log.submit(record)

    def _should_store(self, call: GatewayCall) -> bool:
        guarded = call.guarded
        return (
            self.cache is not None
            and call.cacheable
            and call.cached is None
            and not (guarded is not None and (guarded.changed or guarded.blocked))
            and bool(call.output)
        )

    def _store(self, call: GatewayCall) -> None:
        """Stores the answer from a worker thread; ``finish`` already runs after the
        client's last byte, and a failed write only loses a future hit."""
        assert self.cache is not None
        body = call.guarded.body if call.guarded is not None else call.body
        extra = {"model": call.record.served_model, "finish_reason": call.finish_reason}
        answer = CachedAnswer("".join(call.output), extra)
        tenant = call.principal.tenant
        task = asyncio.ensure_future(
            asyncio.to_thread(cache_stage.put, self.cache, tenant, body, answer)
        )
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

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
        if self._settling:  # settles and cache writes still running
            await asyncio.gather(*self._settling, return_exceptions=True)
        if self.cache is not None:
            await asyncio.to_thread(self.cache.close)
        if self.request_log is not None:
            await asyncio.to_thread(self.request_log.close)
        self.log_store.close()
        self.tracing.shutdown()


def meter_into(turn: RequestRecord, call: RequestRecord) -> None:
    """A model call's use added to its turn's record: a turn of two calls is their sum."""
    turn.prompt_tokens += call.prompt_tokens
    turn.completion_tokens += call.completion_tokens
    turn.cost_usd += call.cost_usd
    turn.attempts.extend(call.attempts)
    if call.provider is not None:
        turn.provider, turn.served_model = call.provider, call.served_model


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


def _finish_reason(data: bytes) -> str | None:
    try:
        choices = json.loads(data).get("choices") or [{}]
    except ValueError:
        return None
    reason = choices[0].get("finish_reason")
    return str(reason) if reason else None
