"""The response cache in one SQLite file (WAL), the default for a single process.

Entries are rows keyed by (scope, exact key); the query vector is a float32 blob. For
semantic lookup each scope's vectors are loaded once into a ``ScopeVectors`` matrix, on
the first lookup in that scope, and kept in step by this store's own writes, so a lookup
costs one matrix-vector product and reads only the rows it returns.

Several processes may share the file (exact lookups, writes and invalidation are always
current), but a process's matrices do not see vectors another process added or removed
after they were loaded: its semantic lookups miss those entries until it restarts, and a
vector removed elsewhere is skipped when its row is found gone. Several replicas that
should share semantic hits use the Redis store.

The file is opened through ``SQLiteFile``: its errors name it; it is not critical (the
response cache treats a failing store as a miss).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path

from switchboard.cache.store import (
    SCOPES_IN_MEMORY,
    Candidate,
    Entry,
    ScopeVectors,
    Vector,
    vector_bytes,
    vector_from_bytes,
)
from switchboard.cache.types import CachedAnswer, CacheScope
from switchboard.sqlite_file import SQLiteFile

RECOVERY = "delete it or move it away: the cache starts empty and refills"

SCHEMA = """
CREATE TABLE IF NOT EXISTS cache_entries (
    scope TEXT NOT NULL,
    exact TEXT NOT NULL,
    tenant TEXT NOT NULL,
    query TEXT NOT NULL,
    answer TEXT NOT NULL,
    extra TEXT NOT NULL,
    vector BLOB,
    created REAL NOT NULL,
    used REAL NOT NULL,
    PRIMARY KEY (scope, exact)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cache_entries_lru ON cache_entries (scope, used);
CREATE INDEX IF NOT EXISTS cache_entries_age ON cache_entries (scope, created);
CREATE INDEX IF NOT EXISTS cache_entries_tenant ON cache_entries (tenant);
"""


class SQLiteCacheStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = SQLiteFile(path, "cache", RECOVERY, critical=False)
        self._db = self.file.connect()
        with self.file.opening():
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(SCHEMA)
            self.file.quick_check(self._db)
        self._lock = threading.Lock()
        self._vectors: OrderedDict[str, ScopeVectors] = OrderedDict()  # least recent first

    @property
    def location(self) -> str:
        return str(self.file.path)

    def get(self, scope: CacheScope, exact: str, *, now: float, ttl_s: float) -> Entry | None:
        with self._lock:
            entry = self._read(scope, exact)
            if entry is None:
                return None
            if now - entry.created >= ttl_s:
                self._delete(scope, [exact])
                return None
            self._db.execute(
                "UPDATE cache_entries SET used = ? WHERE scope = ? AND exact = ?",
                (now, scope.key, exact),
            )
            return entry

    def nearest(
        self, scope: CacheScope, vector: Vector, k: int, *, floor: float, now: float, ttl_s: float
    ) -> list[Candidate]:
        with self._lock:
            found = self._matrix(scope, len(vector)).nearest(vector, k, now - ttl_s, floor)
            entries = self._read_many(scope, [exact for exact, _ in found])
            out = []
            for exact, similarity in found:
                entry = entries.get(exact)
                if entry is None:  # removed by another process
                    self._vectors[scope.key].remove(exact)
                    continue
                out.append(Candidate(entry, similarity))
            return out

    def touch(self, scope: CacheScope, exact: str, *, now: float) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE cache_entries SET used = ? WHERE scope = ? AND exact = ?",
                (now, scope.key, exact),
            )

    def put(
        self,
        scope: CacheScope,
        entry: Entry,
        vector: Vector | None,
        *,
        ttl_s: float,
        max_entries: int,
    ) -> None:
        answer = entry.answer
        row = (
            scope.key, entry.exact, scope.tenant, entry.query, answer.text,
            json.dumps(answer.extra), None if vector is None else vector_bytes(vector),
            entry.created, entry.created,
        )  # fmt: skip
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO cache_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row
                )
                dropped = self._evict(scope, entry.created - ttl_s, max_entries)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            matrix = self._vectors.get(scope.key)
            if matrix is not None and vector is not None and len(vector) != matrix.dim:
                del self._vectors[scope.key]  # another embedding model: reloaded when used
            elif matrix is not None:
                for exact in dropped:
                    matrix.remove(exact)
                if vector is None:
                    matrix.remove(entry.exact)
                else:
                    matrix.upsert(entry.exact, vector, entry.created)

    def invalidate(self, tenant: str | None) -> int:
        with self._lock:
            if tenant is None:
                cursor = self._db.execute("DELETE FROM cache_entries")
                self._vectors.clear()
            else:
                cursor = self._db.execute("DELETE FROM cache_entries WHERE tenant = ?", (tenant,))
                for key in [k for k in self._vectors if k.split("\x1f", 1)[0] == tenant]:
                    del self._vectors[key]
            return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _read(self, scope: CacheScope, exact: str) -> Entry | None:
        row = self._db.execute(
            "SELECT query, answer, extra, created FROM cache_entries WHERE scope = ? AND exact = ?",
            (scope.key, exact),
        ).fetchone()
        if row is None:
            return None
        query, text, extra, created = row
        return Entry(exact, query, CachedAnswer(text, json.loads(extra)), created)

    def _read_many(self, scope: CacheScope, exacts: list[str]) -> dict[str, Entry]:
        if not exacts:
            return {}
        marks = ", ".join("?" * len(exacts))
        rows = self._db.execute(
            "SELECT exact, query, answer, extra, created FROM cache_entries"
            f" WHERE scope = ? AND exact IN ({marks})",
            (scope.key, *exacts),
        )
        return {
            exact: Entry(exact, query, CachedAnswer(text, json.loads(extra)), created)
            for exact, query, text, extra, created in rows
        }

    def _evict(self, scope: CacheScope, born_before: float, max_entries: int) -> list[str]:
        """Expired entries, then the least recently used beyond ``max_entries``."""
        expired = self._db.execute(
            "DELETE FROM cache_entries WHERE scope = ? AND created <= ? RETURNING exact",
            (scope.key, born_before),
        ).fetchall()
        surplus = self._db.execute(
            "DELETE FROM cache_entries WHERE scope = ? AND exact IN ("
            " SELECT exact FROM cache_entries WHERE scope = ? ORDER BY used DESC"
            " LIMIT -1 OFFSET ?) RETURNING exact",
            (scope.key, scope.key, max_entries),
        ).fetchall()
        return [exact for (exact,) in [*expired, *surplus]]

    def _delete(self, scope: CacheScope, exacts: list[str]) -> None:
        self._db.executemany(
            "DELETE FROM cache_entries WHERE scope = ? AND exact = ?",
            [(scope.key, e) for e in exacts],
        )
        matrix = self._vectors.get(scope.key)
        if matrix is not None:
            for exact in exacts:
                matrix.remove(exact)

    def _matrix(self, scope: CacheScope, dim: int) -> ScopeVectors:
        matrix = self._vectors.get(scope.key)
        if matrix is None or matrix.dim != dim:
            matrix = ScopeVectors(dim)
            rows = self._db.execute(
                "SELECT exact, vector, created FROM cache_entries"
                " WHERE scope = ? AND vector IS NOT NULL",
                (scope.key,),
            )
            for exact, blob, created in rows:
                if matrix.accepts(blob):
                    matrix.upsert(exact, vector_from_bytes(blob), created)
            self._vectors[scope.key] = matrix
            while len(self._vectors) > SCOPES_IN_MEMORY:  # reloaded from the file if needed
                self._vectors.popitem(last=False)
        self._vectors.move_to_end(scope.key)
        return matrix
