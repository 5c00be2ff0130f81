"""Upload jobs: ingest spooled files in the background, a few at a time, each bounded.

``submit`` takes the folder the upload was spooled into and queues a job; ``workers``
threads run jobs in order (so uploads cannot take every core), each through the
ingestor with a ``JobMonitor`` that enforces ``max_chunks`` and ``max_seconds`` and
carries cancellation. A job's documents are committed one transaction each, so a job
stopped for any reason (cancelled, over a limit, the server stopping or killed) leaves
every document wholly old or wholly new; its spool folder is removed when it ends.

Jobs are read through a ``CollectionRef``: another tenant's (or collection's) job is
``JobNotFoundError``, the same as a missing one.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from switchboard.config import IngestJobSettings
from switchboard.errors import JobNotFoundError, JobQueueFullError
from switchboard.rag.ingest import IngestReport
from switchboard.rag.ingest_monitor import IngestMonitor, IngestStopped
from switchboard.rag.jobs.monitor import KEPT, JobMonitor
from switchboard.rag.jobs.store import JobStore
from switchboard.rag.jobs.types import (
    CANCELLED_CODE,
    Job,
    JobError,
    JobErrorCode,
    JobProgress,
    JobReport,
    JobStatus,
)
from switchboard.rag.types import CollectionRef

logger = logging.getLogger(__name__)

LOST = JobError(
    JobErrorCode.LOST,
    f"The server stopped before the job finished. {KEPT} Upload the files again to finish "
    "(unchanged files are skipped).",
)


class UploadIngestor(Protocol):
    def ingest_files(
        self,
        ref: CollectionRef,
        files: Sequence[tuple[Path, Path]],
        *,
        max_bytes: int,
        source: Callable[[Path], str] | None,
        monitor: IngestMonitor,
    ) -> IngestReport: ...


class IngestJobs:
    def __init__(
        self,
        store: JobStore,
        ingestor: UploadIngestor,
        settings: IngestJobSettings,
        *,
        max_file_bytes: int,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._ingestor = ingestor
        self._settings = settings
        self._max_file_bytes = max_file_bytes
        self._clock = clock
        self._now = now
        self._lock = threading.Lock()
        self._running: dict[str, JobMonitor] = {}
        self._closed = False
        self._recover()
        self._pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="ingest-job")

    def check_capacity(self) -> None:
        """Refuse a new job while ``max_queued`` wait already (before copying its files)."""
        waiting = self._store.count(JobStatus.QUEUED)
        if self._closed or waiting >= self._settings.max_queued:
            raise JobQueueFullError(waiting)

    def submit(self, ref: CollectionRef, spool: Path, files: Sequence[str]) -> Job:
        """Queue the ingestion of ``files`` (names in ``spool``); the job owns ``spool``."""
        with self._lock:
            self.check_capacity()
            self._store.prune(ref.tenant, self._settings.keep, self._settings.ttl_s)
            job = Job(
                id=f"job_{uuid.uuid4().hex}",
                tenant=ref.tenant,
                collection=ref.name,
                status=JobStatus.QUEUED,
                files=tuple(files),
                spool=spool,
                created_at=self._now(),
                progress=JobProgress(files_total=len(files)),
            )
            self._store.insert(job)
            self._pool.submit(self._run, job.id)
        return self._with_progress(job)

    def get(self, ref: CollectionRef, job_id: str) -> Job:
        job = self._store.get(job_id)
        if job is None or (job.tenant, job.collection) != (ref.tenant, ref.name):
            raise JobNotFoundError(job_id)
        return self._with_progress(job)

    def list_jobs(self, ref: CollectionRef, limit: int = 20) -> list[Job]:
        """The collection's jobs, newest first."""
        return [self._with_progress(j) for j in self._store.list_jobs(ref.tenant, ref.name, limit)]

    def cancel(self, ref: CollectionRef, job_id: str) -> Job:
        """A queued job is cancelled at once; a running one stops at its next document or
        embedding batch (``cancelling`` until then); a finished one stays as it is."""
        with self._lock:
            job = self.get(ref, job_id)
            if job.status is JobStatus.QUEUED:
                self._store.finish(job_id, JobStatus.CANCELLED, job.progress)
                shutil.rmtree(job.spool, ignore_errors=True)
            elif job.status is JobStatus.RUNNING and job_id in self._running:
                self._running[job_id].cancel()
                self._store.set_status(job_id, JobStatus.CANCELLING)
        return self.get(ref, job_id)

    def close(self) -> None:
        """Stop running jobs at their next checkpoint, wait for them, and mark every job
        that did not finish ``job_lost``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for monitor in self._running.values():
                monitor.stop(IngestStopped(LOST.code, LOST.message))
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._recover()
        self._store.close()

    def _recover(self) -> None:
        """Jobs left unfinished by a previous process (or by ``close``) end now."""
        for job in self._store.unfinished():
            if job.status is JobStatus.CANCELLING:
                self._store.finish(job.id, JobStatus.CANCELLED, job.progress)
            else:
                self._store.finish(job.id, JobStatus.FAILED, job.progress, error=LOST)
            shutil.rmtree(job.spool, ignore_errors=True)

    def _with_progress(self, job: Job) -> Job:
        monitor = self._running.get(job.id)
        if monitor is None or job.status.finished:
            return job
        return dataclasses.replace(job, progress=monitor.progress)

    def _run(self, job_id: str) -> None:
        with self._lock:
            job = self._store.get(job_id)
            if job is None or job.status is not JobStatus.QUEUED:  # cancelled while queued
                return
            monitor = JobMonitor(len(job.files), self._settings, self._clock)
            self._running[job_id] = monitor
            self._store.start(job_id)
        try:
            status, report, error = self._ingest(job, monitor)
            shutil.rmtree(job.spool, ignore_errors=True)  # gone before the job reads finished
            with self._lock:
                self._store.finish(job_id, status, monitor.progress, report, error)
            self._store.prune(job.tenant, self._settings.keep, self._settings.ttl_s)
        except Exception:  # the job store failed: the job reads lost after a restart
            logger.exception("upload job %s: its outcome could not be recorded", job_id)
        finally:
            with self._lock:
                del self._running[job_id]

    def _ingest(
        self, job: Job, monitor: JobMonitor
    ) -> tuple[JobStatus, JobReport | None, JobError | None]:
        ref = CollectionRef(job.tenant, job.collection)
        files = [(job.spool, job.spool / name) for name in job.files]
        try:
            report = self._ingestor.ingest_files(
                ref,
                files,
                max_bytes=self._max_file_bytes,
                source=lambda path: path.name,
                monitor=monitor,
            )
        except ValueError as exc:  # e.g. the collection was made with another embedding model
            return JobStatus.FAILED, None, JobError(JobErrorCode.INVALID_COLLECTION, str(exc))
        except Exception as exc:
            logger.exception("upload job %s failed", job.id)
            message = f"Ingestion failed: {type(exc).__name__}: {exc}. {KEPT}"
            return JobStatus.FAILED, None, JobError(JobErrorCode.INGEST_ERROR, message)
        summary = JobReport(
            report.added, report.updated, report.unchanged, report.chunks, tuple(report.failures)
        )
        stop = report.stopped
        if stop is None:
            return JobStatus.SUCCEEDED, summary, None
        if stop.code == CANCELLED_CODE:
            return JobStatus.CANCELLED, summary, None
        return JobStatus.FAILED, summary, JobError(stop.code, stop.message)
