"""The embedded store: one SQLite file is the system of record, FTS5 gives BM25.

The tables, and the SQL that reads, writes and checks them, are in ``sqlite_schema``;
vector search, exact or approximate, and its cached indexes are in ``sqlite_vectors``.

Every write is one ``BEGIN IMMEDIATE`` transaction, validated inside it before the first
write, so a failure or a killed process leaves the previous state (WAL journal,
``synchronous=NORMAL``: durable against process crashes; a power cut may lose the last
commits but never consistency). Each write logs the chunk rows it changes and bumps the
collection's ``version``, so indexes cached here or in another process see it.
Every search runs in one read transaction: all its queries see the same snapshot.

Threads: each thread gets its own connection (``threading.local``; opened with
``check_same_thread=False`` only so ``close()`` may close them all from one thread). WAL
lets readers run alongside the one writer; writers queue on the database lock (``timeout_s``).
Reads of a missing collection return nothing; writes to one raise ``ValueError``.

The file is opened through ``SQLiteFile``: ``quick_check`` at open, and every SQLite error
a ``StorageError`` naming the file and the recovery step (``file.health()`` for /health).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import numpy as np

from switchboard.names import check_name
from switchboard.rag.store.ann_index import AnnParams
from switchboard.rag.store.base import Vectors
from switchboard.rag.store.inputs import (
    check_dim,
    check_document,
    check_filters,
    check_k,
    chunk_id,
    fts5_query,
    normalized_query,
    normalized_rows,
    parse_chunk_id,
    query_terms,
    vectors_in_order,
)
from switchboard.rag.store.sqlite_queries import bm25_sql, filter_sql, filtered_bm25_sql
from switchboard.rag.store.sqlite_schema import (
    COLLECTION_ID,
    COLLECTION_INFO,
    Collection,
    bump_version,
    check_same_embedding,
    collection_info,
    create_fts,
    create_schema,
    delete_chunks,
    integrity_problems,
    log_changes,
    lookup,
    require,
    stored_chunk,
)
from switchboard.rag.store.sqlite_vectors import VectorCache
from switchboard.rag.types import (
    Chunk,
    CollectionInfo,
    CollectionRef,
    Document,
    Filters,
    Ranked,
    StoredChunk,
    chunk_embedding_text,
)
from switchboard.sqlite_file import SQLiteFile
from switchboard.sqlite_tx import transaction
from switchboard.thread_connections import ThreadConnections

RECOVERY = (
    "restore it from a backup, or move it away and re-run `switchboard demo load` / "
    "`switchboard ingest`"
)


class SQLiteStore:
    """``Store`` on one SQLite file; safe to share between threads and processes.

    ``ann_min_chunks``: collections with at least this many chunks answer unfiltered
    vector searches from an approximate index (``ann_params``), smaller ones exactly.
    ``change_log_versions``: how many versions of each collection's chunk changes are kept
    for bringing indexes up to date; an index further behind is rebuilt.
    """

    def __init__(
        self,
        path: Path,
        *,
        timeout_s: float = 30.0,
        ann_min_chunks: int = 20_000,
        ann_params: AnnParams | None = None,
        change_log_versions: int = 1_000,
    ) -> None:
        if ann_min_chunks < 1 or change_log_versions < 1:
            raise ValueError("ann_min_chunks and change_log_versions must be at least 1")
        self.file = SQLiteFile(Path(path), "knowledge", RECOVERY)
        self._timeout_s = timeout_s
        self._change_log_versions = change_log_versions
        self._connections = ThreadConnections(self._open_connection, "the knowledge store")
        self._vectors = VectorCache(ann_min_chunks, ann_params or AnnParams())
        self.file.path.parent.mkdir(parents=True, exist_ok=True)
        with self.file.opening():
            with self._transaction("IMMEDIATE") as conn:
                create_schema(conn)
            self.file.quick_check(self._connection())

    # -- collections -------------------------------------------------------------------

    def create_collection(self, ref: CollectionRef, *, embedding_model: str, dim: int) -> None:
        check_dim(dim)
        if not embedding_model:
            raise ValueError("embedding_model must be a non-empty name")
        with self._transaction("IMMEDIATE") as conn:
            existing = lookup(conn, ref)
            if existing is not None:
                check_same_embedding(ref, existing, embedding_model, dim)
                return
            cursor = conn.execute(
                "INSERT INTO collections (tenant, name, embedding_model, dim) VALUES (?, ?, ?, ?)",
                (ref.tenant, ref.name, embedding_model, dim),
            )
            create_fts(conn, Collection(int(cursor.lastrowid or 0), embedding_model, dim, 0, 0))

    def get_collection(self, ref: CollectionRef) -> CollectionInfo | None:
        rows = self._connection().execute(
            COLLECTION_INFO + " AND c.name = ?", (ref.tenant, ref.name)
        )
        return next((collection_info(row) for row in rows), None)

    def list_collections(self, tenant: str) -> list[CollectionInfo]:
        check_name("tenant", tenant)
        rows = self._connection().execute(COLLECTION_INFO + " ORDER BY c.name", (tenant,))
        return [collection_info(row) for row in rows]

    def drop_collection(self, ref: CollectionRef) -> bool:
        with self._transaction("IMMEDIATE") as conn:
            collection = lookup(conn, ref)
            if collection is None:
                return False
            conn.execute("DELETE FROM collections WHERE id = ?", (collection.id,))
            conn.execute(f"DROP TABLE IF EXISTS {collection.fts}")
        self._vectors.forget(collection.id)
        return True

    # -- documents ---------------------------------------------------------------------

    def document_hashes(self, ref: CollectionRef) -> dict[str, str]:
        rows = self._connection().execute(
            f"SELECT doc_id, content_hash FROM documents WHERE collection_id = {COLLECTION_ID}",
            (ref.tenant, ref.name),
        )
        return dict(rows)

    def upsert_document(
        self, ref: CollectionRef, document: Document, chunks: Sequence[Chunk], vectors: Vectors
    ) -> None:
        chunks = list(chunks)
        metadata = check_document(document, chunks)
        with self._transaction("IMMEDIATE") as conn:
            collection = require(conn, ref)
            matrix = normalized_rows(vectors, len(chunks), collection.dim)
            delete_chunks(conn, collection, [document.id])
            conn.execute(
                """INSERT INTO documents (collection_id, doc_id, title, source, metadata,
                                          content_hash, chunk_count)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (collection_id, doc_id) DO UPDATE SET
                       title = excluded.title, source = excluded.source,
                       metadata = excluded.metadata, content_hash = excluded.content_hash,
                       chunk_count = excluded.chunk_count""",
                (
                    collection.id,
                    document.id,
                    document.title,
                    document.source,
                    metadata,
                    document.content_hash,
                    len(chunks),
                ),
            )
            conn.executemany(
                """INSERT INTO chunks (collection_id, doc_id, idx, text, heading_path,
                                       start_char, end_char, token_count, search_text,
                                       embedding)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    (
                        collection.id,
                        document.id,
                        chunk.index,
                        chunk.text,
                        json.dumps(list(chunk.heading_path)),
                        chunk.start,
                        chunk.end,
                        chunk.token_count,
                        chunk_embedding_text(chunk, document.title),
                        row.astype("<f4").tobytes(),
                    )
                    for chunk, row in zip(chunks, matrix, strict=True)
                ],
            )
            conn.execute(
                f"""INSERT INTO {collection.fts} (rowid, text)
                    SELECT id, search_text FROM chunks WHERE collection_id = ? AND doc_id = ?""",
                (collection.id, document.id),
            )
            log_changes(conn, collection, [document.id])
            bump_version(conn, collection, self._change_log_versions)

    def delete_documents(self, ref: CollectionRef, document_ids: Sequence[str]) -> int:
        ids = list(dict.fromkeys(document_ids))
        with self._transaction("IMMEDIATE") as conn:
            collection = lookup(conn, ref)
            if collection is None or not ids:
                return 0
            delete_chunks(conn, collection, ids)
            deleted = conn.execute(
                """DELETE FROM documents
                   WHERE collection_id = ? AND doc_id IN (SELECT value FROM json_each(?))""",
                (collection.id, json.dumps(ids)),
            ).rowcount
            if deleted:
                bump_version(conn, collection, self._change_log_versions)
            return deleted

    # -- search ------------------------------------------------------------------------

    def keyword_search(
        self, ref: CollectionRef, query: str, k: int, filters: Filters | None = None
    ) -> list[Ranked]:
        """BM25 (FTS5 ``bm25()``, negated so higher is better) over an OR of the query words.

        Ties are broken by chunk row id. Without filters FTS5 picks the top ``k`` row ids
        alone and only those are joined to ``chunks``; with filters every match is joined
        (a filter may reject any of them).
        """
        check_k(k)
        clauses = check_filters(filters)
        terms = query_terms(query)
        if not terms:
            return []
        where, params = filter_sql(clauses)
        with self._transaction("DEFERRED") as conn:
            collection = lookup(conn, ref)
            if collection is None:
                return []
            fts = collection.fts
            sql = filtered_bm25_sql(fts, where) if clauses else bm25_sql(fts)
            rows = conn.execute(sql, (fts5_query(terms), *params, k)).fetchall()
        return [
            Ranked(chunk_id(doc_id, idx), -float(score), rank)
            for rank, (doc_id, idx, score) in enumerate(rows, start=1)
        ]

    def vector_search(
        self, ref: CollectionRef, vector: Vectors, k: int, filters: Filters | None = None
    ) -> list[Ranked]:
        """Nearest chunks by cosine similarity; ``sqlite_vectors`` tells which path runs."""
        check_k(k)
        clauses = check_filters(filters)
        with self._transaction("DEFERRED") as conn:
            collection = lookup(conn, ref)
            if collection is None:
                return []
            query = normalized_query(vector, collection.dim)
            hits = self._vectors.search(conn, collection, query, k, clauses)
        return [Ranked(chunk, score, rank) for rank, (chunk, score) in enumerate(hits, start=1)]

    def get_chunks(self, ref: CollectionRef, chunk_ids: Sequence[str]) -> list[StoredChunk]:
        wanted = [parsed for parsed in map(parse_chunk_id, chunk_ids) if parsed is not None]
        if not wanted:
            return []
        rows = self._connection().execute(
            f"""SELECT c.doc_id, c.idx, c.text, c.heading_path, c.start_char, c.end_char,
                       c.token_count, d.title, d.source, d.metadata
                FROM json_each(?) w
                CROSS JOIN chunks c ON c.collection_id = {COLLECTION_ID}
                             AND c.doc_id = json_extract(w.value, '$[0]')
                             AND c.idx = json_extract(w.value, '$[1]')
                JOIN documents d ON d.collection_id = c.collection_id AND d.doc_id = c.doc_id""",
            (json.dumps(list(set(wanted))), ref.tenant, ref.name),
        )
        found = {(row[0], row[1]): stored_chunk(row) for row in rows}
        return [found[key] for key in wanted if key in found]

    def get_vectors(self, ref: CollectionRef, chunk_ids: Sequence[str]) -> Vectors:
        wanted = {parsed for parsed in map(parse_chunk_id, chunk_ids) if parsed is not None}
        with self._transaction("DEFERRED") as conn:
            collection = lookup(conn, ref)
            if collection is None:
                return vectors_in_order(chunk_ids, {}, 0)
            rows = conn.execute(
                """SELECT c.doc_id, c.idx, c.embedding
                   FROM json_each(?) w
                   CROSS JOIN chunks c ON c.collection_id = ?
                                AND c.doc_id = json_extract(w.value, '$[0]')
                                AND c.idx = json_extract(w.value, '$[1]')""",
                (json.dumps(list(wanted)), collection.id),
            ).fetchall()
        found = {(doc_id, idx): np.frombuffer(blob, dtype="<f4") for doc_id, idx, blob in rows}
        return vectors_in_order(chunk_ids, found, collection.dim)

    # -- maintenance -------------------------------------------------------------------

    def check_integrity(self) -> list[str]:
        """Problems found in the whole database (empty when consistent).

        Runs SQLite's ``integrity_check`` and ``foreign_key_check``, FTS5's own
        ``integrity-check`` per collection, and checks that the FTS rows are exactly the
        chunks, that every document has its full chunk set and every vector its dim, and
        that the change log holds only versions in ``(logged_since, version]``.
        """
        with self._transaction("IMMEDIATE") as conn:
            return integrity_problems(conn)

    def close(self) -> None:
        self._connections.close()
        self._vectors.clear()

    # -- internals ---------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (closed when the thread ends)."""
        return self._connections.get()

    def _open_connection(self) -> sqlite3.Connection:
        conn = self.file.connect(timeout_s=self._timeout_s)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:  # e.g. not a database: the next call tries again
            conn.close()
            raise
        return conn

    @contextmanager
    def _transaction(self, mode: Literal["IMMEDIATE", "DEFERRED"]) -> Iterator[sqlite3.Connection]:
        """One transaction: committed if the block returns, rolled back if it raises."""
        with transaction(self._connection(), mode) as conn:
            yield conn
