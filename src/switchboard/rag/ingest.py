"""Ingestion: files → documents → chunks → embeddings → the store, idempotently.

- A document whose content hash is already stored is skipped: re-ingesting unchanged
  files does no chunking, no embedding and no writes.
- A changed document replaces its chunks in one store transaction; a process killed at any
  point leaves every document either fully old or fully new, and a re-run finishes the job
  (finished documents now match their hash and are skipped).
- Chunks of several small documents are embedded together (one batch), then each document
  is written in its own transaction.
- ``delete_missing`` removes documents that this run did not see; it is skipped when any
  file failed to load or no document was found at all (an empty or unmounted folder), so
  a transient error can never delete data.
- The stored hash binds the content to the chunking settings and embedding model: after
  changing them, a re-run re-chunks and re-embeds every document.
- A document the store refuses (e.g. NaN in its metadata) is reported and skipped.
- An ``IngestMonitor`` (``ingest_monitor``) follows a run and may stop it by raising
  ``IngestStopped`` before a file, a document or an embedding batch (chunks cut but not
  yet stored are dropped), or on a document's chunk count (the documents before it are
  still committed). The report says why it stopped; nothing is deleted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from switchboard.rag.chunking import Chunker
from switchboard.rag.embedder import SPECIAL_TOKENS, Embedder
from switchboard.rag.ingest_monitor import UNWATCHED, IngestMonitor, IngestStopped
from switchboard.rag.loaders import (
    DEFAULT_MAX_BYTES,
    DocumentFormat,
    FailureKind,
    LoadFailure,
    LoadResult,
    default_doc_id,
    is_supported,
    iter_files,
    load_path,
)
from switchboard.rag.loaders.files import Extractor
from switchboard.rag.store.base import Store
from switchboard.rag.types import Chunk, CollectionRef, Document, chunk_embedding_text

EMBED_BATCH_CHUNKS = 512  # sorted by length inside a flush: bigger flushes, less padding

Progress = Callable[[float], None]
"""Called with the fraction of one input file just finished (a JSONL file advances per
record), so a bar over ``len(files)`` moves smoothly."""


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    chunks: int = 0
    failures: list[LoadFailure] = field(default_factory=list)
    delete_skipped: bool = False
    seconds: float = 0.0
    embed_seconds: float = 0.0
    stopped: IngestStopped | None = None

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "chunks": self.chunks,
            "failed": [
                {"path": f.path, "line": f.line, "kind": f.kind.value, "reason": f.reason}
                for f in self.failures
            ],
            "delete_skipped": self.delete_skipped,
            "seconds": round(self.seconds, 3),
            "chunks_per_s": round(self.chunks_per_s, 1),
        }


class Ingestor:
    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        chunker: Chunker,
        *,
        extractors: Mapping[DocumentFormat, Extractor] = MappingProxyType({}),
    ) -> None:
        """``extractors`` replace the loaders' built-in ones (see ``load_path``)."""
        self.store = store
        self.embedder = embedder
        self.chunker = chunker
        self.extractors = extractors
        self._max_text_tokens = embedder.max_tokens - SPECIAL_TOKENS
        chunking = chunker.settings
        self._fingerprint = f"{embedder.model_id}:{chunking.chunk_tokens}:{chunking.overlap_tokens}"

    def stored_hash(self, document: Document) -> str:
        """What the store records for ``document``: its content hash bound to the chunking
        and embedding settings, so changing those re-ingests it instead of skipping it."""
        return hashlib.sha256(f"{self._fingerprint}\0{document.content_hash}".encode()).hexdigest()

    def list_files(self, paths: Iterable[str | Path]) -> list[tuple[Path, Path]]:
        """``(root, file)`` pairs: a folder contributes its supported files (others are not
        documents, e.g. images); a file named explicitly is kept, to be reported if bad.
        A file reached twice (a folder and a file in it) is listed once, the first time."""
        files: dict[Path, tuple[Path, Path]] = {}
        for path in map(Path, paths):
            for root, file in iter_files([path]):
                if not path.is_dir() or is_supported(file):
                    files.setdefault(file.resolve(), (root, file))
        return list(files.values())

    def ingest_files(
        self,
        ref: CollectionRef,
        files: Sequence[tuple[Path, Path]],
        *,
        delete_missing: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
        progress: Progress | None = None,
        source: Callable[[Path], str] | None = None,
        monitor: IngestMonitor = UNWATCHED,
    ) -> IngestReport:
        """Ingest ``(root, file)`` pairs from ``list_files``; see the module docstring.

        ``source`` names a file in documents and failures instead of its path (an upload's
        temporary path is deleted afterwards and would expose the server's layout)."""
        started = time.perf_counter()
        report = IngestReport()
        self._ensure_collection(ref)
        stored = self.store.document_hashes(ref)
        seen: set[str] = set()
        batch = _Batch()
        try:
            for root, file in files:
                monitor.checkpoint()
                name = str(file) if source is None else source(file)
                result = load_path(
                    file,
                    doc_id=default_doc_id(root, file),
                    max_bytes=max_bytes,
                    extractors=self.extractors,
                )
                if source is not None:
                    result = _renamed(result, name)
                report.failures.extend(result.errors)
                step = 1.0 / max(len(result.documents), 1)
                for document in result.documents:
                    monitor.checkpoint()
                    if document.id in seen:  # the first file to claim an id wins (load_paths)
                        reason = f"duplicate id {document.id!r}"
                        report.failures.append(LoadFailure(name, FailureKind.DUPLICATE, reason))
                    else:
                        seen.add(document.id)
                        self._add(ref, document, stored, batch, report, monitor)
                    if progress:
                        progress(step)
                if progress and not result.documents:
                    progress(1.0)
                monitor.file_done()
            self._flush(ref, batch, report, monitor)
        except IngestStopped as stop:
            report.stopped = stop
        if delete_missing and report.stopped is None:
            self._delete_missing(ref, stored, seen, report)
        report.seconds = time.perf_counter() - started
        return report

    def ingest_documents(self, ref: CollectionRef, documents: Iterable[Document]) -> IngestReport:
        """Ingest documents already loaded (an HTTP upload, a benchmark corpus)."""
        started = time.perf_counter()
        report = IngestReport()
        self._ensure_collection(ref)
        stored = self.store.document_hashes(ref)
        batch = _Batch()
        for document in documents:
            self._add(ref, document, stored, batch, report)
        self._flush(ref, batch, report)
        report.seconds = time.perf_counter() - started
        return report

    def _ensure_collection(self, ref: CollectionRef) -> None:
        self.store.create_collection(
            ref, embedding_model=self.embedder.model_id, dim=self.embedder.dim
        )

    def _add(
        self,
        ref: CollectionRef,
        document: Document,
        stored: dict[str, str],
        batch: _Batch,
        report: IngestReport,
        monitor: IngestMonitor = UNWATCHED,
    ) -> None:
        digest = self.stored_hash(document)
        previous = stored.get(document.id)
        if previous == digest:
            report.unchanged += 1
            return
        stored[document.id] = digest
        document = dataclasses.replace(document, content_hash=digest)
        chunks = self.chunker.chunk(document)
        try:
            monitor.chunked(len(chunks))
        except IngestStopped:
            self._flush(ref, batch, report, monitor)  # the documents before this one land
            raise
        batch.add(document, chunks, is_new=previous is None)
        if batch.size >= EMBED_BATCH_CHUNKS:
            self._flush(ref, batch, report, monitor)

    def _flush(
        self,
        ref: CollectionRef,
        batch: _Batch,
        report: IngestReport,
        monitor: IngestMonitor = UNWATCHED,
    ) -> None:
        if not batch.items:
            return
        monitor.checkpoint()
        texts = [
            self._embedding_text(chunk, document.title)
            for document, chunks, _ in batch.items
            for chunk in chunks
        ]
        started = time.perf_counter()
        vectors = self.embedder.embed(texts)
        report.embed_seconds += time.perf_counter() - started
        offset = 0
        for document, chunks, is_new in batch.items:
            rows = vectors[offset : offset + len(chunks)]
            offset += len(chunks)
            try:
                self.store.upsert_document(ref, document, chunks, rows)
            except ValueError as exc:  # e.g. NaN or NUL in metadata: this document only
                report.failures.append(
                    LoadFailure(document.source, FailureKind.BAD_RECORD, f"{document.id}: {exc}")
                )
                continue
            report.chunks += len(chunks)
            monitor.stored(len(chunks))
            if is_new:
                report.added += 1
            else:
                report.updated += 1
        batch.clear()

    def _embedding_text(self, chunk: Chunk, title: str) -> str:
        """The chunk with its title and heading path in front, unless that context would push
        the chunk's own tail past the model's input limit: then the chunk alone."""
        text = chunk_embedding_text(chunk, title)
        if text is chunk.text or self.embedder.count_tokens(text) <= self._max_text_tokens:
            return text
        return chunk.text

    def _delete_missing(
        self, ref: CollectionRef, stored: dict[str, str], seen: set[str], report: IngestReport
    ) -> None:
        if report.failures or not seen:  # a failed file, or an empty / unmounted folder
            report.delete_skipped = True
            return
        missing = sorted(set(stored) - seen)
        if missing:
            report.deleted = self.store.delete_documents(ref, missing)


def _renamed(result: LoadResult, name: str) -> LoadResult:
    return LoadResult(
        [dataclasses.replace(d, source=name) for d in result.documents],
        [dataclasses.replace(f, path=name) for f in result.errors],
    )


@dataclass
class _Batch:
    items: list[tuple[Document, list[Chunk], bool]] = field(default_factory=list)
    size: int = 0

    def add(self, document: Document, chunks: list[Chunk], *, is_new: bool) -> None:
        self.items.append((document, chunks, is_new))
        self.size += len(chunks)

    def clear(self) -> None:
        self.items.clear()
        self.size = 0
