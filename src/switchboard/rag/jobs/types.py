"""What an upload job is: its status, progress, outcome and why it failed.

    queued ──► running ──► succeeded | failed | cancelled
       │          └──► cancelling ──► cancelled
       └──► cancelled (never ran)

A job the server lost (stopped or killed while it was queued or running) is ``failed``
with the code ``job_lost``: its committed documents stay, and re-uploading finishes it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from switchboard.rag.loaders import LoadFailure


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"  # asked to stop; the work ends at its next checkpoint
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class JobErrorCode(enum.StrEnum):
    MAX_CHUNKS = "max_chunks_exceeded"
    MAX_SECONDS = "max_seconds_exceeded"
    LOST = "job_lost"
    INVALID_COLLECTION = "invalid_collection"
    INGEST_ERROR = "ingest_error"


CANCELLED_CODE = "cancelled"
"""The ``IngestStopped`` code of a client's cancellation (a job ``cancelled``, not failed)."""


@dataclass(frozen=True)
class JobProgress:
    """Files read of those uploaded; chunks stored of those cut so far (the total is
    known once every file is read)."""

    files_done: int = 0
    files_total: int = 0
    chunks_done: int = 0
    chunks_total: int = 0


@dataclass(frozen=True)
class JobError:
    code: str
    message: str


@dataclass(frozen=True)
class JobReport:
    """What the job committed, as the upload reported it before jobs: per-file failures
    with their reasons."""

    added: int
    updated: int
    unchanged: int
    chunks: int
    failed: tuple[LoadFailure, ...]


@dataclass(frozen=True)
class Job:
    id: str
    tenant: str
    collection: str
    status: JobStatus
    files: tuple[str, ...]
    spool: Path  # the uploaded files, until the job ends
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    progress: JobProgress = JobProgress()
    report: JobReport | None = None
    error: JobError | None = None
