"""The request log's SQLite tables: the schema, batch inserts with spend aggregate upserts,
and the dashboard's queries.

The tables live in the gateway database next to other parts' tables, so the schema is
``CREATE ... IF NOT EXISTS`` and touches nothing else. ``spend`` keeps running totals per
budget period (``"2026-11"`` and ``"2026-11-25"``, UTC) for keys and tenants, and per day for
models, so budgets and reports never scan the log. The file is opened through
``SQLiteFile`` (``gateway_file``): errors name it and say how to recover.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, astuple, dataclass
from pathlib import Path
from typing import Any, Literal

from switchboard.observability.record import Attempt, RequestRecord, TurnSummary
from switchboard.periods import period_of
from switchboard.sqlite_file import SQLiteFile
from switchboard.sqlite_tx import transaction

SpendScope = Literal["key", "tenant", "model"]

BUSY_TIMEOUT_MS = 5000
RECOVERY = (
    "restore it from a backup, or move it away (a new one is made at start; the API keys, "
    "budgets and request log in it are lost)"
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    ts REAL NOT NULL,
    key_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    provider TEXT,
    served_model TEXT,
    attempts TEXT NOT NULL,
    status INTEGER NOT NULL,
    error_code TEXT,
    stream INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    queue_wait_ms REAL,
    ttft_ms REAL,
    itl_mean_ms REAL,
    itl_p99_ms REAL,
    total_ms REAL,
    cache_hit INTEGER NOT NULL,
    guard_events TEXT NOT NULL,
    input_text TEXT,
    output_text TEXT,
    turn TEXT
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);
CREATE INDEX IF NOT EXISTS requests_tenant_ts ON requests (tenant, ts);
CREATE INDEX IF NOT EXISTS requests_key_ts ON requests (key_id, ts);
CREATE INDEX IF NOT EXISTS requests_status_ts ON requests (status, ts);
CREATE TABLE IF NOT EXISTS spend (
    period TEXT NOT NULL,
    scope TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    requests INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    errors INTEGER NOT NULL,
    PRIMARY KEY (period, scope, scope_id, tenant)
);
CREATE INDEX IF NOT EXISTS spend_tenant_period ON spend (tenant, period)
"""

_COLUMNS = (
    "request_id, ts, key_id, tenant, endpoint, model, provider, served_model, attempts, "
    "status, error_code, stream, prompt_tokens, completion_tokens, cost_usd, queue_wait_ms, "
    "ttft_ms, itl_mean_ms, itl_p99_ms, total_ms, cache_hit, guard_events, input_text, "
    "output_text, turn"
)
_INSERT = (
    f"INSERT OR IGNORE INTO requests ({_COLUMNS}) "
    f"VALUES ({', '.join('?' * len(_COLUMNS.split(',')))})"
)
_UPSERT = """
INSERT INTO spend (period, scope, scope_id, tenant, requests, prompt_tokens,
                   completion_tokens, cost_usd, errors)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (period, scope, scope_id, tenant) DO UPDATE SET
    requests = requests + excluded.requests,
    prompt_tokens = prompt_tokens + excluded.prompt_tokens,
    completion_tokens = completion_tokens + excluded.completion_tokens,
    cost_usd = cost_usd + excluded.cost_usd,
    errors = errors + excluded.errors
"""
_SPEND_COLUMNS = (
    "period, scope, scope_id, tenant, requests, prompt_tokens, completion_tokens, cost_usd, errors"
)


@dataclass(frozen=True)
class SpendRow:
    """Running totals of one scope (a key, a tenant, or a model of a tenant) in one period."""

    period: str
    scope: str
    scope_id: str
    tenant: str
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    errors: int = 0

    def plus(self, other: SpendRow) -> SpendRow:
        return SpendRow(
            self.period,
            self.scope,
            self.scope_id,
            self.tenant,
            self.requests + other.requests,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cost_usd + other.cost_usd,
            self.errors + other.errors,
        )


@dataclass(frozen=True)
class LoggedRequest:
    """One row of the log: its id (the pagination cursor) and the record it keeps."""

    id: int
    record: RequestRecord


def spend_deltas(records: Iterable[RequestRecord]) -> list[SpendRow]:
    """What a batch adds to ``spend``, one row per (period, scope, scope_id, tenant)."""
    totals: dict[tuple[str, str, str, str], SpendRow] = {}
    for record in records:
        day, month = period_of(record.started_at, "day"), period_of(record.started_at, "month")
        model = record.served_model or record.model
        keys = [
            (day, "key", record.key_id),
            (month, "key", record.key_id),
            (day, "tenant", record.tenant),
            (month, "tenant", record.tenant),
            (day, "model", model),
        ]
        for period, scope, scope_id in keys:
            delta = SpendRow(
                period,
                scope,
                scope_id,
                record.tenant,
                1,
                record.prompt_tokens,
                record.completion_tokens,
                record.cost_usd,
                int(record.failed),
            )
            key = (period, scope, scope_id, record.tenant)
            totals[key] = totals[key].plus(delta) if key in totals else delta
    return list(totals.values())


def _row_of(record: RequestRecord) -> tuple[Any, ...]:
    attempts = [
        {"provider": a.provider, "model": a.model, "error": a.error, "latency_ms": a.latency_ms}
        for a in record.attempts
    ]
    return (
        record.request_id,
        record.started_at,
        record.key_id,
        record.tenant,
        record.endpoint,
        record.model,
        record.provider,
        record.served_model,
        json.dumps(attempts),
        record.status,
        record.error_code,
        int(record.stream),
        record.prompt_tokens,
        record.completion_tokens,
        record.cost_usd,
        record.queue_wait_ms,
        record.ttft_ms,
        record.itl_mean_ms,
        record.itl_p99_ms,
        record.total_ms,
        int(record.cache_hit),
        json.dumps(record.guard_events),
        record.input_text,
        record.output_text,
        json.dumps(asdict(record.turn)) if record.turn is not None else None,
    )


def _logged(row: sqlite3.Row) -> LoggedRequest:
    record = RequestRecord(
        request_id=row["request_id"],
        started_at=row["ts"],
        key_id=row["key_id"],
        tenant=row["tenant"],
        endpoint=row["endpoint"],
        model=row["model"],
        status=row["status"],
        error_code=row["error_code"],
        provider=row["provider"],
        served_model=row["served_model"],
        attempts=[Attempt(**a) for a in json.loads(row["attempts"])],
        stream=bool(row["stream"]),
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        cost_usd=row["cost_usd"],
        queue_wait_ms=row["queue_wait_ms"],
        ttft_ms=row["ttft_ms"],
        itl_mean_ms=row["itl_mean_ms"],
        itl_p99_ms=row["itl_p99_ms"],
        total_ms=row["total_ms"],
        cache_hit=bool(row["cache_hit"]),
        guard_events=list(json.loads(row["guard_events"])),
        input_text=row["input_text"],
        output_text=row["output_text"],
        turn=TurnSummary(**json.loads(row["turn"])) if row["turn"] else None,
    )
    return LoggedRequest(row["id"], record)


def gateway_file(path: Path) -> SQLiteFile:
    """The gateway database (keys, spend, request log) as its stores open it."""
    return SQLiteFile(path, "gateway", RECOVERY)


def connect(file: SQLiteFile, *, check: bool = True) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, and the schema;
    ``check`` runs ``quick_check``. A damaged file is recorded in ``file``, not raised."""
    conn = file.connect(timeout_s=BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    with file.opening():
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        with transaction(conn):
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            columns = {row["name"] for row in conn.execute("PRAGMA table_info(requests)")}
            if "turn" not in columns:  # a log written before turns were summarised
                conn.execute("ALTER TABLE requests ADD COLUMN turn TEXT")
        if check:
            file.quick_check(conn)
    return conn


def write_batch(conn: sqlite3.Connection, records: Sequence[RequestRecord]) -> int:
    """Insert ``records`` and add them to ``spend`` in one transaction; returns rows written.

    A ``request_id`` already logged is skipped, and so is its spend (no double counting).
    """
    with transaction(conn):
        fresh = [r for r in records if conn.execute(_INSERT, _row_of(r)).rowcount == 1]
        conn.executemany(_UPSERT, [astuple(row) for row in spend_deltas(fresh)])
    return len(fresh)


def _query_sql(
    *,
    tenant: str | None,
    key_id: str | None,
    status: int | None,
    since: float | None,
    until: float | None,
    before_id: int | None,
) -> tuple[str, list[Any]]:
    filters = {
        "tenant = ?": tenant,
        "key_id = ?": key_id,
        "status = ?": status,
        "ts >= ?": since,
        "ts < ?": until,
        "id < ?": before_id,
    }
    used = {clause: value for clause, value in filters.items() if value is not None}
    where = " AND ".join(used) or "1"
    return f"SELECT * FROM requests WHERE {where} ORDER BY id DESC LIMIT ?", list(used.values())


class LogStore:
    """Reads of the request log and the spend totals (sync: call it from a threadpool).

    ``spent`` makes it the budget ledger's ``SpendSource``.
    """

    def __init__(self, conn: sqlite3.Connection, file: SQLiteFile | None = None) -> None:
        """``file``: where ``conn`` came from, for /health."""
        self.file = file
        self._conn = conn
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> LogStore:
        file = gateway_file(path)
        return cls(connect(file), file)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def query(
        self,
        *,
        tenant: str | None = None,
        key_id: str | None = None,
        status: int | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[LoggedRequest]:
        """Newest first; pass the last row's ``id`` as ``before_id`` for the next page."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        sql, params = _query_sql(
            tenant=tenant,
            key_id=key_id,
            status=status,
            since=since,
            until=until,
            before_id=before_id,
        )
        with self._read() as conn:
            rows = conn.execute(sql, [*params, limit]).fetchall()
        return [_logged(row) for row in rows]

    def spend(
        self, scope: SpendScope, scope_id: str, period: str, *, tenant: str | None = None
    ) -> SpendRow | None:
        """The totals of one key or tenant in ``period``; of a model, summed over tenants
        unless ``tenant`` is given (which also hides another tenant's key)."""
        sql = f"SELECT {_SPEND_COLUMNS} FROM spend WHERE period = ? AND scope = ? AND scope_id = ?"
        params: tuple[str, ...] = (period, scope, scope_id)
        if tenant is not None:
            sql, params = f"{sql} AND tenant = ?", (*params, tenant)
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        if not rows:
            return None
        total = SpendRow(*rows[0])
        for row in rows[1:]:
            total = total.plus(SpendRow(*row))
        return total

    def spent(self, scope: Literal["key", "tenant"], scope_id: str, period: str) -> float:
        row = self.spend(scope, scope_id, period)
        return row.cost_usd if row is not None else 0.0

    def spend_report(self, tenant: str, period_prefix: str) -> list[SpendRow]:
        """Every spend row of ``tenant`` whose period starts with ``period_prefix``
        (``"2026-11"`` gives the month row and its days)."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_SPEND_COLUMNS} FROM spend "
                "WHERE tenant = ? AND period >= ? AND period < ? "
                "ORDER BY period, scope, scope_id",
                (tenant, period_prefix, period_prefix + "\U0010ffff"),
            ).fetchall()
        return [SpendRow(*row) for row in rows]
