"""The scale-out store: PostgreSQL is the system of record, pgvector and full-text search index it.

Layout (tables prefixed ``rag_``, created on first connect, ``CREATE EXTENSION vector``
included, so the role needs that right once):

- ``rag_collections`` (tenant, name, embedding model, dim, ``version`` bumped by each write;
  the bump also locks the collection row, so writers of one collection queue up).
- ``rag_documents`` (provenance, ``metadata jsonb`` with a GIN index, content hash,
  ``chunk_count``) and ``rag_chunks`` (text, offsets, ``heading_path jsonb``, ``embedding
  vector``, ``tsv tsvector`` with a GIN index: ``to_tsvector('english', ...)`` of the chunk
  text with its document title and heading path in front, as embedded).
- One partial HNSW index per collection, ``(embedding::vector(dim)) vector_cosine_ops WHERE
  collection_id = <id>``: collections may have different dims, and each graph holds only its
  own collection's chunks. Planning cost grows with the number of indexes, so past a few
  hundred collections partition ``rag_chunks`` by collection instead.

Keyword search ranks with ``ts_rank_cd`` (cover density: how many query terms a chunk has
and how close together). This is NOT BM25: there is no inverse document frequency and no
length saturation, so scores are not comparable with the SQLite store's; fuse by rank.
The query is an OR of ``plainto_tsquery('english', term)`` per extracted word, each word a
bound parameter, so user text can never be tsquery syntax.

Vector search sets ``hnsw.iterative_scan = relaxed_order`` (pgvector >= 0.8) and re-sorts
the results, so metadata filters do not cut the HNSW result list short; if a filtered search
still returns fewer than ``k`` rows (the scan stopped at ``hnsw.max_scan_tuples``) it is
repeated as an exact scan. Scores are cosine similarities, ``1 - cosine distance``.

Every write is one transaction. Threads: one connection per thread (``threading.local``),
all closed by ``close()``; no pool. Reads of a missing collection return nothing; writes to
one raise ``ValueError``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql

from switchboard.names import check_name
from switchboard.rag.store.base import Vectors
from switchboard.rag.store.inputs import (
    check_dim,
    check_document,
    check_filters,
    check_k,
    normalized_query,
    normalized_rows,
    parse_chunk_id,
    query_terms,
    vectors_in_order,
)
from switchboard.rag.store.postgres_schema import (
    COLLECTION_ID,
    COLLECTION_INFO,
    MAX_HNSW_DIM,
    NEAREST,
    SCHEMA,
    SCHEMA_LOCK,
    Collection,
    Connection,
    collection_info,
    filter_sql,
    lock_for_write,
    lookup,
    ranked,
    require,
    stored_chunk,
)
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
from switchboard.thread_connections import ThreadConnections


class PostgresStore:
    """``Store`` on PostgreSQL with pgvector; safe to share between threads and processes."""

    def __init__(self, dsn: str, *, ef_search: int = 100) -> None:
        self._dsn = dsn
        self._ef_search = ef_search
        self._connections = ThreadConnections(self._open_connection, "the knowledge store")
        with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            if (
                conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()
                is None
            ):
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            for statement in SCHEMA:
                conn.execute(statement)

    # -- collections -------------------------------------------------------------------

    def create_collection(self, ref: CollectionRef, *, embedding_model: str, dim: int) -> None:
        if check_dim(dim) > MAX_HNSW_DIM:
            raise ValueError(f"dim {dim} is over the {MAX_HNSW_DIM} pgvector's HNSW can index")
        if not embedding_model:
            raise ValueError("embedding_model must be a non-empty name")
        with self._transaction() as conn:
            row = conn.execute(
                """INSERT INTO rag_collections (tenant, name, embedding_model, dim)
                   VALUES (%s, %s, %s, %s) ON CONFLICT (tenant, name) DO NOTHING RETURNING id""",
                (ref.tenant, ref.name, embedding_model, dim),
            ).fetchone()
            if row is None:
                existing = require(conn, ref)
                if (existing.embedding_model, existing.dim) != (embedding_model, dim):
                    raise ValueError(
                        f"collection {ref} exists with model {existing.embedding_model!r} and "
                        f"dim {existing.dim}, not {embedding_model!r} and {dim}"
                    )
                return
            created = Collection(int(row[0]), embedding_model, dim)
            conn.execute(
                sql.SQL(
                    "CREATE INDEX {} ON rag_chunks USING hnsw ((embedding::{}) vector_cosine_ops) "
                    "WHERE collection_id = {}"
                ).format(created.hnsw_index, created.vector_type, sql.Literal(created.id))
            )

    def get_collection(self, ref: CollectionRef) -> CollectionInfo | None:
        rows = self._connection().execute(
            COLLECTION_INFO + " AND c.name = %s GROUP BY c.id", (ref.tenant, ref.name)
        )
        return next((collection_info(row) for row in rows), None)

    def list_collections(self, tenant: str) -> list[CollectionInfo]:
        check_name("tenant", tenant)
        rows = self._connection().execute(
            COLLECTION_INFO + " GROUP BY c.id ORDER BY c.name", (tenant,)
        )
        return [collection_info(row) for row in rows]

    def drop_collection(self, ref: CollectionRef) -> bool:
        with self._transaction() as conn:
            row = conn.execute(
                "DELETE FROM rag_collections WHERE tenant = %s AND name = %s RETURNING id, dim",
                (ref.tenant, ref.name),
            ).fetchone()
            if row is None:
                return False
            dropped = Collection(int(row[0]), "", int(row[1]))
            conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(dropped.hnsw_index))
        return True

    # -- documents ---------------------------------------------------------------------

    def document_hashes(self, ref: CollectionRef) -> dict[str, str]:
        rows = self._connection().execute(
            f"SELECT doc_id, content_hash FROM rag_documents WHERE collection_id = {COLLECTION_ID}",
            (ref.tenant, ref.name),
        )
        return {doc_id: content_hash for doc_id, content_hash in rows}

    def upsert_document(
        self, ref: CollectionRef, document: Document, chunks: Sequence[Chunk], vectors: Vectors
    ) -> None:
        chunks = list(chunks)
        metadata = check_document(document, chunks)
        with self._transaction() as conn:
            collection = lock_for_write(conn, ref)
            if collection is None:
                raise ValueError(f"collection {ref} does not exist")
            matrix = normalized_rows(vectors, len(chunks), collection.dim)
            conn.execute(
                "DELETE FROM rag_chunks WHERE collection_id = %s AND doc_id = %s",
                (collection.id, document.id),
            )
            conn.execute(
                """INSERT INTO rag_documents (collection_id, doc_id, title, source, metadata,
                                              content_hash, chunk_count)
                   VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s)
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
            with conn.cursor() as cursor:
                cursor.executemany(
                    """INSERT INTO rag_chunks (collection_id, doc_id, idx, text, heading_path,
                                               start_char, end_char, token_count, embedding, tsv)
                       VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s,
                               to_tsvector('english', %s))""",
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
                            row,
                            chunk_embedding_text(chunk, document.title),
                        )
                        for chunk, row in zip(chunks, matrix, strict=True)
                    ],
                )

    def delete_documents(self, ref: CollectionRef, document_ids: Sequence[str]) -> int:
        ids = list(dict.fromkeys(document_ids))
        if not ids:
            return 0
        with self._transaction() as conn:
            collection = lock_for_write(conn, ref)  # first, as upserts do: no deadlock
            if collection is None:
                return 0
            return conn.execute(
                "DELETE FROM rag_documents WHERE collection_id = %s AND doc_id = ANY(%s)",
                (collection.id, ids),
            ).rowcount

    # -- search ------------------------------------------------------------------------

    def keyword_search(
        self, ref: CollectionRef, query: str, k: int, filters: Filters | None = None
    ) -> list[Ranked]:
        """``ts_rank_cd`` over an OR of the query words (not BM25: see the module docstring)."""
        check_k(k)
        clauses = check_filters(filters)
        terms = query_terms(query)
        if not terms:
            return []
        where, params = filter_sql(clauses)
        tsquery = sql.SQL(" || ").join(
            sql.SQL("plainto_tsquery('english', {})").format(sql.Placeholder()) for _ in terms
        )
        statement = sql.SQL(
            """WITH q AS (SELECT {tsquery} AS query)
               SELECT c.doc_id, c.idx, ts_rank_cd(c.tsv, q.query) AS score
               FROM q JOIN rag_chunks c ON c.tsv @@ q.query
               WHERE c.collection_id = {collection_id} {where}
               ORDER BY score DESC, c.id LIMIT %s"""
        ).format(tsquery=tsquery, collection_id=sql.SQL(COLLECTION_ID), where=where)
        rows = (
            self._connection()
            .execute(statement, (*terms, ref.tenant, ref.name, *params, k))
            .fetchall()
        )
        return ranked(rows)

    def vector_search(
        self, ref: CollectionRef, vector: Vectors, k: int, filters: Filters | None = None
    ) -> list[Ranked]:
        check_k(k)
        clauses = check_filters(filters)
        where, params = filter_sql(clauses)
        with self._transaction() as conn:
            collection = lookup(conn, ref)
            if collection is None:
                return []
            query = normalized_query(vector, collection.dim)
            conn.execute(
                """SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true),
                          set_config('hnsw.ef_search', %s, true)""",
                (str(min(1000, max(self._ef_search, k))),),
            )
            statement = sql.SQL(NEAREST).format(
                vector=collection.vector_type,
                collection_id=sql.Literal(collection.id),  # a literal, to match the partial index
                where=where,
            )
            rows = conn.execute(statement, (query, *params, k)).fetchall()
            if clauses and len(rows) < k:
                conn.execute("SET LOCAL enable_indexscan = off")
                rows = conn.execute(statement, (query, *params, k)).fetchall()
        return ranked(rows)

    def get_chunks(self, ref: CollectionRef, chunk_ids: Sequence[str]) -> list[StoredChunk]:
        wanted = [parsed for parsed in map(parse_chunk_id, chunk_ids) if parsed is not None]
        if not wanted:
            return []
        unique = list(set(wanted))
        rows = self._connection().execute(
            f"""SELECT c.doc_id, c.idx, c.text, c.heading_path, c.start_char, c.end_char,
                       c.token_count, d.title, d.source, d.metadata
                FROM unnest(%s::text[], %s::integer[]) AS w (doc_id, idx)
                JOIN rag_chunks c ON c.collection_id = {COLLECTION_ID}
                                 AND c.doc_id = w.doc_id AND c.idx = w.idx
                JOIN rag_documents d
                  ON d.collection_id = c.collection_id AND d.doc_id = c.doc_id""",
            ([doc for doc, _ in unique], [idx for _, idx in unique], ref.tenant, ref.name),
        )
        found = {(row[0], row[1]): stored_chunk(row) for row in rows}
        return [found[key] for key in wanted if key in found]

    def get_vectors(self, ref: CollectionRef, chunk_ids: Sequence[str]) -> Vectors:
        wanted = list({parsed for parsed in map(parse_chunk_id, chunk_ids) if parsed is not None})
        with self._transaction() as conn:
            collection = lookup(conn, ref)
            if collection is None:
                return vectors_in_order(chunk_ids, {}, 0)
            rows = conn.execute(
                """SELECT c.doc_id, c.idx, c.embedding::real[]
                   FROM unnest(%s::text[], %s::integer[]) AS w (doc_id, idx)
                   JOIN rag_chunks c ON c.collection_id = %s
                                    AND c.doc_id = w.doc_id AND c.idx = w.idx""",
                ([doc for doc, _ in wanted], [idx for _, idx in wanted], collection.id),
            ).fetchall()
        found = {(doc, idx): np.asarray(values, dtype=np.float32) for doc, idx, values in rows}
        return vectors_in_order(chunk_ids, found, collection.dim)

    # -- maintenance -------------------------------------------------------------------

    def check_integrity(self) -> list[str]:
        """Problems found in the whole database (empty when consistent): documents without
        their full chunk set, vectors of the wrong dim, collections without their HNSW index."""
        with self._transaction() as conn:
            problems = [
                f"document {doc_id!r} of collection {cid} has {n} chunks, expected {expected}"
                for cid, doc_id, n, expected in conn.execute(
                    """SELECT d.collection_id, d.doc_id, count(c.id), d.chunk_count
                       FROM rag_documents d
                       LEFT JOIN rag_chunks c
                         ON c.collection_id = d.collection_id AND c.doc_id = d.doc_id
                       GROUP BY d.collection_id, d.doc_id
                       HAVING count(c.id) != d.chunk_count"""
                )
            ]
            problems += [
                f"chunk {row[0]} has a vector of the wrong dim"
                for row in conn.execute(
                    """SELECT c.id FROM rag_chunks c JOIN rag_collections k
                         ON k.id = c.collection_id WHERE vector_dims(c.embedding) != k.dim"""
                )
            ]
            problems += [
                f"collection {row[0]} has no HNSW index"
                for row in conn.execute(
                    """SELECT k.id FROM rag_collections k WHERE NOT EXISTS (
                           SELECT 1 FROM pg_indexes i WHERE i.tablename = 'rag_chunks'
                           AND i.indexname = 'rag_chunks_hnsw_' || k.id)"""
                )
            ]
        return problems

    def close(self) -> None:
        self._connections.close()

    # -- internals ---------------------------------------------------------------------

    def _connection(self) -> Connection:
        """This thread's connection (closed when the thread ends; reopened if it broke)."""
        conn = self._connections.get()
        if conn.closed:
            self._connections.discard()
            conn = self._connections.get()
        return conn

    def _open_connection(self) -> Connection:
        conn = psycopg.connect(self._dsn, autocommit=True)
        register_vector(conn)
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One transaction: committed if the block returns, rolled back if it raises."""
        conn = self._connection()
        with conn.transaction():
            yield conn
