"""The SQLite store's vector search: which path answers, and the cached indexes it reads.

``VectorCache.search`` takes one of three paths, all exact in their scores:

- below ``ann_min_chunks`` chunks: an in-memory ``ExactIndex``, a cache rebuilt from the
  chunk BLOBs whenever the collection's ``version`` differs from the one it was built at
  (one matrix product per query: fast and perfect at this size);
- from ``ann_min_chunks`` chunks: an ``AnnIndex`` (HNSW over int8 vectors) proposes
  ``candidates(k)`` rows, which are re-scored with their float32 BLOBs in the query's own
  snapshot. The index is kept up to date incrementally from the ``chunk_changes`` log
  (``sqlite_schema``): a stale index applies the rows logged after its version (re-read
  from ``chunks``), or is rebuilt when the log no longer reaches back that far
  (``collections.logged_since``). An index falls back to exact search when it shrinks
  below half of ``ann_min_chunks``, so a collection at the threshold does not flap;
- with metadata filters: the allowed rows are computed by SQL (documents filtered first,
  then their chunks) and searched exactly, so up to ``k`` matches always come back, at a
  cost proportional to the allowed count: in the cached ``ExactIndex``, or in the float32
  rows an ``AnnIndex`` keeps beside its graph; with neither cached, their vectors are read
  with the filter query (a filtered query builds no index).

The store runs the version check, the index refresh and every query of one search in one
read transaction, so they see the same snapshot; a shared ``AnnIndex`` may already be ahead
of that snapshot (another thread refreshed it), and then rows newer than the snapshot are
dropped at re-scoring. Writes by other processes are seen through ``version`` as well.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from switchboard.rag.store.ann_index import AnnIndex, AnnParams, Changes, Keys
from switchboard.rag.store.base import Vectors
from switchboard.rag.store.inputs import FilterClause, chunk_id
from switchboard.rag.store.sqlite_queries import filter_sql
from switchboard.rag.store.sqlite_schema import Collection
from switchboard.rag.store.vector_index import ExactIndex

Hit = tuple[str, float]
"""A chunk id and its cosine similarity to the query."""
_Row = tuple[int, str, int, bytes]
"""A chunk's row id, document id, index and float32 BLOB."""


@dataclass(frozen=True)
class _CachedIndex:
    version: int
    index: ExactIndex
    chunk_ids: dict[int, str]


class VectorCache:
    """One cached index per collection, exact or approximate, shared by the store's threads.

    ``ann_min_chunks``: collections with at least this many chunks answer unfiltered
    searches from an ``AnnIndex`` built with ``ann_params``, smaller ones exactly.
    """

    def __init__(self, ann_min_chunks: int, ann_params: AnnParams) -> None:
        self._ann_min_chunks = ann_min_chunks
        self._ann_params = ann_params
        self._lock = threading.Lock()
        self._indexes: dict[int, _CachedIndex | AnnIndex] = {}
        self._build_locks: dict[int, threading.Lock] = {}

    def search(
        self,
        conn: sqlite3.Connection,
        collection: Collection,
        query: Vectors,
        k: int,
        clauses: list[FilterClause],
    ) -> list[Hit]:
        """The ``k`` chunks nearest the unit vector ``query`` among those the filter allows,
        best first, read in ``conn``'s open transaction."""
        if clauses:
            return self._filtered_nearest(conn, collection, clauses, query, k)
        return self._nearest(conn, collection, query, k)

    def forget(self, collection_id: int) -> None:
        """Drop a collection's index (the collection was dropped)."""
        with self._lock:
            self._indexes.pop(collection_id, None)
            self._build_locks.pop(collection_id, None)

    def clear(self) -> None:
        with self._lock:
            self._indexes.clear()

    def _nearest(
        self, conn: sqlite3.Connection, collection: Collection, query: Vectors, k: int
    ) -> list[Hit]:
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
        collection: Collection,
        clauses: list[FilterClause],
        query: Vectors,
        k: int,
    ) -> list[Hit]:
        where, params = filter_sql(clauses)
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
        self, conn: sqlite3.Connection, collection: Collection
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
        self, conn: sqlite3.Connection, collection: Collection
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
        self, conn: sqlite3.Connection, collection: Collection
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


def _changes_since(conn: sqlite3.Connection, collection: Collection, since: int) -> Changes | None:
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


def _rows_by_id(conn: sqlite3.Connection, collection: Collection, ids: Keys) -> list[_Row]:
    """The collection's rows among ``ids`` (ids no longer there are left out)."""
    return conn.execute(
        """SELECT c.id, c.doc_id, c.idx, c.embedding
           FROM json_each(?) w CROSS JOIN chunks c ON c.id = w.value
           WHERE c.collection_id = ?""",
        (json.dumps(ids.tolist()), collection.id),
    ).fetchall()


def _filtered_rows(
    conn: sqlite3.Connection, collection: Collection, where: str, params: list[Any]
) -> list[_Row]:
    """The collection's rows that pass the ``filter_sql`` conditions, in row id order
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


def _exact_hits(rows: list[_Row], query: Vectors, k: int) -> list[Hit]:
    """The ``k`` rows nearest ``query`` by their float32 vectors, best first."""
    keys, matrix = _keys_and_matrix(rows, int(query.shape[0]))
    names = {row[0]: chunk_id(row[1], row[2]) for row in rows}
    return [(names[key], score) for key, score in ExactIndex(keys, matrix).search(query, k)]
