"""PDF extraction is bounded in time: a PDF that keeps pypdf busy for minutes fails with
``timeout`` after ``knowledge.pdf_timeout_s`` while the rest of the batch ingests, and the
next PDF is read by a fresh extractor process. Real pypdf in real child processes; the
embedder is the hashing fake (it plays no part here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard.config import KnowledgeSettings
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.loaders import FailureKind, load_path
from switchboard.rag.loaders.base import LoadError
from switchboard.rag.loaders.pdf_worker import PdfWorkers
from switchboard.rag.store import SQLiteStore
from switchboard.rag.types import CollectionRef
from tests.integration.slow_pdf import slow_pdf
from tests.unit.fakes import HashingEmbedder
from tests.unit.test_rag_loaders import make_pdf

pytestmark = pytest.mark.integration

REF = CollectionRef("default", "manuals")
BOUND_S = 1.0


@pytest.fixture
def kb(tmp_path: Path) -> Iterator[KnowledgeBase]:
    settings = KnowledgeSettings(pdf_timeout_s=BOUND_S)
    kb = KnowledgeBase.assemble(settings, SQLiteStore(tmp_path / "kb.sqlite3"), HashingEmbedder())
    try:
        yield kb
    finally:
        kb.close()


def test_a_slow_pdf_times_out_and_the_batch_goes_on(kb: KnowledgeBase, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a-manual.pdf").write_bytes(make_pdf(["The pump needs oil every spring."]))
    (docs / "b-slow.pdf").write_bytes(slow_pdf())
    (docs / "c-notes.md").write_text("# Notes\n\nThe boiler is serviced in autumn.\n")
    (docs / "d-guide.pdf").write_bytes(make_pdf(["Bleed the radiators in October."]))

    report = kb.ingestor.ingest_files(REF, kb.ingestor.list_files([docs]))

    assert [(Path(f.path).name, f.kind) for f in report.failures] == [
        ("b-slow.pdf", FailureKind.TIMEOUT)
    ]
    assert "knowledge.pdf_timeout_s" in report.failures[0].reason
    assert report.added == 3  # the PDF after the slow one was read by a fresh process
    stored = kb.store.document_hashes(REF)
    assert sorted(stored) == ["a-manual.pdf", "c-notes.md", "d-guide.pdf"]


def test_the_worker_extracts_what_pypdf_extracts_in_process(tmp_path: Path) -> None:
    path = tmp_path / "manual.pdf"
    path.write_bytes(make_pdf(["Hello PDF world.", "", "Page three text."], title="Manual"))
    expected = load_path(path).documents[0]
    workers = PdfWorkers(timeout_s=30.0)
    try:
        bounded = load_path(path, extractors=workers.extractors()).documents[0]
        assert bounded == expected
        with pytest.raises(LoadError) as broken:
            workers.extract(b"%PDF-1.4\nthis is not a pdf", tmp_path / "broken.pdf")
        assert broken.value.kind is FailureKind.CORRUPT
    finally:
        workers.close()
