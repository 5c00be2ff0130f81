"""Ingestion on a real SQLite store with the fake hashing embedder: idempotence by content
hash, replacement of changed documents, ``delete_missing`` and its safety rule, failures."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from switchboard.config import ChunkSettings, KnowledgeSettings
from switchboard.rag.ingest import EMBED_BATCH_CHUNKS, IngestReport
from switchboard.rag.ingest_monitor import IngestStopped
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.loaders import FailureKind, load_path
from switchboard.rag.retrieval import SearchRequest
from switchboard.rag.store import SQLiteStore
from switchboard.rag.store.base import Vectors
from switchboard.rag.types import Chunk, CollectionRef, Document, SearchMode
from tests.unit.fakes import HashingEmbedder

pytestmark = pytest.mark.unit

REF = CollectionRef("acme", "docs")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "kb.sqlite3"


@pytest.fixture
def store(db: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(db)
    yield store
    store.close()


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def kb(store: SQLiteStore, embedder: HashingEmbedder) -> KnowledgeBase:
    return KnowledgeBase.assemble(KnowledgeSettings(), store, embedder)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A folder of three Markdown files, one in a subfolder."""
    folder = tmp_path / "docs"
    write(folder / "alpha.md", "# Alpha\n\nThe alpha notes mention a zebra crossing.\n")
    write(folder / "beta.md", "# Beta\n\nBeta covers the lighthouse keeper's logbook.\n")
    write(folder / "sub" / "gamma.md", "# Gamma\n\nGamma is about volcanic basalt columns.\n")
    return folder


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def ingest(kb: KnowledgeBase, *paths: Path, delete_missing: bool = False) -> IngestReport:
    files = kb.ingestor.list_files(paths)
    return kb.ingestor.ingest_files(REF, files, delete_missing=delete_missing)


def collection_version(db: Path) -> int:
    """The collection's write counter (bumped by every write to it), read directly."""
    with sqlite3.connect(db) as conn:
        (version,) = conn.execute(
            "SELECT version FROM collections WHERE tenant = ? AND name = ?", (REF.tenant, REF.name)
        ).fetchone()
    return int(version)


def texts_found(kb: KnowledgeBase, query: str, mode: SearchMode) -> list[str]:
    request = SearchRequest(query, mode=mode, top_k=50, rerank=False)
    return [hit.stored.chunk.text for hit in kb.retriever.search(REF, request).hits]


def test_first_ingest_adds_every_file(
    kb: KnowledgeBase, store: SQLiteStore, embedder: HashingEmbedder, docs: Path
) -> None:
    report = ingest(kb, docs)

    assert (report.added, report.updated, report.unchanged, report.deleted) == (3, 0, 0, 0)
    assert report.chunks == 3
    assert report.failures == []
    assert set(store.document_hashes(REF)) == {"alpha.md", "beta.md", "sub/gamma.md"}
    info = store.get_collection(REF)
    assert info is not None
    assert (info.embedding_model, info.dim, info.documents) == (embedder.model_id, embedder.dim, 3)
    assert store.check_integrity() == []


def test_reingesting_unchanged_files_embeds_nothing_and_writes_nothing(
    kb: KnowledgeBase,
    store: SQLiteStore,
    embedder: HashingEmbedder,
    docs: Path,
    db: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ingest(kb, docs)
    calls, version = embedder.calls, collection_version(db)

    def no_write(*args: object, **kwargs: object) -> None:
        raise AssertionError("an unchanged ingest wrote to the store")

    monkeypatch.setattr(store, "upsert_document", no_write)
    monkeypatch.setattr(store, "delete_documents", no_write)
    report = ingest(kb, docs, delete_missing=True)

    assert (report.added, report.updated, report.unchanged, report.deleted) == (0, 0, 3, 0)
    assert report.chunks == 0
    assert embedder.calls == calls
    assert collection_version(db) == version


def test_changed_file_replaces_all_its_chunks(
    store: SQLiteStore, embedder: HashingEmbedder, docs: Path
) -> None:
    small = KnowledgeSettings(chunking=ChunkSettings(chunk_tokens=16, overlap_tokens=0))
    kb = KnowledgeBase.assemble(small, store, embedder)
    long_text = "\n\n".join(f"Paragraph {i} describes the striped zebra herd." for i in range(6))
    write(docs / "alpha.md", f"# Alpha\n\n{long_text}\n")
    ingest(kb, docs)
    info = store.get_collection(REF)
    assert info is not None
    assert info.chunks > 3  # alpha.md alone is several chunks
    assert any("zebra" in text for text in texts_found(kb, "zebra", SearchMode.BM25))

    write(docs / "alpha.md", "# Alpha\n\nNow the alpha notes only mention a giraffe.\n")
    report = ingest(kb, docs)

    assert (report.added, report.updated, report.unchanged) == (0, 1, 2)
    assert report.chunks == 1
    assert texts_found(kb, "zebra", SearchMode.BM25) == []
    assert not any("zebra" in text for text in texts_found(kb, "zebra", SearchMode.DENSE))
    assert texts_found(kb, "giraffe", SearchMode.BM25) == [
        "# Alpha\n\nNow the alpha notes only mention a giraffe."  # one chunk: headings kept
    ]
    info = store.get_collection(REF)
    assert info is not None
    assert (info.documents, info.chunks) == (3, 3)
    assert store.check_integrity() == []


def test_one_store_transaction_per_document_with_all_its_chunks(
    store: SQLiteStore, embedder: HashingEmbedder, docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = KnowledgeSettings(chunking=ChunkSettings(chunk_tokens=16, overlap_tokens=0))
    kb = KnowledgeBase.assemble(small, store, embedder)
    write(docs / "long.md", "\n\n".join(f"Sentence {i} of a long file." for i in range(10)))
    writes: list[tuple[str, int]] = []
    upsert = store.upsert_document

    def recording(
        ref: CollectionRef, document: Document, chunks: Sequence[Chunk], vectors: Vectors
    ) -> None:
        writes.append((document.id, len(chunks)))
        upsert(ref, document, chunks, vectors)

    monkeypatch.setattr(store, "upsert_document", recording)
    ingest(kb, docs)

    assert sorted(doc_id for doc_id, _ in writes) == [
        "alpha.md",
        "beta.md",
        "long.md",
        "sub/gamma.md",
    ]
    expected = {doc_id: len(kb.ingestor.chunker.chunk(_load(docs, doc_id))) for doc_id, _ in writes}
    assert dict(writes) == expected
    assert expected["long.md"] > 1


def _load(root: Path, doc_id: str) -> Document:
    (document,) = load_path(root / doc_id, doc_id=doc_id).documents
    return document


def test_small_documents_are_embedded_in_batches(
    kb: KnowledgeBase, embedder: HashingEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    count = EMBED_BATCH_CHUNKS + 6
    for i in range(count):
        write(folder / f"note-{i:03d}.md", f"Note number {i}.")

    report = ingest(kb, folder)

    assert (report.added, report.chunks) == (count, count)
    assert embedder.calls == 2  # a full batch of 64 chunks, then the last 6


def test_a_failed_write_leaves_earlier_documents_and_a_rerun_finishes(
    kb: KnowledgeBase, store: SQLiteStore, docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upsert = store.upsert_document

    def fail_on_beta(
        ref: CollectionRef, document: Document, chunks: Sequence[Chunk], vectors: Vectors
    ) -> None:
        if document.id == "beta.md":
            raise OSError("disk full")
        upsert(ref, document, chunks, vectors)

    monkeypatch.setattr(store, "upsert_document", fail_on_beta)
    with pytest.raises(OSError, match="disk full"):
        ingest(kb, docs)
    assert set(store.document_hashes(REF)) == {"alpha.md"}
    assert store.check_integrity() == []

    monkeypatch.setattr(store, "upsert_document", upsert)
    report = ingest(kb, docs)

    assert (report.added, report.unchanged) == (2, 1)
    assert set(store.document_hashes(REF)) == {"alpha.md", "beta.md", "sub/gamma.md"}


def test_delete_missing_removes_the_documents_of_deleted_files(
    kb: KnowledgeBase, store: SQLiteStore, docs: Path
) -> None:
    ingest(kb, docs)
    (docs / "beta.md").unlink()

    report = ingest(kb, docs, delete_missing=True)

    assert (report.deleted, report.unchanged, report.delete_skipped) == (1, 2, False)
    assert set(store.document_hashes(REF)) == {"alpha.md", "sub/gamma.md"}
    assert texts_found(kb, "lighthouse", SearchMode.BM25) == []
    assert store.check_integrity() == []


def test_without_delete_missing_a_deleted_file_stays(
    kb: KnowledgeBase, store: SQLiteStore, docs: Path
) -> None:
    ingest(kb, docs)
    (docs / "beta.md").unlink()

    report = ingest(kb, docs)

    assert (report.deleted, report.delete_skipped) == (0, False)
    assert "beta.md" in store.document_hashes(REF)


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("broken.pdf", b"%PDF-1.4\nthis is not a real PDF body\n", FailureKind.CORRUPT),
        ("latin1.txt", b"caf\xe9 au lait", FailureKind.UNDECODABLE),
    ],
)
def test_delete_missing_is_skipped_when_a_file_failed_to_load(
    kb: KnowledgeBase,
    store: SQLiteStore,
    docs: Path,
    name: str,
    data: bytes,
    kind: FailureKind,
) -> None:
    ingest(kb, docs)
    (docs / "beta.md").unlink()
    write(docs / name, data)

    report = ingest(kb, docs, delete_missing=True)

    assert report.delete_skipped is True
    assert report.deleted == 0
    assert [(Path(f.path).name, f.kind) for f in report.failures] == [(name, kind)]
    assert set(store.document_hashes(REF)) == {"alpha.md", "beta.md", "sub/gamma.md"}


def test_a_bad_file_is_reported_and_the_others_ingested(
    kb: KnowledgeBase, store: SQLiteStore, docs: Path
) -> None:
    write(docs / "broken.pdf", b"%PDF-1.7 truncated")
    write(docs / "empty.md", "   \n\n")

    report = ingest(kb, docs)

    assert report.added == 3
    failures = {Path(f.path).name: f.kind for f in report.failures}
    assert failures == {"broken.pdf": FailureKind.CORRUPT, "empty.md": FailureKind.EMPTY}
    assert all(f.reason for f in report.failures)
    assert report.to_json()["failed"] == [
        {"path": f.path, "line": None, "kind": f.kind.value, "reason": f.reason}
        for f in report.failures
    ]
    assert set(store.document_hashes(REF)) == {"alpha.md", "beta.md", "sub/gamma.md"}


def test_unsupported_files_in_a_folder_are_ignored(kb: KnowledgeBase, docs: Path) -> None:
    write(docs / "diagram.png", b"\x89PNG\r\n\x1a\n")
    write(docs / "sub" / "report.docx", b"PK\x03\x04")

    files = kb.ingestor.list_files([docs])
    report = kb.ingestor.ingest_files(REF, files)

    assert [file.relative_to(docs).as_posix() for _, file in files] == [
        "alpha.md",
        "beta.md",
        "sub/gamma.md",
    ]
    assert all(root == docs for root, _ in files)
    assert (report.added, report.failures) == (3, [])


def test_an_unsupported_file_named_explicitly_is_reported(
    kb: KnowledgeBase, store: SQLiteStore, docs: Path
) -> None:
    image = write(docs / "diagram.png", b"\x89PNG\r\n\x1a\n")

    report = ingest(kb, docs / "alpha.md", image)

    assert report.added == 1
    assert [(f.path, f.kind) for f in report.failures] == [(str(image), FailureKind.UNSUPPORTED)]
    assert set(store.document_hashes(REF)) == {"alpha.md"}  # an explicit file's id is its name


def test_a_file_named_twice_is_ingested_once(kb: KnowledgeBase, docs: Path) -> None:
    report = ingest(kb, docs, docs / "beta.md")

    assert (report.added, report.failures) == (3, [])


def test_a_document_id_claimed_twice_is_reported_and_the_first_kept(
    kb: KnowledgeBase, store: SQLiteStore, tmp_path: Path
) -> None:
    first = write(tmp_path / "one" / "same.md", "The first file says aardvark.")
    second = write(tmp_path / "two" / "same.md", "The second file says wombat.")
    steps: list[float] = []

    files = kb.ingestor.list_files([first.parent, second.parent])
    report = kb.ingestor.ingest_files(REF, files, progress=steps.append)

    assert report.added == 1
    assert [(f.path, f.kind) for f in report.failures] == [(str(second), FailureKind.DUPLICATE)]
    assert texts_found(kb, "aardvark", SearchMode.BM25) == ["The first file says aardvark."]
    assert sum(steps) == pytest.approx(len(files))


def test_jsonl_records_become_documents(
    kb: KnowledgeBase, store: SQLiteStore, tmp_path: Path
) -> None:
    records: list[dict[str, Any]] = [
        {"_id": "r1", "title": "Kiwi", "text": "The kiwi is a flightless bird.", "lang": "en"},
        {"_id": "r2", "title": "Kea", "text": "The kea is a clever alpine parrot.", "lang": "en"},
        {"id": 3, "text": "Le kakapo est un perroquet nocturne.", "metadata": {"lang": "fr"}},
    ]
    corpus = write(tmp_path / "corpus.jsonl", "".join(json.dumps(r) + "\n" for r in records))

    report = ingest(kb, corpus)

    assert (report.added, report.chunks, report.failures) == (3, 3, [])
    assert set(store.document_hashes(REF)) == {"r1", "r2", "3"}
    request = SearchRequest("parrot", mode=SearchMode.BM25, filters={"lang": "en"}, rerank=False)
    (hit,) = kb.retriever.search(REF, request).hits
    assert (hit.stored.chunk.document_id, hit.stored.title) == ("r2", "Kea")
    assert hit.stored.metadata == {"lang": "en", "format": "jsonl", "line": 2}

    records[1]["text"] = "The kea is a clever alpine parrot from New Zealand."
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records))
    report = ingest(kb, corpus)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 2)


def test_progress_sums_to_the_number_of_files(kb: KnowledgeBase, docs: Path) -> None:
    records = "".join(json.dumps({"_id": f"r{i}", "text": f"Record {i}."}) + "\n" for i in range(4))
    write(docs / "records.jsonl", records + "not json\n")
    write(docs / "broken.pdf", b"%PDF-1.4 nonsense")
    steps: list[float] = []

    files = kb.ingestor.list_files([docs])
    report = kb.ingestor.ingest_files(REF, files, progress=steps.append)

    assert len(files) == 5
    assert sum(steps) == pytest.approx(len(files))
    assert all(0 < step <= 1 for step in steps)
    assert report.added == 3 + 4


def test_ingest_documents_is_idempotent_by_content_hash(
    kb: KnowledgeBase, embedder: HashingEmbedder
) -> None:
    documents = [
        Document(id=f"d{i}", title="", source="upload", text=f"Text {i}.", content_hash=f"h{i}")
        for i in range(3)
    ]
    assert kb.ingestor.ingest_documents(REF, documents).added == 3
    calls = embedder.calls

    report = kb.ingestor.ingest_documents(REF, documents)

    assert (report.added, report.unchanged, report.chunks) == (0, 3, 0)
    assert embedder.calls == calls


def test_embeddings_are_stored_unit_length(
    kb: KnowledgeBase, store: SQLiteStore, docs: Path
) -> None:
    ingest(kb, docs)

    vectors = store.get_vectors(REF, ["alpha.md#0", "beta.md#0"])

    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_record_the_store_refuses_is_reported_and_the_rest_still_land(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    lines = [
        '{"_id": "ok1", "text": "the first good record"}',
        '{"_id": "nan", "text": "metadata with NaN", "score": NaN}',
        '{"_id": "ok2", "text": "the second good record"}',
    ]
    corpus = write(tmp_path / "corpus.jsonl", "\n".join(lines) + "\n")

    report = ingest(kb, corpus)

    assert (report.added, report.updated) == (2, 0)
    assert [(f.kind, f.reason.split(":")[0]) for f in report.failures] == [
        (FailureKind.BAD_RECORD, "nan")
    ]
    assert set(kb.store.document_hashes(REF)) == {"ok1", "ok2"}


def test_delete_missing_never_empties_a_collection_from_an_empty_folder(
    kb: KnowledgeBase, docs: Path, tmp_path: Path
) -> None:
    ingest(kb, docs)
    empty = tmp_path / "unmounted"
    empty.mkdir()

    report = ingest(kb, empty, delete_missing=True)

    assert report.delete_skipped
    assert report.deleted == 0
    assert len(kb.store.document_hashes(REF)) == 3


def test_changing_the_chunk_size_re_ingests_instead_of_skipping(
    store: SQLiteStore, embedder: HashingEmbedder, docs: Path
) -> None:
    first = KnowledgeBase.assemble(KnowledgeSettings(), store, embedder)
    assert ingest(first, docs).added == 3
    assert ingest(first, docs).unchanged == 3

    smaller = KnowledgeSettings(chunking=ChunkSettings(chunk_tokens=64, overlap_tokens=8))
    second = KnowledgeBase.assemble(smaller, store, embedder)
    report = ingest(second, docs)

    assert (report.updated, report.unchanged) == (3, 0)
    assert ingest(second, docs).unchanged == 3


class RecordingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__(max_tokens=40)
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.texts.extend(texts)
        return super().embed(texts)


def test_the_title_goes_in_front_unless_it_would_cut_the_chunk_short(
    store: SQLiteStore, tmp_path: Path
) -> None:
    embedder = RecordingEmbedder()
    settings = KnowledgeSettings(chunking=ChunkSettings(chunk_tokens=30, overlap_tokens=0))
    kb = KnowledgeBase.assemble(settings, store, embedder)
    short = write(tmp_path / "d" / "short.md", "# Short title\n\n" + "word " * 10)
    long_title = "# " + " ".join(["Title"] * 20) + "\n\n"
    full = write(tmp_path / "d" / "full.md", long_title + "body " * 25)

    ingest(kb, short, full)

    by_doc = {t.split()[-1]: t for t in embedder.texts}
    assert by_doc["word"].startswith("Short title")  # 2 + 10 words: room for the context
    assert by_doc["body"] == ("body " * 25).strip()  # 20 + 25 words > 38: the chunk alone


class StopAfter:
    """An ``IngestMonitor`` that records what it is told and stops the run once more than
    ``max_chunks`` chunks are cut, or at checkpoint number ``stop_at``."""

    def __init__(self, max_chunks: int | None = None, stop_at: int | None = None) -> None:
        self.max_chunks = max_chunks
        self.stop_at = stop_at
        self.checkpoints = 0
        self.cut = 0
        self.stored_chunks = 0
        self.files = 0

    def checkpoint(self) -> None:
        self.checkpoints += 1
        if self.checkpoints == self.stop_at:
            raise IngestStopped("cancelled", "stopped by the test")

    def chunked(self, chunks: int) -> None:
        self.cut += chunks
        if self.max_chunks is not None and self.cut > self.max_chunks:
            raise IngestStopped("max_chunks_exceeded", "too many chunks")

    def stored(self, chunks: int) -> None:
        self.stored_chunks += chunks

    def file_done(self) -> None:
        self.files += 1


def test_a_document_over_the_chunk_limit_is_refused_before_embedding_and_the_run_stops(
    store: SQLiteStore, embedder: HashingEmbedder, tmp_path: Path
) -> None:
    small = KnowledgeSettings(chunking=ChunkSettings(chunk_tokens=16, overlap_tokens=0))
    kb = KnowledgeBase.assemble(small, store, embedder)
    write(tmp_path / "d" / "a-small.md", "A small note.")
    text = "\n\n".join(f"Paragraph {i} of many." for i in range(50))
    write(tmp_path / "d" / "b-big.md", text)
    write(tmp_path / "d" / "c-small.md", "Another small note.")
    monitor = StopAfter(max_chunks=10)

    files = kb.ingestor.list_files([tmp_path / "d"])
    report = kb.ingestor.ingest_files(REF, files, monitor=monitor)

    assert report.stopped is not None
    assert report.stopped.code == "max_chunks_exceeded"
    assert monitor.cut > 10
    (embedded,) = embedder.texts  # the big one was refused before embedding
    assert embedded.endswith("A small note.")
    assert (report.added, report.chunks, monitor.stored_chunks) == (1, 1, 1)
    assert list(store.document_hashes(REF)) == ["a-small.md"]  # and nothing after it


def test_a_run_stopped_between_batches_keeps_whole_documents_and_deletes_nothing(
    kb: KnowledgeBase, store: SQLiteStore, embedder: HashingEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    write(folder / "old.md", "An old note that a full run would delete.")
    kb.ingestor.ingest_files(REF, kb.ingestor.list_files([folder]))
    (folder / "old.md").unlink()
    count = EMBED_BATCH_CHUNKS + 6
    for i in range(count):
        write(folder / f"note-{i:03d}.md", f"Note number {i}.")
    files = kb.ingestor.list_files([folder])
    # One checkpoint per file and per document, one before the embedding batch that fills
    # up after EMBED_BATCH_CHUNKS documents: stop just after that batch is committed.
    monitor = StopAfter(stop_at=2 * EMBED_BATCH_CHUNKS + 2)
    calls = embedder.calls

    report = kb.ingestor.ingest_files(REF, files, delete_missing=True, monitor=monitor)

    assert report.stopped is not None
    assert report.stopped.code == "cancelled"
    assert embedder.calls == calls + 1  # the first batch only
    assert (report.added, report.chunks) == (EMBED_BATCH_CHUNKS, EMBED_BATCH_CHUNKS)
    assert monitor.stored_chunks == EMBED_BATCH_CHUNKS
    assert monitor.files == EMBED_BATCH_CHUNKS
    hashes = store.document_hashes(REF)
    assert "old.md" in hashes  # a stopped run never deletes
    assert report.deleted == 0
    assert len(hashes) == 1 + EMBED_BATCH_CHUNKS
    info = store.get_collection(REF)
    assert info is not None
    assert info.chunks == len(hashes)  # every stored document has all its chunks
    assert store.check_integrity() == []


def test_an_unwatched_run_reports_no_stop(kb: KnowledgeBase, docs: Path) -> None:
    monitor = StopAfter()
    report = kb.ingestor.ingest_files(REF, kb.ingestor.list_files([docs]), monitor=monitor)
    assert report.stopped is None
    assert (monitor.files, monitor.cut, monitor.stored_chunks) == (3, 3, 3)
    assert ingest(kb, docs).stopped is None
