"""``ResponseCache``: exact lookup first, then nearest-neighbour lookup over query
embeddings, guarded against false hits; ``open_cache`` builds one from the settings.

A semantic hit needs three things: cosine similarity at or above the threshold, the same
scope (tenant, model, system prompt, knowledge-base version: the store only searches
within one), and no conflict between the two questions in negation, numbers, dates,
order numbers, places, names or products (``FalseHitRules``, of the shop's own words and
order-number format: ``open_cache`` builds them from the settings). The nearest few
candidates are tried in order, so a near neighbour that is a false hit does not hide a
slightly less similar one that is not.

Synchronous and thread-safe: async callers use ``asyncio.to_thread``. What may be cached
at all (tool use, personal data, sampled answers, answers a guardrail changed) is the
caller's decision; this class stores what it is given.

A store that fails (Redis down, a locked or broken file) is a miss, never a failed request;
``service`` follows the calls for ``/health`` and says once in the log that the cache is
failing and once that it works again.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from switchboard.cache.false_hit import FalseHitRules
from switchboard.cache.store import CacheStore, Entry, Vector
from switchboard.cache.types import CachedAnswer, CacheHit, CacheScope, Embedder, HitKind
from switchboard.config import CacheSettings
from switchboard.health import ServiceWatch, Status
from switchboard.order_ids import OrderIdFormat

log = logging.getLogger(__name__)

CANDIDATES = 16
"""Most entries above the threshold tried per semantic lookup: near neighbours refused by
the guard (the same question about other order numbers, say) must not hide a good one."""
EMBEDDING_MEMO = 256
"""Recent query embeddings kept: a miss is followed by a ``put`` of the same query."""

FalseHitGuard = Callable[[str, str], bool]
"""(cached query, new query) -> True where the cached answer must not be served."""


def _never(cached: str, query: str) -> bool:
    return False


class ResponseCache:
    def __init__(
        self,
        store: CacheStore,
        embedder: Embedder | None,
        settings: CacheSettings,
        *,
        clock: Callable[[], float] = time.time,
        guard: FalseHitGuard | None,
    ) -> None:
        """``guard``: ``FalseHitRules(...).is_false_hit`` (``open_cache`` builds it); None
        turns the false-hit guard off (a cache without an embedder, or measuring what the
        guard buys)."""
        self._store = store
        self._embedder = embedder
        self._settings = settings
        self._clock = clock
        self._guard = guard or _never
        self._memo: OrderedDict[str, Vector] = OrderedDict()
        self._memo_lock = threading.Lock()
        self.service = ServiceWatch(
            "cache",
            store.location,
            failing=Status.DEGRADED,
            consequence="lookups are misses and answers are not stored until it works again",
            log=log,
        )

    @property
    def settings(self) -> CacheSettings:
        return self._settings

    @property
    def store(self) -> CacheStore:
        return self._store

    def get(
        self,
        scope: CacheScope,
        query: str,
        exact: str,
        *,
        semantic: bool = True,
        threshold: float | None = None,
    ) -> CacheHit | None:
        """The cached answer for this request, or None. ``threshold`` overrides the
        configured similarity (the fallback when no model answers uses a lower one). A
        store that fails (Redis down, a locked or broken SQLite file) is a miss, logged:
        the cache never fails a request."""
        if not self._settings.enabled:
            return None
        floor = self._settings.similarity_threshold if threshold is None else threshold
        try:
            hit = self._get(self._namespaced(scope), query, exact, semantic, floor)
        except Exception as exc:  # a store or the embedder failing: a miss, never a failed request
            self._failed("a lookup", exc)
            return None
        self.service.succeeded()
        return hit

    def put(self, scope: CacheScope, query: str, exact: str, answer: CachedAnswer) -> None:
        """Store an answer; a store that fails loses only the future hit (logged)."""
        if not self._settings.enabled:
            return
        try:
            self._put(self._namespaced(scope), query, exact, answer)
        except Exception as exc:  # only the future hit is lost
            self._failed("storing an answer", exc)
        else:
            self.service.succeeded()

    def prefetch(self, query: str) -> None:
        """Embed ``query`` ahead of its lookup (callers start this while other checks of
        the request run, on another core); the lookup then finds the vector memoised."""
        if self._settings.enabled and self._semantic and query.strip():
            try:
                self._embed(query)
            except Exception as exc:  # the lookup will try again, and fail properly there
                self._failed("embedding a query", exc)

    def _failed(self, what: str, error: Exception) -> None:
        log.debug("response cache: %s failed", what, exc_info=error)  # the rest: once
        self.service.failed(f"{self.service.url} failed ({type(error).__name__}: {error})")

    def forget(self, query: str) -> None:
        """Drop ``query``'s memoised embedding (a prefetched question that turned out to
        carry personal data is not kept, even in memory)."""
        with self._memo_lock:
            self._memo.pop(query, None)

    def _namespaced(self, scope: CacheScope) -> CacheScope:
        """Vectors of another embedding model never meet: its id joins the scope."""
        model = getattr(self._embedder, "model_id", None) if self._semantic else None
        if not model:
            return scope
        return dataclasses.replace(scope, kb_version=f"{scope.kb_version}|{model}")

    def _get(
        self, scope: CacheScope, query: str, exact: str, semantic: bool, threshold: float
    ) -> CacheHit | None:
        now = self._clock()
        entry = self._store.get(scope, exact, now=now, ttl_s=self._settings.ttl_s)
        if entry is not None:
            return _hit(entry, HitKind.EXACT, 1.0, now)
        if semantic and self._semantic and query.strip():
            return self._nearest(scope, query, now, threshold)
        return None

    def _put(self, scope: CacheScope, query: str, exact: str, answer: CachedAnswer) -> None:
        vector = self._embed(query) if self._semantic and query.strip() else None
        self._store.put(
            scope,
            Entry(exact, query, answer, self._clock()),
            vector,
            ttl_s=self._settings.ttl_s,
            max_entries=self._settings.max_entries,
        )

    def invalidate(self, tenant: str | None = None) -> int:
        return self._store.invalidate(tenant)

    def close(self) -> None:
        self._store.close()

    @property
    def _semantic(self) -> bool:
        return self._settings.semantic and self._embedder is not None

    def _nearest(
        self, scope: CacheScope, query: str, now: float, threshold: float
    ) -> CacheHit | None:
        candidates = self._store.nearest(
            scope,
            self._embed(query),
            CANDIDATES,
            floor=threshold,
            now=now,
            ttl_s=self._settings.ttl_s,
        )
        for candidate in candidates:
            if self._guard(candidate.entry.query, query):
                continue
            self._store.touch(scope, candidate.entry.exact, now=now)
            return _hit(candidate.entry, HitKind.SEMANTIC, candidate.similarity, now)
        return None

    def _embed(self, query: str) -> Vector:
        with self._memo_lock:
            vector = self._memo.get(query)
            if vector is not None:
                self._memo.move_to_end(query)
                return vector
        if self._embedder is None:
            raise RuntimeError("semantic lookup without an embedder")
        vector = self._embedder.embed([query])[0]
        with self._memo_lock:
            self._memo[query] = vector
            while len(self._memo) > EMBEDDING_MEMO:
                self._memo.popitem(last=False)
        return vector


def _hit(entry: Entry, kind: HitKind, similarity: float, now: float) -> CacheHit:
    return CacheHit(
        entry.answer, kind, min(similarity, 1.0), entry.query, max(now - entry.created, 0.0)
    )


def open_cache(
    settings: CacheSettings, db_path: Path, embedder: Embedder | None, order_ids: OrderIdFormat
) -> ResponseCache:
    """The configured store (SQLite at ``db_path``, or Redis at ``settings.redis_url``),
    guarded by the rules of the shop's words (``settings.shop_words``, default the demo
    shop's) and its ``order_ids`` format."""
    rules = FalseHitRules.from_settings(settings, order_ids)
    store: CacheStore
    if settings.backend == "redis":
        from switchboard.cache.redis_store import RedisCacheStore

        store = RedisCacheStore(settings.redis_url)
    else:
        from switchboard.cache.sqlite_store import SQLiteCacheStore

        store = SQLiteCacheStore(db_path)
    return ResponseCache(store, embedder, settings, guard=rules.is_false_hit)
