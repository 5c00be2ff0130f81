"""``ResponseCache`` over the SQLite store with a fake embedder and a fake clock: the order
of exact and semantic lookup, the threshold, the false-hit guard, what is embedded when,
TTL, LRU, invalidation, persistence and concurrent use. The same behaviour on Redis is in
``tests/integration/test_cache_redis.py``."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from switchboard.cache.keys import exact_key
from switchboard.cache.service import ResponseCache, open_cache
from switchboard.cache.sqlite_store import SQLiteCacheStore
from switchboard.cache.store import ScopeVectors
from switchboard.cache.types import CachedAnswer, CacheScope, HitKind
from switchboard.config import CacheSettings
from tests.unit.demo_shop import GUARD, ORDER_IDS

pytestmark = pytest.mark.unit

SCOPE = CacheScope("acme", "qwen", "sys1", "kb1")
Builder = Callable[..., ResponseCache]


class AngleEmbedder:
    """Each known text is a unit vector at a given angle in a plane, so the cosine of two
    texts is the cosine of their angle difference; unknown texts sit at 90 degrees."""

    model_id = "angles"
    dim = 4
    max_tokens = 256

    def __init__(self, degrees: dict[str, float]) -> None:
        self.degrees = degrees
        self.calls: list[str] = []

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.extend(texts)
        rows = []
        for text in texts:
            angle = math.radians(self.degrees.get(text, 90.0))
            rows.append([math.cos(angle), math.sin(angle), 0.0, 0.0])
        return np.array(rows, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def close(self) -> None:
        pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def cos_deg(similarity: float) -> float:
    """The angle, in degrees, at which two texts have ``similarity``."""
    return math.degrees(math.acos(similarity))


QUESTION = "How long do I have to return a jacket?"
PARAPHRASE = "What's the time limit for sending a jacket back?"
NEGATED = "Can I not return a jacket after 30 days?"
FAR = "What are your phone support hours?"
ANGLES = {QUESTION: 0.0, PARAPHRASE: cos_deg(0.95), NEGATED: 0.0, FAR: cos_deg(0.5)}


def key(text: str) -> str:
    return exact_key([{"role": "user", "content": text}], {"temperature": 0})


def answer(text: str) -> CachedAnswer:
    return CachedAnswer(f"answer to: {text}", {"sources": ["returns-window.md"]})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def embedder() -> AngleEmbedder:
    return AngleEmbedder(dict(ANGLES))


@pytest.fixture
def make(tmp_path: Path, clock: FakeClock, embedder: AngleEmbedder) -> Iterator[Builder]:
    caches: list[ResponseCache] = []

    def build(**overrides: object) -> ResponseCache:
        settings = CacheSettings(similarity_threshold=0.9, ttl_s=100.0, max_entries=10)
        settings = settings.model_copy(update=overrides)
        store = SQLiteCacheStore(tmp_path / "cache.sqlite3")
        cache = ResponseCache(store, embedder, settings, clock=clock, guard=GUARD)
        caches.append(cache)
        return cache

    yield build
    for cache in caches:
        cache.close()


def put(cache: ResponseCache, text: str, scope: CacheScope = SCOPE) -> None:
    cache.put(scope, text, key(text), answer(text))


def test_exact_hit_returns_the_answer_as_stored(make: Builder, clock: FakeClock) -> None:
    cache = make()
    put(cache, QUESTION)
    clock.advance(5)
    hit = cache.get(SCOPE, QUESTION, key(QUESTION))
    assert hit is not None
    assert (hit.kind, hit.similarity, hit.matched_query, hit.age_s) == (
        HitKind.EXACT,
        1.0,
        QUESTION,
        5.0,
    )
    assert hit.answer == answer(QUESTION)


def test_exact_hit_does_not_embed_the_query(make: Builder, embedder: AngleEmbedder) -> None:
    cache = make()
    put(cache, QUESTION)
    embedder.calls.clear()
    assert cache.get(SCOPE, QUESTION, key(QUESTION)) is not None
    assert embedder.calls == []


def test_semantic_hit_above_the_threshold(make: Builder) -> None:
    cache = make(similarity_threshold=0.94)
    put(cache, QUESTION)
    hit = cache.get(SCOPE, PARAPHRASE, key(PARAPHRASE))
    assert hit is not None
    assert hit.kind is HitKind.SEMANTIC
    assert hit.similarity == pytest.approx(0.95, abs=1e-4)
    assert hit.matched_query == QUESTION
    assert hit.answer == answer(QUESTION)


def test_no_semantic_hit_below_the_threshold(make: Builder) -> None:
    cache = make(similarity_threshold=0.96)
    put(cache, QUESTION)
    assert cache.get(SCOPE, PARAPHRASE, key(PARAPHRASE)) is None


def test_semantic_lookup_can_be_turned_off_per_call_and_in_settings(
    make: Builder, embedder: AngleEmbedder
) -> None:
    cache = make()
    put(cache, QUESTION)
    embedder.calls.clear()
    assert cache.get(SCOPE, PARAPHRASE, key(PARAPHRASE), semantic=False) is None
    assert embedder.calls == []
    off = make(semantic=False)
    assert off.get(SCOPE, PARAPHRASE, key(PARAPHRASE)) is None
    assert embedder.calls == []


def test_the_guard_refuses_a_false_hit_at_any_similarity(
    make: Builder, embedder: AngleEmbedder, clock: FakeClock
) -> None:
    cache = make()
    put(cache, QUESTION)  # NEGATED embeds identically: cosine 1.0
    assert cache.get(SCOPE, NEGATED, key(NEGATED)) is None
    unguarded = ResponseCache(cache.store, embedder, cache.settings, clock=clock, guard=None)
    hit = unguarded.get(SCOPE, NEGATED, key(NEGATED))
    assert hit is not None
    assert hit.similarity == pytest.approx(1.0)


def test_a_refused_neighbour_does_not_hide_a_good_one(
    make: Builder, embedder: AngleEmbedder
) -> None:
    twin = "How long do I have to return a jacket after 30 days?"
    query = "How long have I got to return a jacket after 30 days?"
    embedder.degrees.update({twin: cos_deg(0.92), query: 0.0})
    cache = make()
    put(cache, QUESTION)  # nearest (cosine 1.0) but no "30": refused
    put(cache, twin)  # cosine 0.92, same facets: served
    hit = cache.get(SCOPE, query, key(query))
    assert hit is not None
    assert hit.matched_query == twin


def test_scopes_never_share_entries(make: Builder) -> None:
    cache = make()
    put(cache, QUESTION)
    others = [
        CacheScope("other", "qwen", "sys1", "kb1"),
        CacheScope("acme", "llama", "sys1", "kb1"),
        CacheScope("acme", "qwen", "sys2", "kb1"),
        CacheScope("acme", "qwen", "sys1", "kb2"),
    ]
    for scope in others:
        assert cache.get(scope, QUESTION, key(QUESTION)) is None
        assert cache.get(scope, PARAPHRASE, key(PARAPHRASE)) is None
    assert cache.get(SCOPE, QUESTION, key(QUESTION)) is not None


def test_entries_expire_after_ttl(make: Builder, clock: FakeClock) -> None:
    cache = make(similarity_threshold=0.9)
    put(cache, QUESTION)
    clock.advance(99)
    assert cache.get(SCOPE, PARAPHRASE, key(PARAPHRASE)) is not None
    clock.advance(1)
    assert cache.get(SCOPE, PARAPHRASE, key(PARAPHRASE)) is None
    assert cache.get(SCOPE, QUESTION, key(QUESTION)) is None


def test_least_recently_used_entry_goes_first(
    make: Builder, clock: FakeClock, embedder: AngleEmbedder
) -> None:
    a, b, c = "question a", "question b", "question c"
    embedder.degrees.update({a: 0.0, b: 120.0, c: 240.0})
    cache = make(max_entries=2)
    put(cache, a)
    clock.advance(1)
    put(cache, b)
    clock.advance(1)
    assert cache.get(SCOPE, a, key(a)) is not None  # a is now more recent than b
    clock.advance(1)
    put(cache, c)
    assert cache.get(SCOPE, b, key(b)) is None
    assert cache.get(SCOPE, a, key(a)) is not None
    assert cache.get(SCOPE, c, key(c)) is not None
    embedder.degrees["near b"] = 121.0
    assert cache.get(SCOPE, "near b", key("near b")) is None  # gone from the vectors too


def test_a_put_replaces_the_entry_under_the_same_key(make: Builder) -> None:
    cache = make()
    put(cache, QUESTION)
    cache.put(SCOPE, QUESTION, key(QUESTION), CachedAnswer("newer"))
    hit = cache.get(SCOPE, QUESTION, key(QUESTION))
    assert hit is not None
    assert hit.answer.text == "newer"


def test_invalidate_one_tenant_or_all(make: Builder) -> None:
    cache = make()
    other = CacheScope("other", "qwen", "sys1", "kb1")
    put(cache, QUESTION)
    put(cache, FAR)
    put(cache, QUESTION, other)
    assert cache.invalidate("acme") == 2
    assert cache.get(SCOPE, QUESTION, key(QUESTION)) is None
    assert cache.get(SCOPE, PARAPHRASE, key(PARAPHRASE)) is None
    assert cache.get(other, QUESTION, key(QUESTION)) is not None
    assert cache.invalidate() == 1
    assert cache.get(other, QUESTION, key(QUESTION)) is None


def test_a_miss_then_put_embeds_the_query_once(make: Builder, embedder: AngleEmbedder) -> None:
    cache = make()
    assert cache.get(SCOPE, FAR, key(FAR)) is None
    put(cache, FAR)
    assert embedder.calls == [FAR]


def test_without_an_embedder_only_exact_hits(tmp_path: Path) -> None:
    cache = ResponseCache(
        SQLiteCacheStore(tmp_path / "c.sqlite3"), None, CacheSettings(), guard=None
    )
    put(cache, QUESTION)
    assert cache.get(SCOPE, QUESTION, key(QUESTION)) is not None
    assert cache.get(SCOPE, PARAPHRASE, key(PARAPHRASE)) is None
    cache.close()


def test_disabled_cache_neither_stores_nor_serves(make: Builder) -> None:
    cache = make(enabled=False)
    put(cache, QUESTION)
    assert cache.get(SCOPE, QUESTION, key(QUESTION)) is None
    assert make().get(SCOPE, QUESTION, key(QUESTION)) is None  # nothing was written


def test_entries_and_vectors_survive_a_reopen(tmp_path: Path, embedder: AngleEmbedder) -> None:
    settings = CacheSettings(similarity_threshold=0.9)
    first = open_cache(settings, tmp_path / "c.sqlite3", embedder, ORDER_IDS)
    put(first, QUESTION)
    first.close()
    second = open_cache(settings, tmp_path / "c.sqlite3", embedder, ORDER_IDS)
    hit = second.get(SCOPE, PARAPHRASE, key(PARAPHRASE))
    assert hit is not None
    assert hit.matched_query == QUESTION
    second.close()


def test_concurrent_puts_and_gets_from_threads(make: Builder, embedder: AngleEmbedder) -> None:
    cache = make(max_entries=1000)
    texts = [f"question number {i}" for i in range(200)]
    embedder.degrees.update({t: i * 1.5 for i, t in enumerate(texts)})
    errors: list[BaseException] = []

    def work(part: list[str]) -> None:
        try:
            for text in part:
                put(cache, text)
                if cache.get(SCOPE, text, key(text)) is None:
                    raise AssertionError(f"lost {text}")
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(texts[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(cache.get(SCOPE, t, key(t)) is not None for t in texts)


def test_scope_vectors_nearest_skips_expired_and_removed_rows() -> None:
    vectors = ScopeVectors(dim=2, capacity=1)
    rows = {"a": [1.0, 0.0], "b": [0.8, 0.6], "c": [0.0, 1.0]}
    for i, (k, v) in enumerate(rows.items()):
        vectors.upsert(k, np.array(v, dtype=np.float32), created=float(i))
    query = np.array([1.0, 0.0], dtype=np.float32)
    assert [k for k, _ in vectors.nearest(query, 3, born_after=-1.0)] == ["a", "b", "c"]
    assert [k for k, _ in vectors.nearest(query, 3, born_after=0.0)] == ["b", "c"]
    vectors.remove("a")
    assert [k for k, _ in vectors.nearest(query, 1, born_after=-1.0)] == ["b"]
    assert len(vectors) == 2


def test_another_embedding_dimension_is_kept_apart(tmp_path: Path, clock: FakeClock) -> None:
    class Wider(AngleEmbedder):
        dim = 6

        def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
            narrow = super().embed(texts)
            return np.hstack([narrow, np.zeros((len(texts), 2), dtype=np.float32)])

    store = SQLiteCacheStore(tmp_path / "c.sqlite3")
    settings = CacheSettings(similarity_threshold=0.9)
    old = ResponseCache(store, AngleEmbedder(dict(ANGLES)), settings, clock=clock, guard=GUARD)
    put(old, QUESTION)
    assert old.get(SCOPE, PARAPHRASE, key(PARAPHRASE)) is not None  # 4-d matrix loaded
    new = ResponseCache(store, Wider(dict(ANGLES)), settings, clock=clock, guard=GUARD)
    assert new.get(SCOPE, PARAPHRASE, key(PARAPHRASE)) is None  # 4-d vectors not mixed in
    put(new, QUESTION)
    hit = new.get(SCOPE, PARAPHRASE, key(PARAPHRASE))
    assert hit is not None  # the 6-d entry that replaced it
    store.close()
