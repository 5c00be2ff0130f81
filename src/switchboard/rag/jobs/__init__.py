"""Uploads as background jobs: bounded, cancellable, with progress, kept in SQLite.

IngestJobs(store, ingestor, settings, max_file_bytes=...)   queue and workers
JobStore(path)                                               jobs that outlive a restart
Job, JobStatus, JobProgress, JobReport, JobError             what a client reads
"""

from switchboard.rag.jobs.runner import IngestJobs
from switchboard.rag.jobs.store import JobStore
from switchboard.rag.jobs.types import (
    Job,
    JobError,
    JobErrorCode,
    JobProgress,
    JobReport,
    JobStatus,
)

__all__ = [
    "IngestJobs",
    "Job",
    "JobError",
    "JobErrorCode",
    "JobProgress",
    "JobReport",
    "JobStatus",
    "JobStore",
]
