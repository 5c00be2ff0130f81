"""The cache's memory stays bounded: vectors of a bounded number of scopes, and no
memoised embedding of a question that carried personal data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from switchboard.cache.service import ResponseCache
from switchboard.cache.sqlite_store import SQLiteCacheStore
from switchboard.cache.store import SCOPES_IN_MEMORY
from switchboard.cache.types import CachedAnswer, CacheScope
from switchboard.config import CacheSettings
from tests.unit.demo_shop import GUARD
from tests.unit.test_assistant_guard_cache import BagOfWords

pytestmark = pytest.mark.unit


def test_vectors_of_the_least_recently_searched_scopes_leave_memory(tmp_path: Path) -> None:
    store = SQLiteCacheStore(tmp_path / "c.db")
    cache = ResponseCache(store, BagOfWords(), CacheSettings(), guard=GUARD)  # type: ignore[arg-type]
    scopes = [CacheScope("acme", "m", str(n)) for n in range(SCOPES_IN_MEMORY + 20)]
    for scope in scopes:
        cache.put(scope, "how do returns work", "k", CachedAnswer("30 days"))
        assert cache.get(scope, "How do returns work", "other") is not None
    assert len(store._vectors) == SCOPES_IN_MEMORY
    first = scopes[0]  # evicted from memory, read back from the file
    assert cache.get(first, "How do returns work", "other") is not None
    cache.close()


def test_a_forgotten_question_is_embedded_again(tmp_path: Path) -> None:
    embedder = BagOfWords()
    calls: list[int] = []
    embed = embedder.embed

    def counting(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return embed(texts)

    embedder.embed = counting  # type: ignore[method-assign]
    store = SQLiteCacheStore(tmp_path / "c.db")
    cache = ResponseCache(store, embedder, CacheSettings(), guard=GUARD)  # type: ignore[arg-type]
    cache.prefetch("I am ann@example.com")
    cache.prefetch("I am ann@example.com")
    assert len(calls) == 1  # memoised
    cache.forget("I am ann@example.com")
    cache.prefetch("I am ann@example.com")
    assert len(calls) == 2
    cache.close()
