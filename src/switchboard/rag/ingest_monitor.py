"""How a caller follows an ingestion run and stops it: ``Ingestor.ingest_files`` reports
files, chunks cut and chunks stored to an ``IngestMonitor`` and calls its ``checkpoint``
before each file, each document and each embedding batch; any of them may raise
``IngestStopped``, which ends the run with every document wholly old or wholly new."""

from __future__ import annotations

from typing import Protocol

from switchboard.errors import SwitchboardError


class IngestStopped(SwitchboardError):
    """Raised by an ``IngestMonitor`` to stop a run; ``code`` says why, for machines."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class IngestMonitor(Protocol):
    """Follows a run; any method may raise ``IngestStopped`` to end it there."""

    def checkpoint(self) -> None:
        """Before each file, each document and each embedding batch."""

    def chunked(self, chunks: int) -> None:
        """A new or changed document was cut into ``chunks``, not embedded yet. Raising
        here refuses this document only: those cut before it are still committed."""

    def stored(self, chunks: int) -> None:
        """A document and its ``chunks`` were committed."""

    def file_done(self) -> None: ...


class _Unwatched:
    def checkpoint(self) -> None:
        pass

    def chunked(self, chunks: int) -> None:
        pass

    def stored(self, chunks: int) -> None:
        pass

    def file_done(self) -> None:
        pass


UNWATCHED: IngestMonitor = _Unwatched()
