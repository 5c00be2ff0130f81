"""The SQLite store's tables and the SQL that reads, writes and checks them row by row.

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
- ``chunk_changes``: every write logs the chunk row ids it removes or adds, at the version it
  creates, so a vector index can be brought up to date (``sqlite_vectors``). It keeps the
  last ``change_log_versions`` versions of each collection; ``collections.logged_since`` is
  the version it is complete after.

Everything here runs on a connection inside a transaction the store opened.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from switchboard.rag.types import Chunk, CollectionInfo, CollectionRef, StoredChunk

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
COLLECTION_INFO = """
    SELECT c.tenant, c.name, c.embedding_model, c.dim,
           (SELECT count(*) FROM documents d WHERE d.collection_id = c.id),
           (SELECT coalesce(sum(d.chunk_count), 0) FROM documents d WHERE d.collection_id = c.id)
    FROM collections c WHERE c.tenant = ?"""
"""Every collection of a tenant (``?``) as ``collection_info`` decodes it."""
COLLECTION_ID = "(SELECT id FROM collections WHERE tenant = ? AND name = ?)"
"""A subquery for the id of the collection ``(tenant, name)``."""


@dataclass(frozen=True)
class Collection:
    """A ``collections`` row, as read in the current transaction."""

    id: int
    embedding_model: str
    dim: int
    version: int
    logged_since: int

    @property
    def fts(self) -> str:
        """The FTS5 table name: built from our own integer id, safe to put in SQL."""
        return f"fts_{int(self.id)}"


# -- schema ------------------------------------------------------------------------------


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the tables a new file lacks and upgrade an old file's."""
    for statement in _SCHEMA:
        conn.execute(statement)
    _add_logged_since(conn)


def _add_logged_since(conn: sqlite3.Connection) -> None:
    """Upgrade a file made before the change log: its log is complete from now on."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(collections)")}
    if "logged_since" not in columns:
        conn.execute("ALTER TABLE collections ADD COLUMN logged_since INTEGER NOT NULL DEFAULT 0")
        conn.execute("UPDATE collections SET logged_since = version")


def create_fts(conn: sqlite3.Connection, collection: Collection) -> None:
    """The new collection's contentless FTS5 table."""
    conn.execute(
        f"CREATE VIRTUAL TABLE {collection.fts} USING fts5"
        f"(text, content='', tokenize='{_TOKENIZER}')"
    )


# -- collections -------------------------------------------------------------------------


def lookup(conn: sqlite3.Connection, ref: CollectionRef) -> Collection | None:
    row = conn.execute(
        """SELECT id, embedding_model, dim, version, logged_since FROM collections
           WHERE tenant = ? AND name = ?""",
        (ref.tenant, ref.name),
    ).fetchone()
    return None if row is None else Collection(*row)


def require(conn: sqlite3.Connection, ref: CollectionRef) -> Collection:
    collection = lookup(conn, ref)
    if collection is None:
        raise ValueError(f"collection {ref} does not exist")
    return collection


def check_same_embedding(
    ref: CollectionRef, existing: Collection, embedding_model: str, dim: int
) -> None:
    if (existing.embedding_model, existing.dim) != (embedding_model, dim):
        raise ValueError(
            f"collection {ref} exists with model {existing.embedding_model!r} and dim "
            f"{existing.dim}, not {embedding_model!r} and {dim}"
        )


def collection_info(row: sqlite3.Row | tuple[Any, ...]) -> CollectionInfo:
    tenant, name, model, dim, documents, chunks = row
    return CollectionInfo(CollectionRef(tenant, name), model, dim, documents, chunks)


def stored_chunk(row: tuple[Any, ...]) -> StoredChunk:
    doc_id, idx, text, heading_path, start, end, token_count, title, source, metadata = row
    chunk = Chunk(doc_id, idx, text, start, end, token_count, tuple(json.loads(heading_path)))
    return StoredChunk(chunk, title, source, json.loads(metadata))


# -- writes and the change log -----------------------------------------------------------

_SELECTED = "collection_id = ? AND doc_id IN (SELECT value FROM json_each(?))"


def delete_chunks(conn: sqlite3.Connection, collection: Collection, doc_ids: list[str]) -> None:
    """Remove these documents' chunks from the FTS table (which needs their text) and chunks,
    logging their row ids as changed."""
    params = (collection.id, json.dumps(doc_ids))
    fts = collection.fts
    log_changes(conn, collection, doc_ids)
    conn.execute(
        f"INSERT INTO {fts} ({fts}, rowid, text) SELECT 'delete', id, search_text FROM chunks "
        f"WHERE {_SELECTED}",
        params,
    )
    conn.execute(f"DELETE FROM chunks WHERE {_SELECTED}", params)


def log_changes(conn: sqlite3.Connection, collection: Collection, doc_ids: list[str]) -> None:
    """Log these documents' current chunk rows as changed by the version being written."""
    conn.execute(
        f"""INSERT OR IGNORE INTO chunk_changes (collection_id, version, chunk_id)
            SELECT collection_id, ?, id FROM chunks WHERE {_SELECTED}""",
        (collection.version + 1, collection.id, json.dumps(doc_ids)),
    )


def bump_version(conn: sqlite3.Connection, collection: Collection, log_versions: int) -> None:
    """The write's new version; the change log keeps only the last ``log_versions``."""
    conn.execute(
        """UPDATE collections SET version = version + 1,
                                  logged_since = max(logged_since, version + 1 - ?)
           WHERE id = ?""",
        (log_versions, collection.id),
    )
    conn.execute(
        """DELETE FROM chunk_changes WHERE collection_id = ?
           AND version <= (SELECT logged_since FROM collections WHERE id = ?)""",
        (collection.id, collection.id),
    )


# -- integrity ---------------------------------------------------------------------------


def integrity_problems(conn: sqlite3.Connection) -> list[str]:
    """Every problem ``SQLiteStore.check_integrity`` reports (its docstring lists them)."""
    problems = [
        f"integrity_check: {row[0]}"
        for row in conn.execute("PRAGMA integrity_check")
        if row[0] != "ok"
    ]
    problems += [f"foreign_key_check: {row}" for row in conn.execute("PRAGMA foreign_key_check")]
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
