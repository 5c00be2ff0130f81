"""``switchboard ingest`` as a real process with the real bundled embedding model: killed
mid-run it leaves a consistent store that a re-run completes; ``--delete-missing``, a
failing file and a PDF over its time bound end to end.

Each run is a subprocess of the installed ``switchboard`` script, pointed at a store in
``tmp_path`` (``SWITCHBOARD_KNOWLEDGE__STORE``) and at the repository's data dir, where the
model is built (``SWITCHBOARD_DATA_DIR``). Documents are tiny, one chunk each.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from switchboard.config import Settings
from switchboard.models.embedding import prepare_embedding_model
from switchboard.rag.store import SQLiteStore
from switchboard.rag.types import CollectionRef
from tests.integration.slow_pdf import slow_pdf

pytestmark = pytest.mark.integration

CLI = Path(sys.executable).with_name("switchboard")
REF = CollectionRef("default", "c")
N_DOCS = 200


@pytest.fixture(scope="module")
def data_dir() -> Path:
    """The data dir holding the bundled embedding model, built first if missing."""
    settings = Settings()
    prepare_embedding_model(settings.models_dir, settings.knowledge.embedding.quantization)
    return settings.data_dir.resolve()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "kb.sqlite3"


@pytest.fixture
def env(tmp_path: Path, db: Path, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SWITCHBOARD_DATA_DIR": str(data_dir),
        "SWITCHBOARD_KNOWLEDGE__STORE": str(db),
        "SWITCHBOARD_CONFIG": str(tmp_path / "absent.toml"),
        "COLUMNS": "500",  # rich would wrap the report's long temp paths at 80 columns
    }


def note(i: int) -> str:
    return f"# Note {i}\n\nNote {i} is about the item zq{i:03d} and nothing else.\n"


def write_notes(folder: Path, count: int) -> Path:
    folder.mkdir()
    for i in range(count):
        (folder / f"note-{i:03d}.md").write_text(note(i))
    return folder


def switchboard(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def report_of(run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The ``--json`` report. The progress bar shares stdout, so the JSON starts at the
    first ``{``."""
    assert "{" in run.stdout, run.stdout + run.stderr
    report: dict[str, Any] = json.loads(run.stdout[run.stdout.index("{") :])
    return report


def committed(db: Path) -> int:
    """Documents committed so far, read without taking any lock."""
    if not db.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return int(conn.execute("SELECT count(*) FROM documents").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


@contextlib.contextmanager
def opened(db: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(db)
    try:
        yield store
    finally:
        store.close()


def kill_after_first_commits(proc: subprocess.Popen[bytes], db: Path) -> None:
    deadline = time.monotonic() + 60
    while committed(db) == 0:
        if proc.poll() is not None:
            pytest.fail(f"ingest exited with {proc.returncode} before committing anything")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("ingest committed nothing in 60 s")
        time.sleep(0.005)
    proc.kill()  # SIGKILL: no cleanup, maybe inside a transaction
    proc.wait(timeout=30)


def stored_hash(file_digest: Any) -> str:
    """What ingestion records for a file: its sha256 bound to the default chunking settings
    and the embedding model (``Ingestor.stored_hash``)."""
    chunking = Settings().knowledge.chunking
    fingerprint = f"all-MiniLM-L6-v2:{chunking.chunk_tokens}:{chunking.overlap_tokens}"
    return hashlib.sha256(f"{fingerprint}\0{file_digest.hexdigest()}".encode()).hexdigest()


def check_consistent(db: Path, docs: Path) -> set[str]:
    """The stored document ids, after checking each is its file, with exactly its chunk,
    and that both retrievers see exactly the stored chunks."""
    with opened(db) as store:
        assert store.check_integrity() == []
        hashes = store.document_hashes(REF)
        for doc_id, content_hash in hashes.items():
            assert content_hash == stored_hash(hashlib.sha256((docs / doc_id).read_bytes()))
        chunk_ids = {f"{doc_id}#0" for doc_id in hashes}
        stored = store.get_chunks(REF, sorted(chunk_ids))
        assert {s.chunk.id: s.chunk.text for s in stored} == {
            f"{doc_id}#0": (docs / doc_id).read_text().strip() for doc_id in hashes
        }
        info = store.get_collection(REF)
        assert info is not None
        assert (info.documents, info.chunks) == (len(hashes), len(hashes))
        keyword = store.keyword_search(REF, "note", k=10 * N_DOCS)
        assert {hit.chunk_id for hit in keyword} == chunk_ids
        probe = store.get_vectors(REF, [min(chunk_ids)])[0]
        dense = store.vector_search(REF, probe, k=10 * N_DOCS)
        assert {hit.chunk_id for hit in dense} == chunk_ids
    return set(hashes)


def test_a_killed_ingest_leaves_a_consistent_store_and_a_rerun_finishes(
    tmp_path: Path, db: Path, env: dict[str, str]
) -> None:
    docs = write_notes(tmp_path / "docs", N_DOCS)
    command = [str(CLI), "ingest", str(docs), "--collection", REF.name, "--json"]

    proc = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    kill_after_first_commits(proc, db)

    assert proc.returncode == -9
    survivors = check_consistent(db, docs)
    assert 0 < len(survivors) < N_DOCS

    second = switchboard(env, tmp_path, *command[1:])
    assert second.returncode == 0, second.stderr
    report = report_of(second)
    assert (report["unchanged"], report["added"]) == (len(survivors), N_DOCS - len(survivors))
    assert (report["updated"], report["chunks"], report["failed"]) == (0, report["added"], [])
    assert len(check_consistent(db, docs)) == N_DOCS

    third = report_of(switchboard(env, tmp_path, *command[1:]))
    assert third["unchanged"] == N_DOCS
    assert (third["added"], third["updated"], third["chunks"]) == (0, 0, 0)


def test_delete_missing_and_a_failing_file_through_the_cli(
    tmp_path: Path, db: Path, env: dict[str, str]
) -> None:
    docs = write_notes(tmp_path / "docs", 10)
    ingest = ["ingest", str(docs), "--collection", REF.name]
    first = switchboard(env, tmp_path, *ingest, "--json")
    assert first.returncode == 0, first.stderr
    assert report_of(first)["added"] == 10

    for i in (2, 5, 7):
        (docs / f"note-{i:03d}.md").unlink()
    pruned = switchboard(env, tmp_path, *ingest, "--delete-missing", "--json")

    assert pruned.returncode == 0, pruned.stderr
    report = report_of(pruned)
    assert (report["deleted"], report["unchanged"], report["delete_skipped"]) == (3, 7, False)
    assert check_consistent(db, docs) == {f"note-{i:03d}.md" for i in (0, 1, 3, 4, 6, 8, 9)}

    (docs / "note-000.md").unlink()
    (docs / "latin1.txt").write_bytes(b"caf\xe9 au lait")
    failed = switchboard(env, tmp_path, *ingest, "--delete-missing")

    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert f"skipped {docs / 'latin1.txt'}: not valid utf-8" in failed.stdout
    assert "--delete-missing skipped: some files failed to load" in failed.stdout
    assert "0 deleted, 1 failed" in failed.stdout
    with opened(db) as store:
        assert "note-000.md" in store.document_hashes(REF)  # kept: the run had a failure


def test_a_slow_pdf_fails_on_its_time_bound_through_the_cli(
    tmp_path: Path, db: Path, env: dict[str, str]
) -> None:
    docs = write_notes(tmp_path / "docs", 3)
    (docs / "slow.pdf").write_bytes(slow_pdf())
    bounded = {**env, "SWITCHBOARD_KNOWLEDGE__PDF_TIMEOUT_S": "1"}

    run = switchboard(bounded, tmp_path, "ingest", str(docs), "--collection", REF.name, "--json")

    assert run.returncode == 2, run.stdout + run.stderr
    report = report_of(run)
    assert report["added"] == 3
    assert [(Path(f["path"]).name, f["kind"]) for f in report["failed"]] == [
        ("slow.pdf", "timeout")
    ]
    assert "knowledge.pdf_timeout_s" in report["failed"][0]["reason"]
