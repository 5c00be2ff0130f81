"""Every SQLite store opens its file through ``SQLiteFile``: a damaged file does not stop
the store from opening, is reported by its health, and each use raises a ``StorageError``
that names the file and the recovery step."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from switchboard.assistant.conversations import ConversationStore
from switchboard.cache.sqlite_store import SQLiteCacheStore
from switchboard.cli import app
from switchboard.errors import StorageError
from switchboard.gateway.keys import KeyStore
from switchboard.health import Status
from switchboard.observability.log_store import LogStore
from switchboard.orders import OrderDB
from switchboard.rag.store import SQLiteStore
from switchboard.rag.types import Chunk, CollectionRef, Document
from switchboard.sqlite_file import RECENT_S, FileHealth, SQLiteFile, merge

pytestmark = pytest.mark.unit

REF = CollectionRef("default", "shop")
DIM = 8

# Each store: how it opens, one call that reads its file, and what its message tells to do.
STORES: dict[str, tuple[Callable[[Path], Any], Callable[[Any], object], str]] = {
    "knowledge": (SQLiteStore, lambda s: s.list_collections("default"), "switchboard ingest"),
    "conversations": (
        ConversationStore,
        lambda s: s.list_sessions("C1001"),
        "past conversations",
    ),
    "gateway keys": (KeyStore.open, lambda s: s.list(), "API keys"),
    "request log": (LogStore.open, lambda s: s.query(), "request log"),
    "cache": (SQLiteCacheStore, lambda s: s.invalidate(None), "refills"),
    "orders": (OrderDB, lambda s: s.is_empty(), "seeded again"),
}


def not_a_database(path: Path) -> Path:
    """What a truncated copy or a stray file in its place looks like to SQLite."""
    path.write_bytes(b"this is not what SQLite wrote here\n" * 3)
    return path


def knowledge_db(path: Path) -> Path:
    store = SQLiteStore(path)
    store.create_collection(REF, embedding_model="fake", dim=DIM)
    for n in range(40):
        text = "refunds shipping returns " * 40
        document = Document(f"doc-{n}", f"Article {n}", f"doc-{n}.md", text, f"hash-{n}")
        chunk = Chunk(document.id, 0, document.text, 0, len(document.text), 100)
        store.upsert_document(REF, document, [chunk], np.ones((1, DIM), dtype=np.float32))
    store.close()  # the last connection checkpoints the WAL into the file
    return path


def damage_pages(path: Path) -> None:
    """Overwrite every page but the first (the header and the schema) with garbage."""
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page:] = b"\x55" * (len(data) - page)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", list(STORES))
def test_a_store_opens_on_a_file_that_is_not_a_database_and_each_use_names_it(
    tmp_path: Path, name: str
) -> None:
    open_store, use, recovery = STORES[name]
    path = not_a_database(tmp_path / "store.sqlite3")
    store = open_store(path)  # the server starts; /health reports the file
    health = store.file.health()
    assert health.status is Status.DOWN
    assert health.path == str(path)
    assert "file is not a database" in health.quick_check
    with pytest.raises(StorageError) as raised:
        use(store)
    message = str(raised.value)
    assert message.startswith(f"{path} is not a SQLite database (file is not a database): ")
    assert recovery in message
    assert (raised.value.status_code, raised.value.code) == (503, "storage_error")
    assert isinstance(raised.value, sqlite3.DatabaseError)  # SQLite's handlers still apply


def test_quick_check_at_open_finds_damaged_pages(tmp_path: Path) -> None:
    path = knowledge_db(tmp_path / "knowledge.sqlite3")
    healthy = SQLiteStore(path)
    assert healthy.file.health().quick_check == "ok"
    healthy.close()
    damage_pages(path)
    store = SQLiteStore(path)
    health = store.file.health()
    assert health.status is Status.DOWN
    assert health.quick_check not in ("ok", "not run")
    with pytest.raises(StorageError) as raised:
        store.keyword_search(REF, "refunds", 5)
    assert str(raised.value).startswith(f"{path} is damaged (")
    assert "restore it from a backup" in str(raised.value)
    store.close()


def test_a_healthy_store_reports_ok(tmp_path: Path) -> None:
    store = SQLiteStore(knowledge_db(tmp_path / "knowledge.sqlite3"))
    assert store.keyword_search(REF, "refunds", 3)
    assert store.file.health() == FileHealth(
        "knowledge", str(tmp_path / "knowledge.sqlite3"), Status.OK, True, "ok", 0, None
    )
    store.close()


def test_a_locked_file_is_degraded_for_a_minute_then_ok(tmp_path: Path) -> None:
    now = [1000.0]
    file = SQLiteFile(tmp_path / "db.sqlite3", "test", "restore it", clock=lambda: now[0])
    holder = file.connect()
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = file.connect(timeout_s=0)
    with pytest.raises(StorageError, match=r"is locked by another connection .*: retry"):
        waiter.execute("INSERT INTO t VALUES (1)")
    assert file.health().status is Status.DEGRADED
    now[0] += RECENT_S
    health = file.health()
    assert (health.status, health.errors) == (Status.OK, 1)
    assert health.last_error is not None
    assert "database is locked" in health.last_error
    holder.execute("ROLLBACK")
    holder.close()
    waiter.close()


def test_constraint_violations_stay_the_callers(tmp_path: Path) -> None:
    file = SQLiteFile(tmp_path / "db.sqlite3", "test", "restore it")
    conn = file.connect()
    conn.execute("CREATE TABLE t (x UNIQUE)")
    conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError) as raised:
        conn.execute("INSERT INTO t VALUES (1)")
    assert not isinstance(raised.value, StorageError)
    assert file.health().errors == 0
    conn.close()


def test_a_missing_directory_fails_at_connect_naming_the_file(tmp_path: Path) -> None:
    file = SQLiteFile(tmp_path / "missing" / "db.sqlite3", "test", "restore it")
    with pytest.raises(StorageError, match=r"db\.sqlite3 cannot be opened .*directory exists"):
        file.connect()


def test_merge_keeps_the_worst_view_of_one_file() -> None:
    ok = FileHealth("gateway", "g.db", Status.OK, True, "ok", 0, None)
    down = FileHealth("gateway", "g.db", Status.DOWN, True, "not run", 2, "g.db is damaged")
    assert merge([ok, down]) == FileHealth(
        "gateway", "g.db", Status.DOWN, True, "ok", 2, "g.db is damaged"
    )


def test_the_cli_names_the_file_on_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(tmp_path / "absent.toml"))
    path = not_a_database(tmp_path / "knowledge.sqlite3")
    result = CliRunner().invoke(app, ["collections", "list"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {path} is not a SQLite database")
    assert result.stderr.count("\n") == 1
