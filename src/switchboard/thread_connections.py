"""One database connection per thread, closed when its thread ends.

Stores (SQLite, PostgreSQL) give each thread its own connection, opened on first use. A
server's thread pool retires idle threads and starts new ones, so a connection kept until
the store closes would pile up for as long as the server runs (two file descriptors each
for SQLite in WAL mode). Here each connection lives in a slot of a ``threading.local``:
when its thread ends, the slot is dropped and the connection closed with it. ``close``
closes the connections of threads still alive and refuses new ones. A connection that
says it is ``stale`` (a SQLite connection opened while its file was read-only) is closed
and replaced at the next ``get``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class Closeable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=Closeable)


class StoreClosedError(RuntimeError):
    """The store was closed: no connection is opened any more."""


class _Slot(Generic[C]):
    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: C) -> None:
        self.conn = conn


class ThreadConnections(Generic[C]):
    """``get()`` is this thread's connection, opened by ``open_connection`` on first use
    (an exception there leaves nothing behind; the next call tries again)."""

    def __init__(self, open_connection: Callable[[], C], what: str = "the store") -> None:
        self._open = open_connection
        self._what = what
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open_conns: dict[int, C] = {}
        self._closed = False

    def get(self) -> C:
        if self._closed:
            raise StoreClosedError(f"{self._what} is closed")
        slot: _Slot[C] | None = getattr(self._local, "slot", None)
        if slot is not None:
            if not getattr(slot.conn, "stale", False):
                return slot.conn
            self.discard()
        conn = self._open()
        with self._lock:
            if self._closed:
                conn.close()
                raise StoreClosedError(f"{self._what} is closed")
            self._open_conns[id(conn)] = conn
        slot = _Slot(conn)
        weakref.finalize(slot, self._release, conn)  # runs when this thread's locals go
        self._local.slot = slot
        return conn

    def discard(self) -> None:
        """Close this thread's connection (e.g. a broken one); the next ``get`` opens anew."""
        slot: _Slot[C] | None = getattr(self._local, "slot", None)
        if slot is not None:
            del self._local.slot
            self._release(slot.conn)

    @property
    def open_count(self) -> int:
        """Connections open now (threads alive that used the store)."""
        with self._lock:
            return len(self._open_conns)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close every open connection and refuse new ones."""
        with self._lock:
            self._closed = True
            conns, self._open_conns = list(self._open_conns.values()), {}
        for conn in conns:
            conn.close()

    def _release(self, conn: C) -> None:
        with self._lock:
            owned = self._open_conns.pop(id(conn), None) is not None
        if owned:
            conn.close()
