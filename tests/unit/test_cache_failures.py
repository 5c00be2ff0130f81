"""A failing cache store degrades to misses: a request never fails because of the cache."""

from __future__ import annotations

import logging
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
    """Fails every get and put with ``error`` (None: works, holding nothing)."""

    def __init__(self, path: Path, error: Exception | None) -> None:
        super().__init__(path)
        self.error = error

    def get(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
        if self.error is not None:
            raise self.error

    def put(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
        if self.error is not None:
            raise self.error


@pytest.mark.parametrize(
    "error", [sqlite3.OperationalError("database is locked"), RedisConnectionError("down")]
)
def test_a_failing_store_is_a_miss_and_a_lost_write(tmp_path: Path, error: Exception) -> None:
    cache = ResponseCache(BrokenStore(tmp_path / "c.db", error), None, CacheSettings(), guard=None)
    cache.put(SCOPE, "q", "k", CachedAnswer("a"))  # does not raise
    assert cache.get(SCOPE, "q", "k") is None
    cache.close()


def test_a_working_store_round_trips(tmp_path: Path) -> None:
    cache = ResponseCache(SQLiteCacheStore(tmp_path / "c.db"), None, CacheSettings(), guard=None)
    cache.put(SCOPE, "q", "k", CachedAnswer("a", {"n": 1}))
    hit = cache.get(SCOPE, "q", "k")
    assert hit is not None
    assert hit.answer == CachedAnswer("a", {"n": 1})
    cache.close()


def test_a_failing_store_is_logged_once_until_it_works_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    store = BrokenStore(tmp_path / "c.db", RedisConnectionError("down"))
    cache = ResponseCache(store, None, CacheSettings(), guard=None)
    for _ in range(3):
        assert cache.get(SCOPE, "q", "k") is None
        cache.put(SCOPE, "q", "k", CachedAnswer("a"))
    assert cache.service.health().status == "degraded"
    store.error = None  # it works again
    cache.put(SCOPE, "q", "k", CachedAnswer("a"))
    assert cache.service.health().status == "ok"
    assert cache.service.health().errors == 6
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            f"cache: {tmp_path / 'c.db'} failed (ConnectionError: down); lookups are misses "
            "and answers are not stored until it works again",
        ),
        ("INFO", "cache: answers again after 6 failed call(s)"),
    ]
    cache.close()
