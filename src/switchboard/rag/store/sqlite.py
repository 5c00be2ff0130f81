"""The embedded store: one SQLite file is the system of record, FTS5 gives BM25.

Layout:

- ``collections`` (tenant, name, embedding model, dim, ``version``). ``version`` is bumped
  by every write to the collection; ids are ``AUTOINCREMENT`` so never reused, which makes
  ``(id, version)`` a safe cache key even across processes.
- ``documents`` (provenance, metadata JSON, content hash, ``chunk_count``) and ``chunks``
  (text, offsets, heading path JSON, float32 unit-vector BLOB), deleted by cascade.
- One contentless FTS5 table per collection, ``fts_<collection id>``, so BM25's document
  frequencies and average lengths are those of the collection searched (another tenant's
  corpus never moves the scores) and a drop is a ``DROP TABLE``. It is kept in sync in the
  same transaction as the chunks, with FTS5's ``'delete'`` command fed the stored text.

Every write is one ``BEGIN IMMEDIATE`` transaction, validated inside it before the first
write, so a failure or a killed process leaves the previous state (WAL journal,
``synchronous=NORMAL``: durable against process crashes; a power cut may lose the last
commits but never consistency).

Vector search runs on an in-memory ``ExactIndex`` per collection, a cache rebuilt from the
chunk BLOBs whenever the collection's ``version`` differs from the one it was built at, so
writes by other processes are seen. The version check, the index (re)load and the filter
query run in one read transaction, so they all see the same snapshot.

Threads: each thread gets its own connection (``threading.local``; opened with
``check_same_thread=False`` only so ``close()`` may close them all from one thread). WAL
lets readers run alongside the one writer; writers queue on the database lock (``timeout_s``).
Reads of a missing collection return nothing; writes to one raise ``ValueError``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from switchboard.rag.store.base import Vectors
from switchboard.rag.store.inputs import (
    FilterClause,
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
from switchboard.rag.store.vector_index import ExactIndex
from switchboard.rag.types import (
    Chunk,
    CollectionInfo,
    CollectionRef,
    Document,
    Filters,
    MetadataValue,
    Ranked,
    StoredChunk,
    check_name,
)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS collections (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        embedding_model TEXT NOT NULL,
        dim INTEGER NOT NULL CHECK (dim > 0),
        version INTEGER NOT NULL DEFAULT 0,
        UNIQUE (tenant, name))""",
    """CREATE TABLE IF NOT EXISTS documents (
        collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
        doc_id TEXT NOT NULL,
        title TEXT NOT NULL,
        source TEXT NOT NULL,
        metadata TEXT NOT NULL CHECK (json_valid(metadata)),
        content_hash TEXT NOT NULL,
        chunk_count INTEGER NOT NULL,
        PRIMARY KEY (collection_id, doc_id))""",
    """CREATE TABLE IF NOT EXISTS chunks (
        id INTEGER PRIMARY KEY,
        collection_id INTEGER NOT NULL,
        doc_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        text TEXT NOT NULL,
        heading_path TEXT NOT NULL,
        start_char INTEGER NOT NULL,
        end_char INTEGER NOT NULL,
        token_count INTEGER NOT NULL,
        embedding BLOB NOT NULL,
        UNIQUE (collection_id, doc_id, idx),
        FOREIGN KEY (collection_id, doc_id)
            REFERENCES documents (collection_id, doc_id) ON DELETE CASCADE)""",
)
_TOKENIZER = "porter unicode61 remove_diacritics 2"
_COLLECTION_INFO = """
    SELECT c.tenant, c.name, c.embedding_model, c.dim,
           (SELECT count(*) FROM documents d WHERE d.collection_id = c.id),
           (SELECT coalesce(sum(d.chunk_count), 0) FROM documents d WHERE d.collection_id = c.id)
    FROM collections c WHERE c.tenant = ?"""
_COLLECTION_ID = "(SELECT id FROM collections WHERE tenant = ? AND name = ?)"


@dataclass(frozen=True)
class _Collection:
    id: int
    embedding_model: str
    dim: int
    version: int

    @property
    def fts(self) -> str:
        """The FTS5 table name: built from our own integer id, safe to put in SQL."""
        return f"fts_{int(self.id)}"


@dataclass(frozen=True)
class _CachedIndex:
    version: int
    index: ExactIndex
    chunk_ids: dict[int, str]


class SQLiteStore:
    """``Store`` on one SQLite file; safe to share between threads and processes."""

    def __init__(self, path: Path, *, timeout_s: float = 30.0) -> None:
        self._path = Path(path)
        self._timeout_s = timeout_s
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        self._indexes: dict[int, _CachedIndex] = {}
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction("IMMEDIATE") as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    # -- collections -------------------------------------------------------------------

    def create_collection(self, ref: CollectionRef, *, embedding_model: str, dim: int) -> None:
        check_dim(dim)
        if not embedding_model:
            raise ValueError("embedding_model must be a non-empty name")
        with self._transaction("IMMEDIATE") as conn:
            existing = _lookup(conn, ref)
            if existing is not None:
                _check_same_embedding(ref, existing, embedding_model, dim)
                return
            cursor = conn.execute(
                "INSERT INTO collections (tenant, name, embedding_model, dim) VALUES (?, ?, ?, ?)",
                (ref.tenant, ref.name, embedding_model, dim),
            )
            created = _Collection(int(cursor.lastrowid or 0), embedding_model, dim, 0)
            conn.execute(
                f"CREATE VIRTUAL TABLE {created.fts} USING fts5"
                f"(text, content='', tokenize='{_TOKENIZER}')"
            )

    def get_collection(self, ref: CollectionRef) -> CollectionInfo | None:
        rows = self._connection().execute(
            _COLLECTION_INFO + " AND c.name = ?", (ref.tenant, ref.name)
        )
        return next((_collection_info(row) for row in rows), None)

    def list_collections(self, tenant: str) -> list[CollectionInfo]:
        check_name("tenant", tenant)
        rows = self._connection().execute(_COLLECTION_INFO + " ORDER BY c.name", (tenant,))
        return [_collection_info(row) for row in rows]

    def drop_collection(self, ref: CollectionRef) -> bool:
        with self._transaction("IMMEDIATE") as conn:
            collection = _lookup(conn, ref)
            if collection is None:
                return False
            conn.execute("DELETE FROM collections WHERE id = ?", (collection.id,))
            conn.execute(f"DROP TABLE IF EXISTS {collection.fts}")
        with self._lock:
            self._indexes.pop(collection.id, None)
        return True

    # -- documents ---------------------------------------------------------------------

    def document_hashes(self, ref: CollectionRef) -> dict[str, str]:
        rows = self._connection().execute(
            f"SELECT doc_id, content_hash FROM documents WHERE collection_id = {_COLLECTION_ID}",
            (ref.tenant, ref.name),
        )
        return dict(rows)

    def upsert_document(
        self, ref: CollectionRef, document: Document, chunks: Sequence[Chunk], vectors: Vectors
    ) -> None:
        chunks = list(chunks)
        metadata = check_document(document, chunks)
        with self._transaction("IMMEDIATE") as conn:
            collection = _require(conn, ref)
            matrix = normalized_rows(vectors, len(chunks), collection.dim)
            _delete_chunks(conn, collection, [document.id])
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
                                       start_char, end_char, token_count, embedding)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
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
                        row.astype("<f4").tobytes(),
                    )
                    for chunk, row in zip(chunks, matrix, strict=True)
                ],
            )
            conn.execute(
                f"""INSERT INTO {collection.fts} (rowid, text)
                    SELECT id, text FROM chunks WHERE collection_id = ? AND doc_id = ?""",
                (collection.id, document.id),
            )
            _bump_version(conn, collection)

    def delete_documents(self, ref: CollectionRef, document_ids: Sequence[str]) -> int:
        ids = list(dict.fromkeys(document_ids))
        with self._transaction("IMMEDIATE") as conn:
            collection = _lookup(conn, ref)
            if collection is None or not ids:
                return 0
            _delete_chunks(conn, collection, ids)
            deleted = conn.execute(
                """DELETE FROM documents
                   WHERE collection_id = ? AND doc_id IN (SELECT value FROM json_each(?))""",
                (collection.id, json.dumps(ids)),
            ).rowcount
            if deleted:
                _bump_version(conn, collection)
            return deleted

    # -- search ------------------------------------------------------------------------

    def keyword_search(
        self, ref: CollectionRef, query: str, k: int, filters: Filters | None = None
    ) -> list[Ranked]:
        """BM25 (FTS5 ``bm25()``, negated so higher is better) over an OR of the query words."""
        check_k(k)
        clauses = check_filters(filters)
        terms = query_terms(query)
        if not terms:
            return []
        where, params = _filter_sql(clauses)
        with self._transaction("DEFERRED") as conn:
            collection = _lookup(conn, ref)
            if collection is None:
                return []
            fts = collection.fts
            rows = conn.execute(
                f"""SELECT c.doc_id, c.idx, bm25({fts}) AS score
                    FROM {fts}
                    JOIN chunks c ON c.id = {fts}.rowid
                    JOIN documents d ON d.collection_id = c.collection_id AND d.doc_id = c.doc_id
                    WHERE {fts} MATCH ? {where}
                    ORDER BY score, c.id LIMIT ?""",
                (fts5_query(terms), *params, k),
            ).fetchall()
        return [
            Ranked(chunk_id(doc_id, idx), -float(score), rank)
            for rank, (doc_id, idx, score) in enumerate(rows, start=1)
        ]

    def vector_search(
        self, ref: CollectionRef, vector: Vectors, k: int, filters: Filters | None = None
    ) -> list[Ranked]:
        check_k(k)
        clauses = check_filters(filters)
        with self._transaction("DEFERRED") as conn:
            collection = _lookup(conn, ref)
            if collection is None:
                return []
            query = normalized_query(vector, collection.dim)
            cached = self._cached_index(conn, collection)
            allowed = None
            if clauses:
                where, params = _filter_sql(clauses)
                rows = conn.execute(
                    f"""SELECT c.id FROM chunks c
                        JOIN documents d
                          ON d.collection_id = c.collection_id AND d.doc_id = c.doc_id
                        WHERE c.collection_id = ? {where}""",
                    (collection.id, *params),
                )
                allowed = cached.index.mask(row[0] for row in rows)
        hits = cached.index.search(query, k, allowed)
        return [
            Ranked(cached.chunk_ids[key], score, rank)
            for rank, (key, score) in enumerate(hits, start=1)
        ]

    def get_chunks(self, ref: CollectionRef, chunk_ids: Sequence[str]) -> list[StoredChunk]:
        wanted = [parsed for parsed in map(parse_chunk_id, chunk_ids) if parsed is not None]
        if not wanted:
            return []
        rows = self._connection().execute(
            f"""SELECT c.doc_id, c.idx, c.text, c.heading_path, c.start_char, c.end_char,
                       c.token_count, d.title, d.source, d.metadata
                FROM json_each(?) w
                CROSS JOIN chunks c ON c.collection_id = {_COLLECTION_ID}
                             AND c.doc_id = json_extract(w.value, '$[0]')
                             AND c.idx = json_extract(w.value, '$[1]')
                JOIN documents d ON d.collection_id = c.collection_id AND d.doc_id = c.doc_id""",
            (json.dumps(list(set(wanted))), ref.tenant, ref.name),
        )
        found = {(row[0], row[1]): _stored_chunk(row) for row in rows}
        return [found[key] for key in wanted if key in found]

    def get_vectors(self, ref: CollectionRef, chunk_ids: Sequence[str]) -> Vectors:
        wanted = {parsed for parsed in map(parse_chunk_id, chunk_ids) if parsed is not None}
        with self._transaction("DEFERRED") as conn:
            collection = _lookup(conn, ref)
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
        chunks, that every document has its full chunk set and every vector its dim.
        """
        with self._transaction("IMMEDIATE") as conn:
            problems = [
                f"integrity_check: {row[0]}"
                for row in conn.execute("PRAGMA integrity_check")
                if row[0] != "ok"
            ]
            problems += [
                f"foreign_key_check: {row}" for row in conn.execute("PRAGMA foreign_key_check")
            ]
            problems += [
                f"document {doc_id!r} of collection {cid} has {n} chunks, expected {expected}"
                for cid, doc_id, n, expected in conn.execute(
                    """SELECT d.collection_id, d.doc_id, count(c.id), d.chunk_count
                       FROM documents d
                       LEFT JOIN chunks c
                         ON c.collection_id = d.collection_id AND c.doc_id = d.doc_id
                       GROUP BY d.collection_id, d.doc_id
                       HAVING count(c.id) != d.chunk_count"""
                )
            ]
            problems += [
                f"chunk {row[0]} has a vector of the wrong size"
                for row in conn.execute(
                    """SELECT c.id FROM chunks c JOIN collections k ON k.id = c.collection_id
                       WHERE length(c.embedding) != 4 * k.dim"""
                )
            ]
            for (cid,) in conn.execute("SELECT id FROM collections").fetchall():
                problems += _fts_problems(conn, int(cid))
        return problems

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
            self._indexes.clear()
        for conn in connections:
            conn.close()

    # -- internals ---------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self._path, timeout=self._timeout_s, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
                if self._closed:
                    conn.close()
                    raise RuntimeError("the store is closed")
        return conn

    @contextmanager
    def _transaction(self, mode: Literal["IMMEDIATE", "DEFERRED"]) -> Iterator[sqlite3.Connection]:
        """One transaction: committed if the block returns, rolled back if it raises."""
        conn = self._connection()
        conn.execute(f"BEGIN {mode}")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _cached_index(self, conn: sqlite3.Connection, collection: _Collection) -> _CachedIndex:
        """The collection's index at its current version, (re)built from SQLite if stale."""
        with self._lock:
            cached = self._indexes.get(collection.id)
        if cached is not None and cached.version == collection.version:
            return cached
        rows = conn.execute(
            "SELECT id, doc_id, idx, embedding FROM chunks WHERE collection_id = ? ORDER BY id",
            (collection.id,),
        ).fetchall()
        keys = np.array([row[0] for row in rows], dtype=np.int64)
        matrix = np.frombuffer(b"".join(row[3] for row in rows), dtype="<f4")
        index = ExactIndex(
            keys, matrix.reshape(len(rows), collection.dim).astype(np.float32, copy=False)
        )
        cached = _CachedIndex(
            collection.version, index, {row[0]: chunk_id(row[1], row[2]) for row in rows}
        )
        with self._lock:
            current = self._indexes.get(collection.id)
            if current is None or current.version < cached.version:
                self._indexes[collection.id] = cached
        return cached


def _lookup(conn: sqlite3.Connection, ref: CollectionRef) -> _Collection | None:
    row = conn.execute(
        "SELECT id, embedding_model, dim, version FROM collections WHERE tenant = ? AND name = ?",
        (ref.tenant, ref.name),
    ).fetchone()
    return None if row is None else _Collection(*row)


def _require(conn: sqlite3.Connection, ref: CollectionRef) -> _Collection:
    collection = _lookup(conn, ref)
    if collection is None:
        raise ValueError(f"collection {ref} does not exist")
    return collection


def _check_same_embedding(
    ref: CollectionRef, existing: _Collection, embedding_model: str, dim: int
) -> None:
    if (existing.embedding_model, existing.dim) != (embedding_model, dim):
        raise ValueError(
            f"collection {ref} exists with model {existing.embedding_model!r} and dim "
            f"{existing.dim}, not {embedding_model!r} and {dim}"
        )


def _delete_chunks(conn: sqlite3.Connection, collection: _Collection, doc_ids: list[str]) -> None:
    """Remove these documents' chunks from the FTS table (which needs their text) and chunks."""
    params = (collection.id, json.dumps(doc_ids))
    selected = "collection_id = ? AND doc_id IN (SELECT value FROM json_each(?))"
    fts = collection.fts
    conn.execute(
        f"INSERT INTO {fts} ({fts}, rowid, text) SELECT 'delete', id, text FROM chunks "
        f"WHERE {selected}",
        params,
    )
    conn.execute(f"DELETE FROM chunks WHERE {selected}", params)


def _bump_version(conn: sqlite3.Connection, collection: _Collection) -> None:
    conn.execute("UPDATE collections SET version = version + 1 WHERE id = ?", (collection.id,))


def _filter_sql(clauses: list[FilterClause]) -> tuple[str, list[Any]]:
    """``AND (...)`` conditions on ``d.metadata`` and their parameters; keys are checked."""
    sql, params = "", []
    for clause in clauses:
        path = f"$.{clause.key}"
        options = []
        for value in clause.values:
            option, option_params = _json_equals(path, value)
            options.append(option)
            params += option_params
        sql += " AND (" + " OR ".join(options) + ")"
    return sql, params


def _json_equals(path: str, value: MetadataValue) -> tuple[str, list[Any]]:
    """A typed equality test: ``true`` never equals ``1`` and ``"1"`` never equals ``1``."""
    if isinstance(value, bool):
        return "json_type(d.metadata, ?) = ?", [path, "true" if value else "false"]
    types = "'text'" if isinstance(value, str) else "'integer', 'real'"
    sql = f"(json_type(d.metadata, ?) IN ({types}) AND json_extract(d.metadata, ?) = ?)"
    return sql, [path, path, value]


def _fts_problems(conn: sqlite3.Connection, collection_id: int) -> list[str]:
    fts = f"fts_{collection_id}"
    try:
        conn.execute(f"INSERT INTO {fts} ({fts}) VALUES ('integrity-check')")
        indexed = {row[0] for row in conn.execute(f"SELECT rowid FROM {fts}")}
    except sqlite3.DatabaseError as error:
        return [f"{fts}: {error}"]
    chunks = {
        row[0]
        for row in conn.execute("SELECT id FROM chunks WHERE collection_id = ?", (collection_id,))
    }
    if indexed != chunks:
        return [f"{fts}: {len(indexed ^ chunks)} rows differ from the chunks table"]
    return []


def _collection_info(row: sqlite3.Row | tuple[Any, ...]) -> CollectionInfo:
    tenant, name, model, dim, documents, chunks = row
    return CollectionInfo(CollectionRef(tenant, name), model, dim, documents, chunks)


def _stored_chunk(row: tuple[Any, ...]) -> StoredChunk:
    doc_id, idx, text, heading_path, start, end, token_count, title, source, metadata = row
    chunk = Chunk(doc_id, idx, text, start, end, token_count, tuple(json.loads(heading_path)))
    return StoredChunk(chunk, title, source, json.loads(metadata))
