"""Upload jobs in one SQLite file, so a job outlives the process that ran it: after a
restart, a job that was queued or running reads ``failed`` (``job_lost``) instead of
vanishing, and its spooled files are removed.

Finished jobs are kept per tenant (the newest ``keep``) for ``ttl_s`` seconds. One
connection serves every thread, behind a lock: each call is a short statement.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from switchboard.rag.jobs.types import (
    FINISHED,
    Job,
    JobError,
    JobProgress,
    JobReport,
    JobStatus,
)
from switchboard.rag.loaders import FailureKind, LoadFailure
from switchboard.sqlite_tx import transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    collection TEXT NOT NULL,
    status TEXT NOT NULL,
    files TEXT NOT NULL,
    spool TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    files_done INTEGER NOT NULL DEFAULT 0,
    files_total INTEGER NOT NULL,
    chunks_done INTEGER NOT NULL DEFAULT 0,
    chunks_total INTEGER NOT NULL DEFAULT 0,
    report TEXT,
    error_code TEXT,
    error_message TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_tenant ON jobs(tenant, collection, created_at);
"""
_COLUMNS = """id, tenant, collection, status, files, spool, created_at, started_at, finished_at,
    files_done, files_total, chunks_done, chunks_total, report, error_code, error_message"""
_FINISHED = ", ".join(f"'{s.value}'" for s in sorted(FINISHED))


class JobStore:
    def __init__(self, path: Path, *, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def insert(self, job: Job) -> None:
        with self._locked() as conn:
            conn.execute(
                f"INSERT INTO jobs ({_COLUMNS}) VALUES ({', '.join('?' * 16)})",
                _row(job),
            )

    def get(self, job_id: str) -> Job | None:
        with self._locked() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _job(row)

    def list_jobs(self, tenant: str, collection: str, limit: int) -> list[Job]:
        """The collection's jobs, newest first."""
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE tenant = ? AND collection = ? "
                "ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (tenant, collection, limit),
            ).fetchall()
        return [_job(row) for row in rows]

    def unfinished(self) -> list[Job]:
        with self._locked() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE status NOT IN ({_FINISHED}) ORDER BY rowid"
            ).fetchall()
        return [_job(row) for row in rows]

    def count(self, status: JobStatus) -> int:
        with self._locked() as conn:
            (count,) = conn.execute(
                "SELECT count(*) FROM jobs WHERE status = ?", (status.value,)
            ).fetchone()
        return int(count)

    def start(self, job_id: str) -> None:
        with self._locked() as conn:
            conn.execute(
                "UPDATE jobs SET status = ?, started_at = ? WHERE id = ?",
                (JobStatus.RUNNING.value, self._now(), job_id),
            )

    def set_status(self, job_id: str, status: JobStatus) -> None:
        with self._locked() as conn:
            conn.execute("UPDATE jobs SET status = ? WHERE id = ?", (status.value, job_id))

    def finish(
        self,
        job_id: str,
        status: JobStatus,
        progress: JobProgress,
        report: JobReport | None = None,
        error: JobError | None = None,
    ) -> None:
        if not status.finished:
            raise ValueError(f"{status} is not a finished status")
        with self._locked() as conn:
            conn.execute(
                "UPDATE jobs SET status = ?, finished_at = ?, files_done = ?, chunks_done = ?, "
                "chunks_total = ?, report = ?, error_code = ?, error_message = ? WHERE id = ?",
                (
                    status.value,
                    self._now(),
                    progress.files_done,
                    progress.chunks_done,
                    progress.chunks_total,
                    None if report is None else json.dumps(_report_json(report)),
                    None if error is None else error.code,
                    None if error is None else error.message,
                    job_id,
                ),
            )

    def prune(self, tenant: str, keep: int, ttl_s: float) -> None:
        """Drop finished jobs older than ``ttl_s``, and the tenant's beyond its newest ``keep``."""
        with self._locked() as conn, transaction(conn):
            conn.execute(
                f"DELETE FROM jobs WHERE status IN ({_FINISHED}) AND finished_at < ?",
                (self._now() - ttl_s,),
            )
            conn.execute(
                f"DELETE FROM jobs WHERE status IN ({_FINISHED}) AND tenant = ? AND id NOT IN "
                f"(SELECT id FROM jobs WHERE status IN ({_FINISHED}) AND tenant = ? "
                "ORDER BY created_at DESC, rowid DESC LIMIT ?)",
                (tenant, tenant, keep),
            )

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn


def _row(job: Job) -> tuple[Any, ...]:
    p = job.progress
    return (
        job.id,
        job.tenant,
        job.collection,
        job.status.value,
        json.dumps(list(job.files)),
        str(job.spool),
        job.created_at,
        job.started_at,
        job.finished_at,
        p.files_done,
        p.files_total,
        p.chunks_done,
        p.chunks_total,
        None if job.report is None else json.dumps(_report_json(job.report)),
        None if job.error is None else job.error.code,
        None if job.error is None else job.error.message,
    )


def _job(row: tuple[Any, ...]) -> Job:
    (id_, tenant, collection, status, files, spool, created, started, finished) = row[:9]
    files_done, files_total, chunks_done, chunks_total, report, code, message = row[9:]
    return Job(
        id=id_,
        tenant=tenant,
        collection=collection,
        status=JobStatus(status),
        files=tuple(json.loads(files)),
        spool=Path(spool),
        created_at=created,
        started_at=started,
        finished_at=finished,
        progress=JobProgress(files_done, files_total, chunks_done, chunks_total),
        report=None if report is None else _report(json.loads(report)),
        error=None if code is None else JobError(code, message),
    )


def _report_json(report: JobReport) -> dict[str, Any]:
    return {
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "chunks": report.chunks,
        "failed": [
            {"path": f.path, "line": f.line, "kind": f.kind.value, "reason": f.reason}
            for f in report.failed
        ],
    }


def _report(data: dict[str, Any]) -> JobReport:
    return JobReport(
        added=data["added"],
        updated=data["updated"],
        unchanged=data["unchanged"],
        chunks=data["chunks"],
        failed=tuple(
            LoadFailure(f["path"], FailureKind(f["kind"]), f["reason"], f["line"])
            for f in data["failed"]
        ),
    )
