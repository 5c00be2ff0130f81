"""One connection per thread, closed when its thread ends: a server's thread pool retires
idle threads, and their connections must not pile up (file descriptors) until shutdown."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from switchboard.assistant.conversations import ConversationStore
from switchboard.errors import StorageError
from switchboard.rag.store.sqlite import SQLiteStore
from switchboard.sqlite_file import SQLiteFile
from switchboard.thread_connections import StoreClosedError, ThreadConnections

pytestmark = pytest.mark.unit


class FakeConnection:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def _in_threads(fn: Callable[[], object], count: int) -> None:
    for _ in range(count):
        thread = threading.Thread(target=fn)
        thread.start()
        thread.join()


def test_a_thread_keeps_its_connection_and_ending_closes_it() -> None:
    opened: list[FakeConnection] = []

    def open_connection() -> FakeConnection:
        opened.append(FakeConnection())
        return opened[-1]

    connections = ThreadConnections(open_connection)
    assert connections.get() is connections.get()
    _in_threads(connections.get, 20)
    assert len(opened) == 21
    assert [c.closed for c in opened] == [False] + [True] * 20
    assert connections.open_count == 1


def test_close_closes_the_live_ones_and_refuses_new_ones() -> None:
    connections = ThreadConnections(FakeConnection, "the test store")
    conn = connections.get()
    connections.close()
    assert conn.closed
    with pytest.raises(StoreClosedError, match="the test store is closed"):
        connections.get()


def test_a_failed_open_leaves_nothing_and_the_next_call_retries() -> None:
    attempts = iter([OSError("busy"), None])

    def open_connection() -> FakeConnection:
        error = next(attempts)
        if error is not None:
            raise error
        return FakeConnection()

    connections = ThreadConnections(open_connection)
    with pytest.raises(OSError, match="busy"):
        connections.get()
    assert connections.open_count == 0
    assert not connections.get().closed


def test_discard_replaces_this_threads_connection() -> None:
    connections = ThreadConnections(FakeConnection)
    first = connections.get()
    connections.discard()
    assert first.closed
    assert connections.get() is not first


def _fds_on(path: Path) -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        count += target.startswith(str(path))
    return count


def test_stores_used_by_retired_threads_keep_no_descriptors(tmp_path: Path) -> None:
    knowledge = SQLiteStore(tmp_path / "knowledge.sqlite3")
    conversations = ConversationStore(tmp_path / "assistant.sqlite3")

    def use_both() -> None:
        knowledge.list_collections("default")
        conversations.list_sessions("C1")

    try:
        _in_threads(use_both, 3)
        # SQLite may keep one descriptor of a closed connection for reuse (POSIX locks):
        # a constant, not one per retired thread.
        settled = _fds_on(tmp_path)
        _in_threads(use_both, 40)
        assert _fds_on(tmp_path) == settled
    finally:
        knowledge.close()
        conversations.close()
    assert _fds_on(tmp_path) == 0


def test_a_connection_a_read_only_file_refused_is_replaced(tmp_path: Path) -> None:
    file = SQLiteFile(tmp_path / "store.sqlite3", "store", "restore it")
    conns = ThreadConnections(file.connect)
    first = conns.get()
    first.execute("CREATE TABLE t (x)")
    first.execute("PRAGMA query_only = 1")  # as SQLite opens a file that was read-only
    with pytest.raises(StorageError, match="is read-only"):
        first.execute("INSERT INTO t VALUES (1)")
    second = conns.get()  # the file may be writable again: a fresh connection
    assert second is not first
    second.execute("INSERT INTO t VALUES (1)")
    assert second.execute("SELECT count(*) FROM t").fetchone() == (1,)
    with pytest.raises(sqlite3.ProgrammingError):  # the refused one was closed
        first.execute("SELECT 1")
    assert conns.open_count == 1
    conns.close()
