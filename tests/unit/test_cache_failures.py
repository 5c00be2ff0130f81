"""A failing cache store degrades to misses: a request never fails because of the cache."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from switchboard.cache.service import ResponseCache
from switchboard.cache.sqlite_store import SQLiteCacheStore
from switchboard.cache.types import CachedAnswer, CacheScope
from switchboard.config import CacheSettings

pytestmark = pytest.mark.unit

SCOPE = CacheScope("acme", "m", "s")


class BrokenStore(SQLiteCacheStore):
    def __init__(self, path: Path, error: Exception) -> None:
        super().__init__(path)
        self.error = error

    def get(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
        raise self.error

    def put(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
        raise self.error


@pytest.mark.parametrize(
    "error", [sqlite3.OperationalError("database is locked"), RedisConnectionError("down")]
)
def test_a_failing_store_is_a_miss_and_a_lost_write(tmp_path: Path, error: Exception) -> None:
    cache = ResponseCache(BrokenStore(tmp_path / "c.db", error), None, CacheSettings())
    cache.put(SCOPE, "q", "k", CachedAnswer("a"))  # does not raise
    assert cache.get(SCOPE, "q", "k") is None
    cache.close()


def test_a_working_store_round_trips(tmp_path: Path) -> None:
    cache = ResponseCache(SQLiteCacheStore(tmp_path / "c.db"), None, CacheSettings())
    cache.put(SCOPE, "q", "k", CachedAnswer("a", {"n": 1}))
    hit = cache.get(SCOPE, "q", "k")
    assert hit is not None
    assert hit.answer == CachedAnswer("a", {"n": 1})
    cache.close()
