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
import time
import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Span

from switchboard.cache.service import ResponseCache
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
from switchboard.gateway.cache_stage import RequestKeys
from switchboard.gateway.guard_stage import moderate_chunks
from switchboard.gateway.limiter import RateLimiter, Reservation, rate_limit_headers
from switchboard.gateway.messages import texts_of
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
from switchboard.observability.recorder import Recorder
from switchboard.observability.request_log import RequestLog
from switchboard.observability.tracing import Tracing
from switchboard.stages.cache import CacheStage
from switchboard.stages.guard import GuardStage
from switchboard.stages.stage import Exchange, Pipeline, Stage

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
class GatewayCall(Exchange):
    """One request's state from admission to its record."""

    record: RequestRecord
    principal: Principal
    body: Mapping[str, Any]  # as the client sent it
    prompt_estimate: int
    sent_body: Mapping[str, Any] = field(default_factory=dict)  # as the providers get it
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
    cacheable: bool = False  # the answer may be stored once complete (a cache miss)
    finish_reason: str | None = None  # the provider's, kept for the cache
    turn: RequestRecord | None = None  # a model call of an assistant turn: metered into it

    def __post_init__(self) -> None:
        self.sent_body = self.sent_body or self.body
        self.tenant = self.principal.tenant

    def guard_messages(self) -> list[dict[str, Any]]:
        return [dict(m) for m in self.sent_body.get("messages") or ()]

    def use_guarded(self, messages: list[dict[str, Any]]) -> None:
        self.sent_body = {**self.sent_body, "messages": messages}

    def instructions(self) -> Sequence[str]:
        messages = self.body.get("messages") or ()
        return texts_of(m for m in messages if m.get("role") in ("system", "developer"))

    def known_text(self) -> str:
        """What the client sent is theirs: repeating it leaks nothing."""
        return "\n".join(texts_of(self.body.get("messages") or ()))

    @property
    def headers(self) -> dict[str, str]:
        headers = {"x-request-id": self.record.request_id}
        if self.reservation is not None:
            headers.update(rate_limit_headers(self.reservation))
        if self.routed is not None:
            headers["x-switchboard-provider"] = self.routed.provider
        if self.cached is not None and self.cache is not None:
            headers["x-switchboard-cache"] = self.cache
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
        self.recorder = Recorder(metrics, request_log)  # every endpoint's records end there
        self.guard_stage = GuardStage(guard) if guard is not None else None
        stages: list[Stage[GatewayCall]] = [self.guard_stage] if self.guard_stage else []
        if cache is not None:
            keys = RequestKeys(cache.settings)
            serve = cache.settings.serve_on_failure
            stages.append(CacheStage(cache, keys, serve_on_failure=serve))
        self.stages = Pipeline(stages)  # guard, then cache (it sees the redacted request)
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
            if turn is None and await self._admit(call):
                return call  # answered from the cache
            body = call.sent_body
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
                if await self.stages.failed(call, exc) is None:
                    raise
                call.cacheable, call.record.cache_hit = False, True
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

    async def _admit(self, call: GatewayCall) -> bool:
        """The stages on the way in; True when the cache answered. The input guard's
        refusal is raised (after the log got the request as the providers would)."""
        answer = await self.stages.admit(call)
        if self.guard is not None and self.settings.log.record_text:
            messages = call.sent_body.get("messages") or []
            call.record.input_text = json.dumps(messages, ensure_ascii=False)
        if answer is not None and answer.refused:
            raise ContentPolicyError(answer.text, param="messages")
        call.cacheable = call.cache == "miss"
        call.record.cache_hit = answer is not None
        return answer is not None

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
        if self.guard_stage is not None and call.turn is None:
            moderator = self.guard_stage.moderator(call)
            used = functools.partial(self._usage, call, None)
            source = moderate_chunks(source, moderator, call, used)
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
            record.guard_events = list(call.guard_events)
            if call.output and self.settings.log.record_text:
                output = "".join(call.output)  # as the client got it: mask its data again
                record.output_text = call.placeholders.mask(output)
            if error is None and call.turn is None:
                await self.stages.done(call)  # the cache stores the answer, in the background
            # Shielded: a client leaving now must not cancel the settling half-way (a
            # budget hold left reserved, spend never counted).
            settling = asyncio.ensure_future(self._settle(call, usage))
            self._settling.add(settling)
            settling.add_done_callback(self._settling.discard)
            await asyncio.shield(settling)
        finally:
            self.metrics.in_flight.dec()
            for attempt in record.attempts:
                if attempt.error is not None:
                    self.metrics.provider_failed(attempt.provider, failure_kind(attempt.error))
            if isinstance(error, RateLimitError):
                self.metrics.rate_limited(error.error_type)
            elif isinstance(error, BudgetExceededError):
                self.metrics.rate_limited("budget")
            self.tracing.attempt_spans(call.trace, record.attempts)
            call.span.close()
            if call.turn is not None:
                meter_into(call.turn, record)
            else:
                self.recorder.close(record, surface="chat", cache=call.cache, gaps=call.timer.gaps)

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
        if self._settling:  # settles still running
            await asyncio.gather(*self._settling, return_exceptions=True)
        await self.stages.drain()  # cache writes still running
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
