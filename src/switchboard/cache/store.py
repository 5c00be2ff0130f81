"""What a response-cache store does (``CacheStore``), the entry it keeps, and the
in-memory matrix of one scope's query vectors that both stores search.

A store is policy-free: the caller (``ResponseCache``) passes the time and the TTL and
size bound on every call, so both stores behave the same under a fake clock. An entry is
live while ``now - created < ttl_s``; "recency" (for LRU eviction) is the last time it was
read or written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from switchboard.cache.types import CachedAnswer, CacheScope

Vector = npt.NDArray[np.float32]

SCOPES_IN_MEMORY = 256
"""Scopes whose vectors a store keeps in memory; the least recently searched go first
(they are read again from the file or Redis when searched again)."""


@dataclass(frozen=True, slots=True)
class Entry:
    exact: str  # the exact key: unique within a scope
    query: str  # the text that was embedded (the customer's last message)
    answer: CachedAnswer
    created: float


@dataclass(frozen=True, slots=True)
class Candidate:
    entry: Entry
    similarity: float


class CacheStore(Protocol):
    """Thread-safe; every method that reads entries returns live ones only."""

    @property
    def location(self) -> str:
        """Where the entries are (a file's path, a server's URL without its password)."""
        ...

    def get(self, scope: CacheScope, exact: str, *, now: float, ttl_s: float) -> Entry | None:
        """The live entry under ``exact``; a hit refreshes its recency."""
        ...

    def nearest(
        self, scope: CacheScope, vector: Vector, k: int, *, floor: float, now: float, ttl_s: float
    ) -> list[Candidate]:
        """Up to ``k`` live entries with a vector and a cosine of at least ``floor``, most
        similar first."""
        ...

    def touch(self, scope: CacheScope, exact: str, *, now: float) -> None:
        """Refresh an entry's recency (a semantic hit was served from it)."""
        ...

    def put(
        self,
        scope: CacheScope,
        entry: Entry,
        vector: Vector | None,
        *,
        ttl_s: float,
        max_entries: int,
    ) -> None:
        """Insert or replace; then drop the scope's expired and least recently used
        entries beyond ``max_entries``."""
        ...

    def invalidate(self, tenant: str | None) -> int:
        """Drop every entry (``None``) or one tenant's; returns how many were dropped."""
        ...

    def close(self) -> None: ...


class ScopeVectors:
    """One scope's query vectors as a matrix, for brute-force cosine search.

    Rows are unit vectors, so a matrix-vector product gives the cosines. Appends grow the
    matrix by doubling; a removal moves the last row into the gap. Not thread-safe: the
    owning store holds its lock around every call.
    """

    def __init__(self, dim: int, capacity: int = 64) -> None:
        self._matrix = np.zeros((capacity, dim), dtype=np.float32)
        self._created = np.zeros(capacity, dtype=np.float64)
        self._keys: list[str] = []
        self._rows: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def dim(self) -> int:
        return int(self._matrix.shape[1])

    def accepts(self, blob: bytes) -> bool:
        """Whether a stored vector has this matrix's dimension (another embedding model's
        vectors are skipped, not mixed in)."""
        return len(blob) == 4 * self.dim

    def upsert(self, key: str, vector: Vector, created: float) -> None:
        row = self._rows.get(key)
        if row is None:
            row = len(self._keys)
            self._grow(row + 1)
            self._keys.append(key)
            self._rows[key] = row
        self._matrix[row] = vector
        self._created[row] = created

    def remove(self, key: str) -> None:
        row = self._rows.pop(key, None)
        if row is None:
            return
        last = len(self._keys) - 1
        if row != last:
            moved = self._keys[last]
            self._matrix[row] = self._matrix[last]
            self._created[row] = self._created[last]
            self._keys[row] = moved
            self._rows[moved] = row
        self._keys.pop()

    def nearest(
        self, vector: Vector, k: int, born_after: float, floor: float = -1.0
    ) -> list[tuple[str, float]]:
        """Keys of the ``k`` most similar rows created after ``born_after`` with a cosine
        of at least ``floor``, best first."""
        n = len(self._keys)
        if n == 0 or k < 1:
            return []
        scores = self._matrix[:n] @ vector.astype(np.float32)
        scores[(self._created[:n] <= born_after) | (scores < floor)] = -np.inf
        top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
        ranked = top[np.argsort(-scores[top], kind="stable")]
        return [(self._keys[i], float(scores[i])) for i in ranked if np.isfinite(scores[i])]

    def _grow(self, size: int) -> None:
        capacity = len(self._created)
        if size <= capacity:
            return
        while capacity < size:
            capacity *= 2
        matrix = np.zeros((capacity, self._matrix.shape[1]), dtype=np.float32)
        matrix[: len(self._keys)] = self._matrix[: len(self._keys)]
        created = np.zeros(capacity, dtype=np.float64)
        created[: len(self._keys)] = self._created[: len(self._keys)]
        self._matrix, self._created = matrix, created


def vector_bytes(vector: Vector) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def vector_from_bytes(blob: bytes) -> Vector:
    return np.frombuffer(blob, dtype=np.float32).copy()
