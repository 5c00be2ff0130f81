"""PDF text extraction in child processes, bounded in time.

pypdf cannot be stopped from another thread, and a crafted PDF of a few kilobytes keeps it
busy for minutes. ``PdfWorkers.extract`` hands the bytes to a child Python process and
kills it at the deadline; the file then fails with ``FailureKind.TIMEOUT`` and the batch
goes on. Children are kept between calls, one per concurrent caller: starting one costs
about a second of imports (outside the deadline), a call then costs one pipe round trip.
A killed child is replaced on the next call.

The child is this module run as ``python -m``: it reads ``(bytes, file name)`` from stdin
and answers each with an ``Extracted`` or a failure, pickled, on stdout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path

from switchboard.rag.loaders.base import Extracted, FailureKind, LoadError
from switchboard.rag.loaders.files import DocumentFormat, Extractor
from switchboard.rag.loaders.pdf import extract_pdf

MODULE = "switchboard.rag.loaders.pdf_worker"
START_TIMEOUT_S = 60.0
READY = "ready"
Reply = Extracted | tuple[str, str]
"""What the child answers: the extraction, or a failure's ``(kind, reason)``."""


class PdfWorkers:
    """``extract`` is thread-safe; ``close`` stops every child."""

    def __init__(self, timeout_s: float) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.timeout_s = timeout_s
        self._idle: list[_Child] = []
        self._children: set[_Child] = set()
        self._lock = threading.Lock()
        self._closed = False

    def extractors(self) -> Mapping[DocumentFormat, Extractor]:
        """For ``load_path``: PDFs through this pool."""
        return {DocumentFormat.PDF: self.extract}

    def extract(self, raw: bytes, path: Path) -> Extracted:
        child = self._take()
        try:
            return child.extract(raw, path, self.timeout_s)
        finally:
            self._give_back(child)

    def close(self) -> None:
        """Stop every child, busy ones too: their callers get a failure for the file."""
        with self._lock:
            self._closed = True
            children, self._children, self._idle = self._children, set(), []
        for child in children:
            child.stop()

    def _take(self) -> _Child:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        child = None if self._closed else _Child()
        with self._lock:
            if child is not None and not self._closed:
                self._children.add(child)
                return child
        if child is not None:
            child.stop()
        raise LoadError(FailureKind.UNREADABLE, "PDF extraction has been shut down")

    def _give_back(self, child: _Child) -> None:
        with self._lock:
            if child.alive and not self._closed:
                self._idle.append(child)
                return
            self._children.discard(child)
        child.stop()


class _Child:
    def __init__(self) -> None:
        child_in, requests = os.pipe()
        replies, child_out = os.pipe()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", MODULE], stdin=child_in, stdout=child_out
        )
        os.close(child_in)
        os.close(child_out)
        self._requests = Connection(requests, readable=False)
        self._replies = Connection(replies, writable=False)
        try:
            started = self._replies.poll(START_TIMEOUT_S) and self._replies.recv() == READY
        except (EOFError, OSError):
            started = False
        if not started:
            self.stop()
            raise LoadError(FailureKind.UNREADABLE, "the PDF extractor process did not start")

    @property
    def alive(self) -> bool:
        return not self._requests.closed and self._proc.poll() is None

    def extract(self, raw: bytes, path: Path, timeout_s: float) -> Extracted:
        try:
            self._requests.send((raw, path.name))
            if not self._replies.poll(timeout_s):
                self.stop()
                raise LoadError(
                    FailureKind.TIMEOUT,
                    f"reading the PDF's text took longer than {timeout_s:g} s "
                    "(knowledge.pdf_timeout_s)",
                )
            reply: Reply = self._replies.recv()
        except (EOFError, OSError) as exc:
            self.stop()
            raise LoadError(FailureKind.CORRUPT, "the PDF extractor crashed on this file") from exc
        if isinstance(reply, Extracted):
            return reply
        kind, reason = reply
        raise LoadError(FailureKind(kind), reason)

    def stop(self) -> None:
        self._proc.kill()
        self._proc.wait()
        self._requests.close()
        self._replies.close()


def _serve() -> None:
    """The child's loop: one reply per request until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which kills us
    requests = Connection(os.dup(0), writable=False)
    replies = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # a stray print goes to stderr, not into the replies
    replies.send(READY)
    while True:
        try:
            raw, name = requests.recv()
        except EOFError:
            return
        replies.send(_extract(raw, name))


def _extract(raw: bytes, name: str) -> Reply:
    try:
        return extract_pdf(raw, Path(name))
    except LoadError as exc:
        return (exc.kind.value, exc.reason)


if __name__ == "__main__":
    _serve()
