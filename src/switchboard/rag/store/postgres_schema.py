"""The PostgreSQL store's tables, fixed SQL and row helpers (the store is ``postgres``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from switchboard.rag.store.inputs import FilterClause, chunk_id
from switchboard.rag.types import (
    Chunk,
    CollectionInfo,
    CollectionRef,
    Ranked,
    StoredChunk,
)

Connection = psycopg.Connection[tuple[Any, ...]]

MAX_HNSW_DIM = 2000
"""pgvector's HNSW indexes ``vector`` columns of at most 2000 dimensions."""

SCHEMA_LOCK = 0x5B_7A61_0001  # pg_advisory_xact_lock key: one process creates the schema
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS rag_collections (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant text NOT NULL,
        name text NOT NULL,
        embedding_model text NOT NULL,
        dim integer NOT NULL CHECK (dim BETWEEN 1 AND 2000),
        version bigint NOT NULL DEFAULT 0,
        UNIQUE (tenant, name))""",
    """CREATE TABLE IF NOT EXISTS rag_documents (
        collection_id bigint NOT NULL REFERENCES rag_collections (id) ON DELETE CASCADE,
        doc_id text NOT NULL,
        title text NOT NULL,
        source text NOT NULL,
        metadata jsonb NOT NULL,
        content_hash text NOT NULL,
        chunk_count integer NOT NULL,
        PRIMARY KEY (collection_id, doc_id))""",
    """CREATE INDEX IF NOT EXISTS rag_documents_metadata
        ON rag_documents USING gin (metadata jsonb_path_ops)""",
    """CREATE TABLE IF NOT EXISTS rag_chunks (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        collection_id bigint NOT NULL,
        doc_id text NOT NULL,
        idx integer NOT NULL,
        text text NOT NULL,
        heading_path jsonb NOT NULL,
        start_char integer NOT NULL,
        end_char integer NOT NULL,
        token_count integer NOT NULL,
        embedding vector NOT NULL,
        tsv tsvector NOT NULL,
        UNIQUE (collection_id, doc_id, idx),
        FOREIGN KEY (collection_id, doc_id)
            REFERENCES rag_documents (collection_id, doc_id) ON DELETE CASCADE)""",
    "CREATE INDEX IF NOT EXISTS rag_chunks_tsv ON rag_chunks USING gin (tsv)",
)
COLLECTION_ID = "(SELECT id FROM rag_collections WHERE tenant = %s AND name = %s)"
COLLECTION_INFO = """
    SELECT c.tenant, c.name, c.embedding_model, c.dim, count(d.doc_id),
           coalesce(sum(d.chunk_count), 0)
    FROM rag_collections c LEFT JOIN rag_documents d ON d.collection_id = c.id
    WHERE c.tenant = %s"""
NEAREST = """
    WITH nearest AS MATERIALIZED (
        SELECT c.id, c.doc_id, c.idx, (c.embedding::{vector}) <=> %s::{vector} AS distance
        FROM rag_chunks c
        WHERE c.collection_id = {collection_id} {where}
        ORDER BY distance
        LIMIT %s)
    SELECT doc_id, idx, 1 - distance FROM nearest ORDER BY distance, id"""


@dataclass(frozen=True)
class Collection:
    id: int
    embedding_model: str
    dim: int

    @property
    def hnsw_index(self) -> sql.Identifier:
        return sql.Identifier(f"rag_chunks_hnsw_{int(self.id)}")

    @property
    def vector_type(self) -> sql.Composed:
        return sql.SQL("vector({})").format(sql.Literal(int(self.dim)))


def lookup(conn: Connection, ref: CollectionRef) -> Collection | None:
    row = conn.execute(
        "SELECT id, embedding_model, dim FROM rag_collections WHERE tenant = %s AND name = %s",
        (ref.tenant, ref.name),
    ).fetchone()
    return None if row is None else Collection(int(row[0]), row[1], int(row[2]))


def require(conn: Connection, ref: CollectionRef) -> Collection:
    collection = lookup(conn, ref)
    if collection is None:
        raise ValueError(f"collection {ref} does not exist")
    return collection


def lock_for_write(conn: Connection, ref: CollectionRef) -> Collection | None:
    """Bump the collection's version, which also row-locks it until the transaction ends."""
    row = conn.execute(
        """UPDATE rag_collections SET version = version + 1 WHERE tenant = %s AND name = %s
           RETURNING id, embedding_model, dim""",
        (ref.tenant, ref.name),
    ).fetchone()
    return None if row is None else Collection(int(row[0]), row[1], int(row[2]))


def filter_sql(clauses: list[FilterClause]) -> tuple[sql.Composable, list[Any]]:
    """``AND EXISTS (...)`` on the chunk's document metadata, one bound ``@>`` per value.

    jsonb containment is typed like the SQLite store's test: ``true`` never matches ``1``,
    ``"1"`` never matches ``1``, and ``1`` matches ``1.0``.
    """
    if not clauses:
        return sql.SQL(""), []
    conditions, params = [], []
    for clause in clauses:
        options = ["d.metadata @> %s::jsonb"] * len(clause.values)
        conditions.append("(" + " OR ".join(options) + ")")
        params += [json.dumps({clause.key: value}) for value in clause.values]
    where = sql.SQL(
        " AND EXISTS (SELECT 1 FROM rag_documents d WHERE d.collection_id = c.collection_id"
        " AND d.doc_id = c.doc_id AND " + " AND ".join(conditions) + ")"
    )
    return where, params


def ranked(rows: list[tuple[Any, ...]]) -> list[Ranked]:
    return [
        Ranked(chunk_id(doc_id, idx), float(score), rank)
        for rank, (doc_id, idx, score) in enumerate(rows, start=1)
    ]


def collection_info(row: tuple[Any, ...]) -> CollectionInfo:
    tenant, name, model, dim, documents, chunks = row
    return CollectionInfo(CollectionRef(tenant, name), model, dim, int(documents), int(chunks))


def stored_chunk(row: tuple[Any, ...]) -> StoredChunk:
    doc_id, idx, text, heading_path, start, end, token_count, title, source, metadata = row
    chunk = Chunk(doc_id, idx, text, start, end, token_count, tuple(heading_path))
    return StoredChunk(chunk, title, source, metadata)
