"""The response cache in Redis, shared by several replicas.

Keys, all under ``sb:cache:`` (``T`` hashes the tenant, ``S`` the whole scope):

- ``sb:cache:T:S:e:<exact>``: one entry, a hash (query, text, extra, created, vector as
  float32 bytes); EXPIRE ``ttl_s`` collects it, and ``created`` is also checked on read so
  the lifetime follows the caller's clock;
- ``sb:cache:T:S:lru``: the scope's exact keys scored by last use, for LRU eviction;
- ``sb:cache:T:S:gen``: the scope's generation, a fresh value from the global sequence
  ``sb:cache:seq`` whenever an entry with a vector is added or removed.

Debian's redis-server has no vector search module, so each process keeps the scope's
vectors in a local matrix (``ScopeVectors``) and searches it by brute force. Before a
lookup it reads the scope's generation (one GET); only when another replica changed the
scope since does it re-fetch the vectors. Generations come from one sequence that
invalidation never resets, so a scope emptied and refilled never looks unchanged.

Every call gives up after ``timeout_s`` without retrying: the cache is a shortcut, and a
Redis that stalls must cost each request a short wait (then a miss), not seconds.

Eviction and bookkeeping are not atomic across replicas: two replicas writing one scope at
once may briefly keep a few entries beyond ``max_entries`` or drop one early; the next
write settles it. Entries whose hash expired are pruned from the LRU set as they are met.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from switchboard.cache.store import (
    SCOPES_IN_MEMORY,
    Candidate,
    Entry,
    ScopeVectors,
    Vector,
    vector_bytes,
    vector_from_bytes,
)
from switchboard.cache.types import CachedAnswer, CacheScope
from switchboard.health import public_url

PREFIX = "sb:cache:"
SEQUENCE = f"{PREFIX}seq"
_SCAN_BATCH = 500


@dataclass
class _Local:
    generation: bytes | None
    vectors: ScopeVectors


@dataclass(frozen=True, slots=True)
class _Keys:
    base: str

    @classmethod
    def of(cls, scope: CacheScope) -> _Keys:
        return cls(f"{PREFIX}{_digest(scope.tenant, 16)}:{_digest(scope.key, 24)}:")

    @property
    def lru(self) -> str:
        return f"{self.base}lru"

    @property
    def generation(self) -> str:
        return f"{self.base}gen"

    def entry(self, exact: str) -> str:
        return f"{self.base}e:{exact}"


class RedisCacheStore:
    def __init__(self, url: str, *, timeout_s: float = 0.5) -> None:
        self._url = public_url(url)
        self._redis = redis.Redis.from_url(
            url,
            decode_responses=False,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self._lock = threading.Lock()
        self._local: OrderedDict[str, _Local] = OrderedDict()  # least recent first

    @property
    def location(self) -> str:
        return self._url

    def get(self, scope: CacheScope, exact: str, *, now: float, ttl_s: float) -> Entry | None:
        keys = _Keys.of(scope)
        fields = cast(dict[bytes, bytes], self._redis.hgetall(keys.entry(exact)))
        if not fields:
            return None
        entry = _entry(exact, fields)
        if now - entry.created >= ttl_s:
            self._remove(keys, [exact])
            return None
        self._redis.zadd(keys.lru, {exact: now}, xx=True)
        return entry

    def nearest(
        self, scope: CacheScope, vector: Vector, k: int, *, floor: float, now: float, ttl_s: float
    ) -> list[Candidate]:
        keys = _Keys.of(scope)
        with self._lock:
            found = self._current(keys, len(vector)).nearest(vector, k, now - ttl_s, floor)
        pipe = self._redis.pipeline(transaction=False)
        for exact, _ in found:
            pipe.hgetall(keys.entry(exact))
        out = []
        for (exact, similarity), fields in zip(found, pipe.execute(), strict=True):
            if fields:  # else expired in Redis: pruned at the next reload
                out.append(Candidate(_entry(exact, fields), similarity))
        return out

    def touch(self, scope: CacheScope, exact: str, *, now: float) -> None:
        self._redis.zadd(_Keys.of(scope).lru, {exact: now}, xx=True)

    def put(
        self,
        scope: CacheScope,
        entry: Entry,
        vector: Vector | None,
        *,
        ttl_s: float,
        max_entries: int,
    ) -> None:
        keys = _Keys.of(scope)
        fields: dict[str, bytes | str | float] = {
            "query": entry.query,
            "text": entry.answer.text,
            "extra": json.dumps(entry.answer.extra),
            "created": repr(entry.created),
        }
        if vector is not None:
            fields["vector"] = vector_bytes(vector)
        lifetime = math.ceil(ttl_s)
        generation = self._redis.incr(SEQUENCE)
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(keys.entry(entry.exact))
        pipe.hset(keys.entry(entry.exact), mapping=fields)  # type: ignore[arg-type]
        pipe.expire(keys.entry(entry.exact), lifetime)
        pipe.zadd(keys.lru, {entry.exact: entry.created})
        pipe.expire(keys.lru, lifetime)
        pipe.set(keys.generation, generation, ex=lifetime, get=True)
        pipe.zcard(keys.lru)
        *_, previous, size = pipe.execute()
        with self._lock:
            local = self._local.get(keys.base)
            fits = local is None or vector is None or len(vector) == local.vectors.dim
            if local is not None and local.generation == previous and fits:
                local.generation = str(generation).encode()
                if vector is None:
                    local.vectors.remove(entry.exact)
                else:
                    local.vectors.upsert(entry.exact, vector, entry.created)
            elif local is not None:
                del self._local[keys.base]
        if size > max_entries:
            victims = cast(list[bytes], self._redis.zrange(keys.lru, 0, size - max_entries - 1))
            self._remove(keys, [v.decode() for v in victims])

    def invalidate(self, tenant: str | None) -> int:
        pattern = f"{PREFIX}{'*' if tenant is None else _digest(tenant, 16) + ':*'}"
        dropped = 0
        for batch in _batches(self._redis.scan_iter(match=pattern, count=_SCAN_BATCH)):
            batch = [k for k in batch if k != SEQUENCE.encode()]
            dropped += sum(1 for k in batch if b":e:" in k)
            if batch:
                self._redis.delete(*batch)
        with self._lock:
            if tenant is None:
                self._local.clear()
            else:
                prefix = f"{PREFIX}{_digest(tenant, 16)}:"
                for base in [b for b in self._local if b.startswith(prefix)]:
                    del self._local[base]
        return dropped

    def close(self) -> None:
        self._redis.close()

    def _remove(self, keys: _Keys, exacts: list[str]) -> None:
        if not exacts:
            return
        generation = self._redis.incr(SEQUENCE)
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(*(keys.entry(e) for e in exacts))
        pipe.zrem(keys.lru, *exacts)
        pipe.set(keys.generation, generation, keepttl=True, get=True)
        *_, previous = pipe.execute()
        with self._lock:
            local = self._local.get(keys.base)
            if local is not None and local.generation == previous:
                local.generation = str(generation).encode()
                for exact in exacts:
                    local.vectors.remove(exact)
            elif local is not None:
                del self._local[keys.base]

    def _current(self, keys: _Keys, dim: int) -> ScopeVectors:
        """The scope's vectors, re-fetched only if its generation moved (call locked)."""
        generation = cast(bytes | None, self._redis.get(keys.generation))
        local = self._local.get(keys.base)
        if local is not None and local.generation == generation and local.vectors.dim == dim:
            self._local.move_to_end(keys.base)
            return local.vectors
        members = [m.decode() for m in cast(list[bytes], self._redis.zrange(keys.lru, 0, -1))]
        pipe = self._redis.pipeline(transaction=False)
        for exact in members:
            pipe.hmget(keys.entry(exact), ["vector", "created"])
        vectors = ScopeVectors(dim)
        gone = []
        for exact, (blob, created) in zip(members, pipe.execute(), strict=True):
            if created is None:
                gone.append(exact)
            elif blob is not None and vectors.accepts(blob):
                vectors.upsert(exact, vector_from_bytes(blob), float(created))
        if gone:
            self._redis.zrem(keys.lru, *gone)
        self._local[keys.base] = _Local(generation, vectors)
        self._local.move_to_end(keys.base)
        while len(self._local) > SCOPES_IN_MEMORY:  # re-fetched from Redis when needed
            self._local.popitem(last=False)
        return vectors


def _entry(exact: str, fields: dict[bytes, bytes]) -> Entry:
    answer = CachedAnswer(fields[b"text"].decode(), json.loads(fields[b"extra"]))
    return Entry(exact, fields[b"query"].decode(), answer, float(fields[b"created"]))


def _digest(text: str, size: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size]


def _batches(keys: Iterator[bytes]) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for key in keys:
        batch.append(key)
        if len(batch) >= _SCAN_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
