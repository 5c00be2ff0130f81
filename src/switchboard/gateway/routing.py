"""Model routing: an alias's providers tried in order until one produces a first token.

For each target of the alias: a circuit breaker per provider may skip it; a retryable
``UpstreamError`` is retried on the same provider with exponential backoff and full
jitter; a missed TTFT deadline, a non-retryable failure or spent retries move on to the
next target. A refusal that is the client's fault (any ``RequestError`` other than
``UpstreamError``) is raised at once. ``open`` returns once the first token arrived; after
that there is no fallback — a failure of the rest of the stream goes to the caller.
Every attempt reports to its provider's breaker exactly once: success, failure, or
nothing when the caller gives up on it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from switchboard.backoff import backoff_delay
from switchboard.circuit_breaker import CircuitBreaker
from switchboard.config import ProviderSettings, RouteSettings, RouteTarget
from switchboard.errors import (
    CircuitOpenError,
    DependencyUnavailableError,
    ModelNotFoundError,
    RequestError,
    UpstreamError,
)
from switchboard.gateway.openai_provider import retryable
from switchboard.gateway.types import Provider, ProviderCall, StreamChunk
from switchboard.observability.record import Attempt

MAX_BACKOFF_S = 2.0
CIRCUIT_OPEN = "circuit open"

Sleep = Callable[[float], Awaitable[None]]


class StreamTail:
    """The chunks after the head; settles the provider's breaker exactly once."""

    def __init__(
        self, chunks: AsyncIterator[StreamChunk], breaker: CircuitBreaker, *, finished: bool
    ) -> None:
        self._chunks = chunks
        self._breaker = breaker
        self._settled = False
        if finished:  # the whole stream fit in the head
            self._settle(breaker.record_success)

    def __aiter__(self) -> StreamTail:
        return self

    async def __anext__(self) -> StreamChunk:
        if self._settled:
            raise StopAsyncIteration
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            self._settle(self._breaker.record_success)
            raise
        except UpstreamError:
            self._settle(self._breaker.record_failure)
            raise

    async def aclose(self) -> None:
        """Give up on the stream (client gone): neither success nor failure."""
        self._settled = True
        await _close(self._chunks)

    def _settle(self, record: Callable[[], None]) -> None:
        if not self._settled:
            self._settled = True
            record()


@dataclass
class RoutedStream:
    """A stream that produced its first token (or finished without one)."""

    provider: str
    model: str
    head: list[StreamChunk]  # up to and including the first token chunk
    rest: StreamTail
    attempts: list[Attempt] = field(default_factory=list)

    async def aclose(self) -> None:
        await self.rest.aclose()


class _TargetFailed(Exception):
    """One attempt at one target failed; ``retry``: worth another try on the same one."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class ModelRouter:
    """Routes aliases to providers, with one circuit breaker per provider."""

    def __init__(
        self,
        routes: Mapping[str, RouteSettings],
        providers: Mapping[str, Provider],
        provider_settings: Mapping[str, ProviderSettings],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        for alias, route in routes.items():
            for target in route.targets:
                if target.provider not in providers:
                    raise ValueError(f"route {alias!r} names unknown provider {target.provider!r}")
        self._routes = dict(routes)
        self._providers = dict(providers)
        self._settings = {
            name: provider_settings.get(name) or ProviderSettings(name=name, kind="local")
            for name in providers
        }
        self._breakers = {
            name: CircuitBreaker(s.breaker_failures, s.breaker_reset_s, clock)
            for name, s in self._settings.items()
        }
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter

    @property
    def aliases(self) -> list[str]:
        return list(self._routes)

    def chain(self, alias: str) -> list[RouteTarget]:
        """The targets of ``alias`` in order; ``ModelNotFoundError`` for an unknown one."""
        route = self._routes.get(alias)
        if route is None:
            raise ModelNotFoundError(alias)
        return list(route.targets)

    def breaker(self, provider: str) -> CircuitBreaker:
        return self._breakers[provider]

    async def open(
        self,
        alias: str,
        body: Mapping[str, Any],
        *,
        request_id: str,
        prompt_tokens: int,
        attempts: list[Attempt] | None = None,
        output_cap: int | None = None,
    ) -> RoutedStream:
        """The first target's stream to produce a first token; raises when none did.
        Each attempt is appended to ``attempts`` as it ends (the fallback path, also when
        every target failed). A target whose context window is unknown gets
        ``max_tokens=output_cap`` when that is given (the others fill their window)."""
        self.chain(alias)
        route = self._routes[alias]
        attempts = [] if attempts is None else attempts
        reopen_in: list[float] = []  # for each target skipped by its open breaker
        for target in route.targets:
            sent = {**body, "model": target.model}
            if output_cap is not None and target.max_model_len is None:
                sent["max_tokens"] = output_cap
            call = ProviderCall(request_id, target.model, sent, prompt_tokens)
            routed = await self._try_target(target, route, call, attempts, reopen_in)
            if routed is not None:
                return routed
        raise _all_failed(alias, attempts, reopen_in, len(route.targets))

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()

    async def _try_target(
        self,
        target: RouteTarget,
        route: RouteSettings,
        call: ProviderCall,
        attempts: list[Attempt],
        reopen_in: list[float],
    ) -> RoutedStream | None:
        """Up to ``1 + max_retries`` attempts at one target; ``None``: move on."""
        settings = self._settings[target.provider]
        for retry in range(settings.max_retries + 1):
            if retry:
                delay = backoff_delay(retry - 1, settings.backoff_s, MAX_BACKOFF_S, self._jitter())
                await self._sleep(delay)
            try:
                self._breakers[target.provider].before_call()
            except CircuitOpenError as exc:
                attempts.append(Attempt(target.provider, target.model, CIRCUIT_OPEN))
                if retry == 0:
                    reopen_in.append(exc.retry_after_s)
                return None
            started, wall = self._clock(), time.time()
            try:
                routed = await self._attempt(target, route, call)
            except _TargetFailed as failed:
                latency = (self._clock() - started) * 1000
                attempts.append(
                    Attempt(target.provider, target.model, failed.reason, latency, wall)
                )
                if not failed.retry:
                    return None
                continue
            latency = (self._clock() - started) * 1000
            attempts.append(Attempt(target.provider, target.model, None, latency, wall))
            routed.attempts = attempts
            return routed
        return None

    async def _attempt(
        self,
        target: RouteTarget,
        route: RouteSettings,
        call: ProviderCall,
    ) -> RoutedStream:
        """One call: its head, or ``_TargetFailed``; reports to the breaker once on failure."""
        breaker = self._breakers[target.provider]
        chunks = aiter(self._providers[target.provider].stream(call))
        head: list[StreamChunk] = []
        finished = False
        try:
            async with asyncio.timeout(route.ttft_deadline_s):
                finished = await _read_head(chunks, head)
        except TimeoutError:
            await _close(chunks)
            breaker.record_failure()
            raise _TargetFailed(
                f"no first token within {route.ttft_deadline_s}s", retry=False
            ) from None
        except UpstreamError as exc:
            await _close(chunks)
            breaker.record_failure()
            raise _TargetFailed(_reason(exc), retry=retryable(exc)) from exc
        except RequestError:  # the client's fault: the provider answered, no other will do
            await _close(chunks)
            breaker.record_success()
            raise
        except BaseException:  # cancelled (client gone) or a bug: no verdict on the provider
            await _close(chunks)
            raise
        tail = StreamTail(chunks, breaker, finished=finished)
        return RoutedStream(target.provider, target.model, head, tail)


async def _read_head(chunks: AsyncIterator[StreamChunk], head: list[StreamChunk]) -> bool:
    """Pull chunks into ``head`` up to the first token; ``True`` if the stream ended first.
    (Not ``async for``: the caller goes on reading ``chunks`` after the head.)"""
    while True:
        try:
            chunk = await anext(chunks)
        except StopAsyncIteration:
            return True
        head.append(chunk)
        if chunk.tokens:
            return False


async def _close(chunks: AsyncIterator[StreamChunk]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()


def _reason(exc: UpstreamError) -> str:
    return f"HTTP {exc.upstream_status}" if exc.upstream_status is not None else exc.message


def _all_failed(
    alias: str, attempts: list[Attempt], reopen_in: list[float], targets: int
) -> RequestError:
    if len(reopen_in) == targets:
        error = DependencyUnavailableError(
            f"every provider for {alias!r} is unavailable (circuit open)"
        )
        error.retry_after_s = min(reopen_in)
        return error
    summary = "; ".join(f"{a.provider}: {a.error}" for a in attempts)
    return UpstreamError(f"all providers failed for {alias!r}: {summary}")
