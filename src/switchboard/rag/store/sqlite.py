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
  same transaction as the chunks, with FTS5's ``'delete'`` command fed the stored text. What
  is indexed is ``search_text``: the chunk text with its document title and heading path in
  front (``chunk_embedding_text``, as embedded), so a word of a heading finds its chunks.

Every write is one ``BEGIN IMMEDIATE`` transaction, validated inside it before the first
write, so a failure or a killed process leaves the previous state (WAL journal,
``synchronous=NORMAL``: durable against process crashes; a power cut may lose the last
commits but never consistency).

Vector search (``vector_search``) takes one of three paths, all exact in their scores:

- below ``ann_min_chunks`` chunks: an in-memory ``ExactIndex``, a cache rebuilt from the
  chunk BLOBs whenever the collection's ``version`` differs from the one it was built at
  (one matrix product per query: fast and perfect at this size);
- from ``ann_min_chunks`` chunks: an ``AnnIndex`` (HNSW over int8 vectors) proposes
  ``candidates(k)`` rows, which are re-scored with their float32 BLOBs in the query's own
  snapshot. The index is kept up to date incrementally: every write logs the chunk row ids
  it removes or adds in ``chunk_changes``, in its own transaction, at the version it
  creates; a stale index applies the rows logged after its version (re-read from
  ``chunks``), or is rebuilt when the log no longer reaches back that far. The log keeps the
  last ``change_log_versions`` versions of each collection (``collections.logged_since`` is
  the version it is complete after). An index falls back to exact search when it shrinks
  below half of ``ann_min_chunks``, so a collection at the threshold does not flap;
- with metadata filters: the allowed rows are computed by SQL (documents filtered first,
  then their chunks) and searched exactly, so up to ``k`` matches always come back, at a
  cost proportional to the allowed count: in the cached ``ExactIndex``, or in the float32
  rows an ``AnnIndex`` keeps beside its graph; with neither cached, their vectors are read
  with the filter query (a filtered query builds no index).

The version check, the index refresh and every query of one search run in one read
transaction, so they see the same snapshot; a shared ``AnnIndex`` may already be ahead of
that snapshot (another thread refreshed it), and then rows newer than the snapshot are
dropped at re-scoring. Writes by other processes are seen through ``version`` as well.

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

from switchboard.rag.store.ann_index import AnnIndex, AnnParams, Changes, Keys
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
    chunk_embedding_text,
)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS collections (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        embedding_model TEXT NOT NULL,
        dim INTEGER NOT NULL CHECK (dim > 0),
        version INTEGER NOT NULL DEFAULT 0,
        logged_since INTEGER NOT NULL DEFAULT 0,
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
        search_text TEXT NOT NULL,
        embedding BLOB NOT NULL,
        UNIQUE (collection_id, doc_id, idx),
        FOREIGN KEY (collection_id, doc_id)
            REFERENCES documents (collection_id, doc_id) ON DELETE CASCADE)""",
    """CREATE TABLE IF NOT EXISTS chunk_changes (
        collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        chunk_id INTEGER NOT NULL,
        PRIMARY KEY (collection_id, version, chunk_id)) WITHOUT ROWID""",
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
    logged_since: int

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
        self._path = Path(path)
        self._timeout_s = timeout_s
        self._ann_min_chunks = ann_min_chunks
        self._ann_params = ann_params or AnnParams()
        self._change_log_versions = change_log_versions
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        self._indexes: dict[int, _CachedIndex | AnnIndex] = {}
        self._build_locks: dict[int, threading.Lock] = {}
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction("IMMEDIATE") as conn:
            for statement in _SCHEMA:
                conn.execute(statement)
            _add_logged_since(conn)

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
            created = _Collection(int(cursor.lastrowid or 0), embedding_model, dim, 0, 0)
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
            self._build_locks.pop(collection.id, None)
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
            _log_changes(conn, collection, [document.id])
            self._bump_version(conn, collection)

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
                self._bump_version(conn, collection)
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
        where, params = _filter_sql(clauses)
        with self._transaction("DEFERRED") as conn:
            collection = _lookup(conn, ref)
            if collection is None:
                return []
            fts = collection.fts
            sql = _filtered_bm25_sql(fts, where) if clauses else _bm25_sql(fts)
            rows = conn.execute(sql, (fts5_query(terms), *params, k)).fetchall()
        return [
            Ranked(chunk_id(doc_id, idx), -float(score), rank)
            for rank, (doc_id, idx, score) in enumerate(rows, start=1)
        ]

    def vector_search(
        self, ref: CollectionRef, vector: Vectors, k: int, filters: Filters | None = None
    ) -> list[Ranked]:
        """Nearest chunks by cosine similarity; the module docstring tells which path runs."""
        check_k(k)
        clauses = check_filters(filters)
        with self._transaction("DEFERRED") as conn:
            collection = _lookup(conn, ref)
            if collection is None:
                return []
            query = normalized_query(vector, collection.dim)
            if clauses:
                hits = self._filtered_nearest(conn, collection, clauses, query, k)
            else:
                hits = self._nearest(conn, collection, query, k)
        return [Ranked(chunk, score, rank) for rank, (chunk, score) in enumerate(hits, start=1)]

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
        chunks, that every document has its full chunk set and every vector its dim, and
        that the change log holds only versions in ``(logged_since, version]``.
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
            problems += _change_log_problems(conn)
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

    def _bump_version(self, conn: sqlite3.Connection, collection: _Collection) -> None:
        """The write's new version; the change log keeps only the last versions."""
        conn.execute(
            """UPDATE collections SET version = version + 1,
                                      logged_since = max(logged_since, version + 1 - ?)
               WHERE id = ?""",
            (self._change_log_versions, collection.id),
        )
        conn.execute(
            """DELETE FROM chunk_changes WHERE collection_id = ?
               AND version <= (SELECT logged_since FROM collections WHERE id = ?)""",
            (collection.id, collection.id),
        )

    def _nearest(
        self, conn: sqlite3.Connection, collection: _Collection, query: Vectors, k: int
    ) -> list[_Hit]:
        cached = self._vector_index(conn, collection)
        if isinstance(cached, _CachedIndex):
            return [(cached.chunk_ids[key], score) for key, score in cached.index.search(query, k)]
        wanted = cached.params.candidates(k)
        if wanted < len(cached):
            candidates = _rows_by_id(conn, collection, cached.search(query, wanted))
            hits = _exact_hits(candidates, query, k)
            if len(hits) == k:
                return hits
        # Asked for about everything, or the graph came up short: read every row.
        return _exact_hits(_filtered_rows(conn, collection, "", []), query, k)

    def _filtered_nearest(
        self,
        conn: sqlite3.Connection,
        collection: _Collection,
        clauses: list[FilterClause],
        query: Vectors,
        k: int,
    ) -> list[_Hit]:
        where, params = _filter_sql(clauses)
        with self._lock:
            cached = self._indexes.get(collection.id)
        allowed = f"""SELECT c.id FROM documents d CROSS JOIN chunks c
                      ON c.collection_id = d.collection_id AND c.doc_id = d.doc_id
                      WHERE d.collection_id = ? {where}"""
        if isinstance(cached, _CachedIndex) and cached.version == collection.version:
            rows = conn.execute(allowed, (collection.id, *params))
            mask = cached.index.mask(row[0] for row in rows)
            hits = cached.index.search(query, k, mask)
            return [(cached.chunk_ids[key], score) for key, score in hits]
        if isinstance(cached, AnnIndex) and cached.advance(
            collection.version, lambda since: _changes_since(conn, collection, since)
        ):
            rows = conn.execute(allowed, (collection.id, *params))
            nearest = cached.exact(row[0] for row in rows).search(query, k)
            keys = np.array([key for key, _ in nearest], dtype=np.int64)
            return _exact_hits(_rows_by_id(conn, collection, keys), query, k)
        return _exact_hits(_filtered_rows(conn, collection, where, params), query, k)

    def _vector_index(
        self, conn: sqlite3.Connection, collection: _Collection
    ) -> _CachedIndex | AnnIndex:
        """The collection's index, at least at the snapshot's version.

        One build at a time per collection: a thread that finds one under way waits for it
        and takes its result instead of building again.
        """
        cached = self._current_index(conn, collection)
        if cached is not None:
            return cached
        with self._lock:
            build_lock = self._build_locks.setdefault(collection.id, threading.Lock())
        with build_lock:
            cached = self._current_index(conn, collection)
            return self._build_index(conn, collection) if cached is None else cached

    def _current_index(
        self, conn: sqlite3.Connection, collection: _Collection
    ) -> _CachedIndex | AnnIndex | None:
        """The cached index brought up to the snapshot, or None when it must be rebuilt."""
        with self._lock:
            cached = self._indexes.get(collection.id)
        if isinstance(cached, _CachedIndex):
            return cached if cached.version == collection.version else None
        if cached is None or not cached.advance(
            collection.version, lambda since: _changes_since(conn, collection, since)
        ):
            return None
        return cached if 2 * len(cached) >= self._ann_min_chunks else None

    def _build_index(
        self, conn: sqlite3.Connection, collection: _Collection
    ) -> _CachedIndex | AnnIndex:
        """A new index of every row in the snapshot: approximate for a large collection."""
        rows = _filtered_rows(conn, collection, "", [])
        keys, matrix = _keys_and_matrix(rows, collection.dim)
        index: _CachedIndex | AnnIndex
        if len(rows) >= self._ann_min_chunks:
            index = AnnIndex.build(self._ann_params, collection.version, keys, matrix)
        else:
            chunk_ids = {row[0]: chunk_id(row[1], row[2]) for row in rows}
            index = _CachedIndex(collection.version, ExactIndex(keys, matrix), chunk_ids)
        with self._lock:
            current = self._indexes.get(collection.id)
            if current is None or current.version <= index.version:
                self._indexes[collection.id] = index
        return index


def _lookup(conn: sqlite3.Connection, ref: CollectionRef) -> _Collection | None:
    row = conn.execute(
        """SELECT id, embedding_model, dim, version, logged_since FROM collections
           WHERE tenant = ? AND name = ?""",
        (ref.tenant, ref.name),
    ).fetchone()
    return None if row is None else _Collection(*row)


def _add_logged_since(conn: sqlite3.Connection) -> None:
    """Upgrade a file made before the change log: its log is complete from now on."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(collections)")}
    if "logged_since" not in columns:
        conn.execute("ALTER TABLE collections ADD COLUMN logged_since INTEGER NOT NULL DEFAULT 0")
        conn.execute("UPDATE collections SET logged_since = version")


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


_SELECTED = "collection_id = ? AND doc_id IN (SELECT value FROM json_each(?))"


def _delete_chunks(conn: sqlite3.Connection, collection: _Collection, doc_ids: list[str]) -> None:
    """Remove these documents' chunks from the FTS table (which needs their text) and chunks,
    logging their row ids as changed."""
    params = (collection.id, json.dumps(doc_ids))
    fts = collection.fts
    _log_changes(conn, collection, doc_ids)
    conn.execute(
        f"INSERT INTO {fts} ({fts}, rowid, text) SELECT 'delete', id, search_text FROM chunks "
        f"WHERE {_SELECTED}",
        params,
    )
    conn.execute(f"DELETE FROM chunks WHERE {_SELECTED}", params)


def _log_changes(conn: sqlite3.Connection, collection: _Collection, doc_ids: list[str]) -> None:
    """Log these documents' current chunk rows as changed by the version being written."""
    conn.execute(
        f"""INSERT OR IGNORE INTO chunk_changes (collection_id, version, chunk_id)
            SELECT collection_id, ?, id FROM chunks WHERE {_SELECTED}""",
        (collection.version + 1, collection.id, json.dumps(doc_ids)),
    )


def _changes_since(conn: sqlite3.Connection, collection: _Collection, since: int) -> Changes | None:
    """The chunk rows changed after version ``since`` up to the snapshot's, as they are now;
    None when the log no longer reaches back to ``since``."""
    if since < collection.logged_since:
        return None
    touched = np.array(
        [
            row[0]
            for row in conn.execute(
                """SELECT DISTINCT chunk_id FROM chunk_changes
                   WHERE collection_id = ? AND version > ? AND version <= ?""",
                (collection.id, since, collection.version),
            )
        ],
        dtype=np.int64,
    )
    keys, matrix = _keys_and_matrix(_rows_by_id(conn, collection, touched), collection.dim)
    return Changes(touched, keys, matrix)


_Row = tuple[int, str, int, bytes]
"""A chunk's row id, document id, index and float32 BLOB."""
_Hit = tuple[str, float]


def _rows_by_id(conn: sqlite3.Connection, collection: _Collection, ids: Keys) -> list[_Row]:
    """The collection's rows among ``ids`` (ids no longer there are left out)."""
    return conn.execute(
        """SELECT c.id, c.doc_id, c.idx, c.embedding
           FROM json_each(?) w CROSS JOIN chunks c ON c.id = w.value
           WHERE c.collection_id = ?""",
        (json.dumps(ids.tolist()), collection.id),
    ).fetchall()


def _filtered_rows(
    conn: sqlite3.Connection, collection: _Collection, where: str, params: list[Any]
) -> list[_Row]:
    """The collection's rows that pass the ``_filter_sql`` conditions, in row id order
    (documents are filtered first, then their chunks are read by the unique index)."""
    source = (
        """documents d CROSS JOIN chunks c
           ON c.collection_id = d.collection_id AND c.doc_id = d.doc_id
           WHERE d.collection_id = ?"""
        if where
        else "chunks c WHERE c.collection_id = ?"
    )
    return conn.execute(
        f"SELECT c.id, c.doc_id, c.idx, c.embedding FROM {source} {where} ORDER BY c.id",
        (collection.id, *params),
    ).fetchall()


def _keys_and_matrix(rows: list[_Row], dim: int) -> tuple[Keys, Vectors]:
    keys = np.array([row[0] for row in rows], dtype=np.int64)
    matrix = np.frombuffer(b"".join(row[3] for row in rows), dtype="<f4")
    return keys, matrix.reshape(len(rows), dim).astype(np.float32, copy=False)


def _exact_hits(rows: list[_Row], query: Vectors, k: int) -> list[_Hit]:
    """The ``k`` rows nearest ``query`` by their float32 vectors, best first."""
    keys, matrix = _keys_and_matrix(rows, int(query.shape[0]))
    names = {row[0]: chunk_id(row[1], row[2]) for row in rows}
    return [(names[key], score) for key, score in ExactIndex(keys, matrix).search(query, k)]


def _bm25_sql(fts: str) -> str:
    """Top ``k`` by BM25 then row id, picked by FTS5 alone before the join to ``chunks``."""
    return f"""SELECT c.doc_id, c.idx, top.score
               FROM (SELECT rowid AS id, bm25({fts}) AS score FROM {fts}
                     WHERE {fts} MATCH ? ORDER BY score, rowid LIMIT ?) AS top
               CROSS JOIN chunks c ON c.id = top.id
               ORDER BY top.score, top.id"""


def _filtered_bm25_sql(fts: str, where: str) -> str:
    """Top ``k`` by BM25 then row id among the matches that pass the filter conditions."""
    return f"""SELECT c.doc_id, c.idx, bm25({fts}) AS score
               FROM {fts}
               JOIN chunks c ON c.id = {fts}.rowid
               JOIN documents d ON d.collection_id = c.collection_id AND d.doc_id = c.doc_id
               WHERE {fts} MATCH ? {where}
               ORDER BY score, c.id LIMIT ?"""


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


def _change_log_problems(conn: sqlite3.Connection) -> list[str]:
    problems = [
        f"collection {cid} is logged since version {since}, after its version {version}"
        for cid, since, version in conn.execute(
            "SELECT id, logged_since, version FROM collections WHERE logged_since > version"
        )
    ]
    problems += [
        f"collection {cid} logs {n} changes outside versions ({since}, {version}]"
        for cid, since, version, n in conn.execute(
            """SELECT k.id, k.logged_since, k.version, count(*) FROM chunk_changes l
               JOIN collections k ON k.id = l.collection_id
               WHERE l.version <= k.logged_since OR l.version > k.version
               GROUP BY k.id"""
        )
    ]
    return problems


def _collection_info(row: sqlite3.Row | tuple[Any, ...]) -> CollectionInfo:
    tenant, name, model, dim, documents, chunks = row
    return CollectionInfo(CollectionRef(tenant, name), model, dim, documents, chunks)


def _stored_chunk(row: tuple[Any, ...]) -> StoredChunk:
    doc_id, idx, text, heading_path, start, end, token_count, title, source, metadata = row
    chunk = Chunk(doc_id, idx, text, start, end, token_count, tuple(json.loads(heading_path)))
    return StoredChunk(chunk, title, source, json.loads(metadata))
