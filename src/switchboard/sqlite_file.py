"""Open a SQLite file with checks and good errors: every store opens its file here.

``SQLiteFile(path, label, recovery)`` makes the store's connections. They turn SQLite's
errors (on connect, on a statement, while rows are read, on commit) into ``StorageError``
naming the file, what happened and how to recover, e.g.::

    data/knowledge.sqlite3 is not a SQLite database (file is not a database): restore it
    from a backup, or move it away and re-run `switchboard demo load` / `switchboard ingest`

and count them for ``health()``. ``opening()`` wraps a store's start (schema, then
``quick_check``): a damaged file there is recorded, not raised, so a server starts,
reports the file as down, and each request that needs it gets the ``StorageError``.
Constraint violations (``IntegrityError``) and misuse (``ProgrammingError``) are left as
they are: they are the caller's, not the file's.
"""

from __future__ import annotations

import enum
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

from switchboard.errors import StorageError
from switchboard.health import Status, worst

RECENT_S = 60.0
"""A file with an error this recent is reported degraded."""


class Fault(enum.StrEnum):
    NOT_A_DATABASE = "not_a_database"
    CORRUPT = "corrupt"
    FULL = "full"
    READ_ONLY = "read_only"
    CANNOT_OPEN = "cannot_open"
    LOCKED = "locked"
    IO = "io"
    OTHER = "other"


_FAULT_OF_CODE = {
    "SQLITE_NOTADB": Fault.NOT_A_DATABASE,
    "SQLITE_CORRUPT": Fault.CORRUPT,
    "SQLITE_FULL": Fault.FULL,
    "SQLITE_READONLY": Fault.READ_ONLY,
    "SQLITE_CANTOPEN": Fault.CANNOT_OPEN,
    "SQLITE_BUSY": Fault.LOCKED,
    "SQLITE_LOCKED": Fault.LOCKED,
    "SQLITE_IOERR": Fault.IO,
}
_WHAT = {
    Fault.NOT_A_DATABASE: "is not a SQLite database",
    Fault.CORRUPT: "is damaged",
    Fault.FULL: "cannot grow: the disk is full",
    Fault.READ_ONLY: "is read-only",
    Fault.CANNOT_OPEN: "cannot be opened",
    Fault.LOCKED: "is locked by another connection",
    Fault.IO: "could not be read or written",
    Fault.OTHER: "failed",
}
_STEP = {  # where the store's own recovery step is not the fix
    Fault.FULL: "free space on its disk",
    Fault.READ_ONLY: "make it and its directory writable for this server's user",
    Fault.CANNOT_OPEN: "check that its directory exists and is writable for this server's user",
    Fault.LOCKED: "retry; if it persists, stop the other process that holds it",
}
DAMAGE = frozenset({Fault.NOT_A_DATABASE, Fault.CORRUPT})
_OWN_ERRORS = (sqlite3.IntegrityError, sqlite3.ProgrammingError, StorageError)
_NEXT_ROW = sqlite3.Cursor.__next__


def fault_of(error: sqlite3.Error) -> Fault:
    """The kind of failure, from SQLite's primary result code (``SQLITE_IOERR_WRITE``
    is an ``SQLITE_IOERR``)."""
    name = getattr(error, "sqlite_errorname", None) or ""
    return _FAULT_OF_CODE.get("_".join(name.split("_")[:2]), Fault.OTHER)


@dataclass(frozen=True)
class FileHealth:
    """What ``/health`` shows of one store's file."""

    label: str
    path: str
    status: Status
    critical: bool
    quick_check: str  # "ok", "not run", or what it found
    errors: int  # since start
    last_error: str | None


class SQLiteFile:
    """One store's file: its connections, its start-up check and its health.

    ``critical``: requests fail without it (a cache that fails only misses is not)."""

    def __init__(
        self,
        path: Path,
        label: str,
        recovery: str,
        *,
        critical: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.label = label
        self.recovery = recovery
        self.critical = critical
        self._clock = clock
        self._lock = threading.Lock()
        self._quick_check = "not run"
        self._damaged = False
        self._errors = 0
        self._last_error: str | None = None
        self._last_error_at: float | None = None

    def connect(
        self,
        *,
        timeout_s: float = 5.0,
        isolation_level: Literal["DEFERRED", "IMMEDIATE"] | None = None,
        check_same_thread: bool = False,
    ) -> sqlite3.Connection:
        """A connection whose errors name this file (autocommit unless ``isolation_level``)."""
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=timeout_s,
                isolation_level=isolation_level,
                check_same_thread=check_same_thread,
                factory=_Connection,
            )
        except sqlite3.DatabaseError as exc:
            raise self.error(exc) from exc
        conn.file = self
        return conn

    @contextmanager
    def opening(self) -> Iterator[None]:
        """Wrap a store's start: a ``StorageError`` in the block is recorded (the block
        stops there, and a check it did not reach says why) and not raised: the store
        starts and reports it."""
        try:
            yield
        except StorageError as exc:
            with self._lock:
                if self._quick_check == "not run":
                    self._quick_check = f"not run: {exc.__cause__ or exc}"

    def quick_check(self, conn: sqlite3.Connection) -> None:
        """Run ``PRAGMA quick_check`` and keep its verdict; raise if the file is damaged."""
        rows = [str(row[0]) for row in conn.execute("PRAGMA quick_check").fetchall()]
        verdict = "ok" if rows == ["ok"] else "; ".join(rows[:3])
        with self._lock:
            self._quick_check = verdict
        if verdict != "ok":
            raise self._record(
                Fault.CORRUPT, f"{self.path} is damaged (quick_check: {verdict}): {self.recovery}"
            )

    def error(self, error: sqlite3.Error) -> StorageError:
        """``error`` as a ``StorageError`` naming this file and the way out; counted."""
        fault = fault_of(error)
        what, step = _WHAT[fault], _STEP.get(fault, self.recovery)
        return self._record(fault, f"{self.path} {what} ({error}): {step}")

    def health(self) -> FileHealth:
        with self._lock:
            at = self._last_error_at
            recent = at is not None and self._clock() - at < RECENT_S
            status = Status.DOWN if self._damaged else Status.DEGRADED if recent else Status.OK
            return FileHealth(
                self.label,
                str(self.path),
                status,
                self.critical,
                self._quick_check,
                self._errors,
                self._last_error,
            )

    def _record(self, fault: Fault, message: str) -> StorageError:
        with self._lock:
            self._errors += 1
            self._last_error, self._last_error_at = message, self._clock()
            self._damaged = self._damaged or fault in DAMAGE
        return StorageError(message)


def merge(files: Iterable[FileHealth]) -> FileHealth:
    """One entry for several connections' views of one store (its worst)."""
    ordered = sorted(files, key=lambda h: h.status.rank, reverse=True)
    if not ordered:
        raise ValueError("nothing to merge")
    checks = [h.quick_check for h in ordered]
    found = [c for c in checks if c not in ("ok", "not run")]
    return FileHealth(
        ordered[0].label,
        ordered[0].path,
        worst(h.status for h in ordered),
        any(h.critical for h in ordered),
        found[0] if found else "ok" if "ok" in checks else "not run",
        sum(h.errors for h in ordered),
        next((h.last_error for h in ordered if h.last_error), None),
    )


T = TypeVar("T")


def _checked(conn: _Connection, call: Callable[..., T], *args: Any) -> T:
    try:
        return call(*args)
    except _OWN_ERRORS:
        raise
    except sqlite3.DatabaseError as exc:
        raise conn.failed(exc) from exc


class _Cursor(sqlite3.Cursor):
    def _conn(self) -> _Connection:
        conn: _Connection = self.connection  # type: ignore[assignment]
        return conn

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        return _checked(self._conn(), super().execute, sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _Cursor:
        return _checked(self._conn(), super().executemany, sql, seq_of_parameters)

    def executescript(self, sql_script: str, /) -> sqlite3.Cursor:
        return _checked(self._conn(), super().executescript, sql_script)

    def fetchone(self) -> Any:
        return _checked(self._conn(), super().fetchone)

    def fetchmany(self, size: int | None = 1) -> list[Any]:
        return _checked(self._conn(), super().fetchmany, size)

    def fetchall(self) -> list[Any]:
        return _checked(self._conn(), super().fetchall)

    def __next__(self) -> Any:  # per row: inlined, no call on the way
        try:
            return _NEXT_ROW(self)
        except _OWN_ERRORS:
            raise
        except sqlite3.DatabaseError as exc:
            raise self._conn().failed(exc) from exc


class _Connection(sqlite3.Connection):
    file: SQLiteFile
    stale = False
    """Set when the file refused a write as read-only: SQLite opened this connection
    read-only (the file was then) and keeps it so, so it must be replaced by a new one
    (``ThreadConnections`` does) for writes to go through once the file is writable."""

    def failed(self, error: sqlite3.Error) -> StorageError:
        """``error`` as the file's ``StorageError``; a read-only refusal marks ``stale``."""
        if fault_of(error) is Fault.READ_ONLY:
            self.stale = True
        return self.file.error(error)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor(_Cursor).execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        return self.cursor(_Cursor).executemany(sql, parameters)

    def executescript(self, sql_script: str, /) -> sqlite3.Cursor:
        return self.cursor(_Cursor).executescript(sql_script)

    def commit(self) -> None:
        _checked(self, super().commit)

    def rollback(self) -> None:
        _checked(self, super().rollback)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> Literal[False]:
        _checked(self, super().__exit__, exc_type, exc, tb)
        return False
