"""Shared types of the loaders: what a format extracts, and how a failure is reported.

A format's extractor raises ``LoadError(kind, reason)``; ``load_path`` catches it at the
edge and reports a ``LoadFailure`` instead, so one bad file (or one bad JSONL line) never
stops a batch.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from switchboard.errors import SwitchboardError
from switchboard.rag.types import Document


class FailureKind(enum.StrEnum):
    UNREADABLE = "unreadable"  # missing file, permissions, I/O error
    UNSUPPORTED = "unsupported"  # no loader for the file's extension
    TOO_LARGE = "too_large"  # the file (or one JSONL line) is over ``max_bytes``
    UNDECODABLE = "undecodable"  # not UTF-8 (nor UTF-16/32 with a BOM, nor a declared charset)
    CORRUPT = "corrupt"  # the parser rejected the file (a broken PDF)
    TIMEOUT = "timeout"  # extraction ran past its time bound (a PDF, pdf_timeout_s)
    ENCRYPTED = "encrypted"  # a PDF that needs a password
    EMPTY = "empty"  # no text left after extraction
    BAD_RECORD = "bad_record"  # a JSONL line: invalid JSON, not an object, no id
    DUPLICATE = "duplicate"  # a document id already loaded in this batch


class LoadError(SwitchboardError):
    """Raised inside a loader; never escapes ``load_path``, which reports it instead."""

    def __init__(self, kind: FailureKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class LoadFailure:
    """A file, or one line of a JSONL file (``line`` is 1-based), that did not load."""

    path: str
    kind: FailureKind
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    errors: list[LoadFailure] = field(default_factory=list)


@dataclass(frozen=True)
class Extracted:
    """What a single-document format yields; ``load_path`` adds id, source and hash."""

    text: str
    title: str
    metadata: dict[str, Any]
