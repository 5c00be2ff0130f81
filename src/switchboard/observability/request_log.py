"""The asynchronous request log: a bounded queue the request path drops records into, and
one writer thread that batches them into SQLite.

``submit`` never blocks and never raises: when the queue is full the record is dropped and
counted. Text is redacted and cut in the writer thread, off the request path. Each batch
(the request rows and their spend totals) is one transaction; a failing batch (a full
disk, a read-only or damaged file) is counted as lost records and the writer goes on. The
log says so once when writing starts to fail, naming the file and the fix, and once when
it works again, with the number of records lost meanwhile. A file that was read-only when
the writer connected is connected to again, so writing resumes once it is writable.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from switchboard.config import RequestLogSettings
from switchboard.errors import StorageError
from switchboard.observability import log_store
from switchboard.observability.record import RequestRecord
from switchboard.observability.redact import redact_text

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Flush:
    """A marker: write what came before it now, then set ``done``."""

    done: threading.Event


@dataclass(frozen=True)
class _Stop:
    """A marker: write what came before it, then end the writer."""


_Item = RequestRecord | _Flush | _Stop


def prepare_text(
    text: str | None, settings: RequestLogSettings, redact: Callable[[str], str]
) -> str | None:
    """What the log keeps of a prompt or an output: nothing, or redacted and cut."""
    if text is None or not settings.record_text:
        return None
    return redact(text)[: settings.max_text_chars]


class RequestLog:
    def __init__(
        self,
        path: Path,
        settings: RequestLogSettings,
        redact: Callable[[str], str] = redact_text,
    ) -> None:
        self.path = path
        self.settings = settings
        self._redact = redact
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=settings.queue_size)
        self._lock = threading.Lock()
        self._dropped = 0
        self._failed_batches = 0
        self._failed_records = 0
        self._written = 0
        self._lost_while_failing: int | None = None  # None: the last batch was written
        self._thread: threading.Thread | None = None
        self.file = log_store.gateway_file(path)

    # -- counters (thread-safe) -------------------------------------------------------------
    @property
    def dropped(self) -> int:
        """Records refused because the queue was full."""
        with self._lock:
            return self._dropped

    @property
    def failed_batches(self) -> int:
        with self._lock:
            return self._failed_batches

    @property
    def failed_records(self) -> int:
        """Records lost in failed batches."""
        with self._lock:
            return self._failed_records

    @property
    def written(self) -> int:
        with self._lock:
            return self._written

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the writer thread (it opens its own connection and creates the tables)."""
        if self._thread is not None or not self.settings.enabled:
            return
        # here, so a path that cannot be opened fails at start-up (the log store checked it)
        conn = log_store.connect(self.file, check=False)
        self._thread = threading.Thread(
            target=self._run, args=(conn,), name="request-log", daemon=True
        )
        self._thread.start()

    def submit(self, record: RequestRecord) -> bool:
        """Queue ``record`` for writing; ``False`` if it was dropped (queue full, disabled)."""
        if not self.settings.enabled:
            return False
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            with self._lock:
                self._dropped += 1
            return False
        return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every record submitted so far is written (or failed); ``False`` on
        timeout or when the writer is not running."""
        if not self._alive():
            return False
        deadline = time.monotonic() + timeout
        marker = _Flush(threading.Event())
        try:
            self._queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        return marker.done.wait(max(0.0, deadline - time.monotonic()))

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer."""
        thread = self._thread
        if thread is None:
            return
        deadline = time.monotonic() + timeout
        try:
            self._queue.put(_Stop(), timeout=timeout)
        except queue.Full:
            logger.error("request log: queue still full at close, records lost")
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            logger.error("request log writer did not stop within %.1f s", timeout)
        else:
            self._thread = None

    def _alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the writer thread ------------------------------------------------------------------
    def _run(self, conn: sqlite3.Connection) -> None:
        try:
            while True:
                batch, marker = self._next_batch()
                if batch:
                    conn = self._fresh(conn)
                    self._write(conn, batch)
                if isinstance(marker, _Flush):
                    marker.done.set()
                elif isinstance(marker, _Stop):
                    return
        finally:
            conn.close()

    def _fresh(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        """``conn``, or a new connection in place of one the file refused as read-only
        (SQLite opened it read-only; the file may be writable by now)."""
        if not getattr(conn, "stale", False):
            return conn
        try:
            fresh = log_store.connect(self.file, check=False)
        except sqlite3.Error:  # cannot be opened now: tried again at the next batch
            return conn
        conn.close()
        return fresh

    def _next_batch(self) -> tuple[list[RequestRecord], _Flush | _Stop | None]:
        """Up to ``batch_size`` records, gathered for at most ``flush_interval_s`` after the
        first; a marker ends the batch early."""
        batch: list[RequestRecord] = []
        item = self._queue.get()
        deadline = time.monotonic() + self.settings.flush_interval_s
        while True:
            if not isinstance(item, RequestRecord):
                return batch, item
            batch.append(item)
            if len(batch) >= self.settings.batch_size:
                return batch, None
            remaining = deadline - time.monotonic()
            try:
                item = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                return batch, None

    def _prepared(self, record: RequestRecord) -> RequestRecord:
        return replace(
            record,
            input_text=prepare_text(record.input_text, self.settings, self._redact),
            output_text=prepare_text(record.output_text, self.settings, self._redact),
        )

    def _write(self, conn: sqlite3.Connection, batch: Sequence[RequestRecord]) -> None:
        try:
            log_store.write_batch(conn, [self._prepared(r) for r in batch])
        except Exception as exc:
            with self._lock:
                self._failed_batches += 1
                self._failed_records += len(batch)
                first = self._lost_while_failing is None
                self._lost_while_failing = (self._lost_while_failing or 0) + len(batch)
            if not first:
                return
            if isinstance(exc, StorageError):  # the message names the file and the fix
                logger.error("request log: records are being lost: %s", exc)
            else:  # a bug: its traceback, once
                logger.exception("request log: records are being lost")
        else:
            with self._lock:
                self._written += len(batch)
                lost, self._lost_while_failing = self._lost_while_failing, None
            if lost is not None:
                logger.warning(
                    "request log: writing again; %d records were lost while it failed", lost
                )
