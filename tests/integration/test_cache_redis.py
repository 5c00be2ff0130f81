"""The response cache's two stores, SQLite (a file in tmp_path) and Redis (a real
redis-server on loopback), through one sequence of behaviour each must show the same way;
then what only Redis has: its key layout and replicas that share one scope."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from switchboard.cache.redis_store import PREFIX, RedisCacheStore
from switchboard.cache.service import ResponseCache
from switchboard.cache.sqlite_store import SQLiteCacheStore
from switchboard.cache.store import CacheStore
from switchboard.cache.types import CachedAnswer, CacheScope, HitKind
from switchboard.config import CacheSettings
from tests.integration.redis_server import redis_url
from tests.unit.demo_shop import GUARD
from tests.unit.test_cache_service import AngleEmbedder, FakeClock, cos_deg, key

pytestmark = pytest.mark.integration
__all__ = ["redis_url"]  # the fixture, imported for this module

SCOPE = CacheScope("acme", "qwen", "sys1", "kb1")
OTHER_TENANT = CacheScope("globex", "qwen", "sys1", "kb1")
A, B, C = (
    "Do I have to pay for return shipping?",
    "How long does delivery take?",
    "Can I pay by card?",
)
NEAR_A = "Are returns free or do I pay the return postage?"
NEAR_B = "How many days does delivery take?"
NOT_A = "Do I not have to pay for return shipping?"
ANGLES = {
    A: 0.0, NEAR_A: cos_deg(0.95), NOT_A: 0.0, B: 120.0, NEAR_B: 120.0 + cos_deg(0.95), C: 240.0
}  # fmt: skip
SETTINGS = CacheSettings(similarity_threshold=0.9, ttl_s=100.0, max_entries=2)

StoreFactory = Callable[[], CacheStore]


@pytest.fixture(params=["sqlite", "redis"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens stores on one backend: each call is another process's view of it."""
    opened: list[CacheStore] = []

    def factory() -> CacheStore:
        store: CacheStore
        if request.param == "sqlite":
            store = SQLiteCacheStore(tmp_path / "cache.sqlite3")
        else:
            store = RedisCacheStore(request.getfixturevalue("redis_url"))
        opened.append(store)
        return store

    factory().invalidate(None)  # the redis-server is shared by this module's tests
    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(stores: StoreFactory, clock: FakeClock) -> ResponseCache:
    return ResponseCache(stores(), AngleEmbedder(dict(ANGLES)), SETTINGS, clock=clock, guard=GUARD)


def put(cache: ResponseCache, text: str, scope: CacheScope = SCOPE) -> None:
    cache.put(scope, text, key(text), CachedAnswer(f"re: {text}", {"sources": ["a.md"], "n": 1}))


def test_exact_then_semantic_hits(cache: ResponseCache, clock: FakeClock) -> None:
    put(cache, A)
    clock.advance(3)
    exact = cache.get(SCOPE, A, key(A))
    assert exact is not None
    assert (exact.kind, exact.age_s) == (HitKind.EXACT, 3.0)
    assert exact.answer == CachedAnswer(f"re: {A}", {"sources": ["a.md"], "n": 1})
    semantic = cache.get(SCOPE, NEAR_A, key(NEAR_A))
    assert semantic is not None
    assert semantic.kind is HitKind.SEMANTIC
    assert semantic.matched_query == A
    assert semantic.similarity == pytest.approx(0.95, abs=1e-4)
    assert cache.get(SCOPE, C, key(C)) is None


def test_scopes_are_isolated(cache: ResponseCache) -> None:
    put(cache, A)
    for scope in (
        OTHER_TENANT,
        CacheScope("acme", "llama", "sys1", "kb1"),
        CacheScope("acme", "qwen", "sys2", "kb1"),
        CacheScope("acme", "qwen", "sys1", "kb2"),
    ):
        assert cache.get(scope, A, key(A)) is None
        assert cache.get(scope, NEAR_A, key(NEAR_A)) is None


def test_the_guard_applies_on_both_stores(cache: ResponseCache) -> None:
    put(cache, A)
    assert cache.get(SCOPE, NOT_A, key(NOT_A)) is None  # cosine 1.0, negated


def test_ttl(cache: ResponseCache, clock: FakeClock) -> None:
    put(cache, A)
    clock.advance(99.5)
    assert cache.get(SCOPE, NEAR_A, key(NEAR_A)) is not None
    clock.advance(0.5)
    assert cache.get(SCOPE, NEAR_A, key(NEAR_A)) is None
    assert cache.get(SCOPE, A, key(A)) is None


def test_lru_bound_per_scope(cache: ResponseCache, clock: FakeClock) -> None:
    put(cache, A)
    clock.advance(1)
    put(cache, B)
    clock.advance(1)
    assert cache.get(SCOPE, NEAR_A, key(NEAR_A)) is not None  # a semantic hit refreshes A
    clock.advance(1)
    put(cache, C)
    clock.advance(1)
    put(cache, C, OTHER_TENANT)  # another scope: its own bound
    assert cache.get(SCOPE, B, key(B)) is None
    assert cache.get(SCOPE, NEAR_B, key(NEAR_B)) is None
    assert cache.get(SCOPE, A, key(A)) is not None
    assert cache.get(SCOPE, C, key(C)) is not None
    assert cache.get(OTHER_TENANT, C, key(C)) is not None


def test_put_replaces(cache: ResponseCache) -> None:
    put(cache, A)
    cache.put(SCOPE, A, key(A), CachedAnswer("second"))
    hit = cache.get(SCOPE, NEAR_A, key(NEAR_A))
    assert hit is not None
    assert hit.answer.text == "second"


def test_invalidate_by_tenant_and_all(cache: ResponseCache) -> None:
    put(cache, A)
    put(cache, B)
    put(cache, A, OTHER_TENANT)
    assert cache.invalidate("acme") == 2
    assert cache.get(SCOPE, A, key(A)) is None
    assert cache.get(SCOPE, NEAR_A, key(NEAR_A)) is None
    assert cache.get(OTHER_TENANT, NEAR_A, key(NEAR_A)) is not None
    assert cache.invalidate() == 1
    assert cache.get(OTHER_TENANT, A, key(A)) is None


def test_a_second_process_sees_the_entries(stores: StoreFactory, clock: FakeClock) -> None:
    first = ResponseCache(stores(), AngleEmbedder(dict(ANGLES)), SETTINGS, clock=clock, guard=GUARD)
    put(first, A)
    second = ResponseCache(
        stores(), AngleEmbedder(dict(ANGLES)), SETTINGS, clock=clock, guard=GUARD
    )
    assert second.get(SCOPE, A, key(A)) is not None
    assert second.get(SCOPE, NEAR_A, key(NEAR_A)) is not None


def test_replicas_follow_each_others_changes(redis_url: str, clock: FakeClock) -> None:
    """Redis only: a replica's loaded vectors follow another's puts, evictions and
    invalidations (the scope's generation moved), and stay put when nothing changed."""
    settings = SETTINGS.model_copy(update={"max_entries": 10})
    one = ResponseCache(
        RedisCacheStore(redis_url), AngleEmbedder(dict(ANGLES)), settings, clock=clock, guard=GUARD
    )
    two = ResponseCache(
        RedisCacheStore(redis_url), AngleEmbedder(dict(ANGLES)), settings, clock=clock, guard=GUARD
    )
    one.invalidate()
    put(one, A)
    assert two.get(SCOPE, NEAR_A, key(NEAR_A)) is not None  # loads the scope
    assert two.get(SCOPE, NEAR_B, key(NEAR_B)) is None
    put(one, B)
    hit = two.get(SCOPE, NEAR_B, key(NEAR_B))
    assert hit is not None
    assert hit.matched_query == B
    one.invalidate("acme")
    assert two.get(SCOPE, NEAR_A, key(NEAR_A)) is None
    put(one, A)  # refilled after invalidation: a new generation, never an old one
    assert two.get(SCOPE, NEAR_A, key(NEAR_A)) is not None
    one.close()
    two.close()


def test_redis_key_layout(redis_url: str, clock: FakeClock) -> None:
    store = RedisCacheStore(redis_url)
    store.invalidate(None)
    cache = ResponseCache(store, AngleEmbedder(dict(ANGLES)), SETTINGS, clock=clock, guard=GUARD)
    put(cache, A)
    client = redis.Redis.from_url(redis_url)
    keys = sorted(k.decode() for k in client.scan_iter(match="*"))
    assert all(k.startswith(PREFIX) for k in keys)
    entries = [k for k in keys if ":e:" in k]
    assert len(entries) == 1
    assert entries[0].endswith(key(A))
    fields: dict[bytes, bytes] = client.hgetall(entries[0])  # type: ignore[assignment]
    assert len(fields[b"vector"]) == 4 * 4  # float32 x dim
    assert fields[b"query"].decode() == A
    assert 0 < client.ttl(entries[0]) <= 100  # EXPIRE is set from ttl_s
    lru = next(k for k in keys if k.endswith(":lru"))
    assert client.zrange(lru, 0, -1) == [key(A).encode()]
    assert any(k.endswith(":gen") for k in keys)
    client.close()
    cache.close()
