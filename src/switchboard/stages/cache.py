"""The response cache as a stage: a cached answer instead of the endpoint's, the endpoint's
answer stored for next time, and a cached answer when its model fails.

What may be shared is the endpoint's call, through its ``CacheKeys``: how a request is
looked up (its scope, its question for the semantic lookup, its exact key), or None when
its answer depends on who asks; and what of a finished answer is stored, or None. The stage
adds what holds everywhere: a request with personal data (the input guard says so) is
neither looked up nor stored, and its question's embedding is not even kept in memory; an
answer a guardrail changed or cut off, or that came from the cache, is not stored. When the
model fails before saying anything, a matching answer is served anyway at the looser
``fallback_threshold`` (``serve_on_failure``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from switchboard.cache.service import ResponseCache
from switchboard.cache.types import CachedAnswer, CacheHit, CacheScope
from switchboard.stages.stage import Answer, Exchange, Stage

E = TypeVar("E", bound=Exchange)
E_contra = TypeVar("E_contra", bound=Exchange, contravariant=True)


@dataclass(frozen=True)
class CacheRequest:
    scope: CacheScope
    query: str  # the question for the semantic lookup; "": exact key only
    key: str  # the exact key


class CacheKeys(Protocol[E_contra]):
    def request(self, exchange: E_contra, *, failed: bool = False) -> CacheRequest | None:
        """How the request is looked up, or None if its answer is not to be shared;
        ``failed``: as a fallback after its model failed (None: no fallback for it)."""
        ...

    def answer(self, exchange: E_contra) -> CachedAnswer | None:
        """What to store of the delivered answer, or None if it is not to be stored."""
        ...


class CacheStage(Stage[E], Generic[E]):
    def __init__(
        self, cache: ResponseCache, keys: CacheKeys[E], *, serve_on_failure: bool = True
    ) -> None:
        self.cache = cache
        self.keys = keys
        self._serve_on_failure = serve_on_failure
        self._prefetching: dict[int, tuple[asyncio.Future[None], str]] = {}
        self._pending: set[asyncio.Future[None]] = set()

    def prepare(self, exchange: E) -> None:
        """Embed the question while the guard checks it (on the other core): if the guard
        changes nothing, the lookup finds the vector ready."""
        request = self.keys.request(exchange)
        if request is None or not request.query:
            return
        key = id(exchange)
        future = asyncio.ensure_future(asyncio.to_thread(self.cache.prefetch, request.query))
        future.add_done_callback(lambda _: self._prefetching.pop(key, None))
        self._prefetching[key] = (future, request.query)

    async def on_input(self, exchange: E) -> Answer | None:
        prefetch = self._prefetching.pop(id(exchange), None)
        if prefetch is not None:
            future, query = prefetch
            await future
            if exchange.personal:  # the guard found personal data: not even kept in memory
                self.cache.forget(query)
        request = None if exchange.personal else self.keys.request(exchange)
        if request is None:
            return None
        hit = await self._get(request)
        exchange.cache = hit.kind.value if hit is not None else "miss"
        exchange.cached = hit
        return _answer(hit, f"cache:{hit.kind.value}") if hit is not None else None

    async def on_done(self, exchange: E) -> None:
        """Stores the answer in the background: the client does not wait for it."""
        if exchange.personal or exchange.guard_changed or exchange.cut_off:
            return
        if exchange.cached is not None:
            return
        answer = self.keys.answer(exchange)
        request = self.keys.request(exchange) if answer is not None else None
        if answer is None or request is None:
            return
        task = asyncio.ensure_future(
            asyncio.to_thread(self.cache.put, request.scope, request.query, request.key, answer)
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def on_failure(self, exchange: E, error: BaseException) -> Answer | None:
        if not self._serve_on_failure or exchange.personal:
            return None
        request = self.keys.request(exchange, failed=True)
        if request is None:
            return None
        hit = await self._get(request, self.cache.settings.fallback_threshold)
        if hit is None:
            return None
        exchange.cache = "fallback"
        exchange.cached = hit
        return _answer(hit, "cache:fallback")

    async def drain(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _get(self, request: CacheRequest, threshold: float | None = None) -> CacheHit | None:
        return await asyncio.to_thread(
            self.cache.get,
            request.scope,
            request.query,
            request.key,
            semantic=bool(request.query),
            threshold=threshold,
        )


def _answer(hit: CacheHit, source: str) -> Answer:
    return Answer(hit.answer.text, source, hit.answer.extra)
