"""A running job's limits, cancellation and progress, as the ingestor's ``IngestMonitor``.

Pure bookkeeping: the ingestor reports files, chunks cut and chunks stored; the monitor
raises ``IngestStopped`` at the next checkpoint once the job is cancelled or past
``max_seconds``, and as soon as the chunks cut pass ``max_chunks`` (before they are
embedded). ``progress`` is replaced, never mutated, so another thread reads a consistent
snapshot.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from switchboard.config import IngestJobSettings
from switchboard.rag.ingest_monitor import IngestStopped
from switchboard.rag.jobs.types import CANCELLED_CODE, JobErrorCode, JobProgress

KEPT = "The documents committed before stay."


class JobMonitor:
    def __init__(
        self, files_total: int, limits: IngestJobSettings, clock: Callable[[], float]
    ) -> None:
        self.progress = JobProgress(files_total=files_total)
        self._limits = limits
        self._clock = clock
        self._deadline = clock() + limits.max_seconds
        self._stop: IngestStopped | None = None

    def cancel(self) -> None:
        self.stop(IngestStopped(CANCELLED_CODE, "The job was cancelled. " + KEPT))

    def stop(self, reason: IngestStopped) -> None:
        """End the job at its next checkpoint with ``reason`` (the first reason given wins)."""
        self._stop = self._stop or reason

    def checkpoint(self) -> None:
        if self._stop is not None:
            raise self._stop
        if self._clock() > self._deadline:
            seconds = self._limits.max_seconds
            raise IngestStopped(
                JobErrorCode.MAX_SECONDS,
                f"The job ran for more than {seconds:g} s (knowledge.jobs.max_seconds). {KEPT}",
            )

    def chunked(self, chunks: int) -> None:
        total = self.progress.chunks_total + chunks
        self.progress = dataclasses.replace(self.progress, chunks_total=total)
        limit = self._limits.max_chunks
        if total > limit:
            raise IngestStopped(
                JobErrorCode.MAX_CHUNKS,
                f"The upload makes more than {limit} chunks (knowledge.jobs.max_chunks); "
                f"upload fewer or smaller files at a time. {KEPT}",
            )

    def stored(self, chunks: int) -> None:
        done = self.progress.chunks_done + chunks
        self.progress = dataclasses.replace(self.progress, chunks_done=done)

    def file_done(self) -> None:
        done = self.progress.files_done + 1
        self.progress = dataclasses.replace(self.progress, files_done=done)
