"""An exact in-memory nearest-neighbour index over unit vectors.

It is only a cache: a store builds it from its system of record and throws it away when that
changes. Rows are identified by integer ``keys`` chosen by the caller (the SQLite store uses
chunk row ids). The SQLite store searches with it where exact search is cheap and perfect:
collections under its ``ann_min_chunks``, the rows a metadata filter allows, and the
candidates its approximate index (``ann_index.AnnIndex``) proposes, re-scored exactly.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

BoolMask = npt.NDArray[np.bool_]


class ExactIndex:
    """Brute-force cosine search: one matrix product, then ``argpartition`` for the top k.

    ``vectors`` must be L2-normalized rows, so a dot product is the cosine similarity.
    The index never mutates its arrays, so one instance may be searched from many threads.
    """

    def __init__(self, keys: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> None:
        if vectors.ndim != 2 or keys.shape != (vectors.shape[0],):
            raise ValueError(f"need one key per row: keys {keys.shape}, vectors {vectors.shape}")
        self._keys = keys
        self._vectors = vectors

    @property
    def dim(self) -> int:
        return int(self._vectors.shape[1])

    def __len__(self) -> int:
        return int(self._keys.shape[0])

    def mask(self, keys: Iterable[int]) -> BoolMask:
        """A row mask that allows exactly the rows whose key is in ``keys``."""
        wanted = np.fromiter(keys, dtype=np.int64)
        return np.isin(self._keys, wanted)

    def search(
        self, vector: npt.NDArray[np.float32], k: int, allowed: BoolMask | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` best ``(key, similarity)`` pairs among the allowed rows, best first.

        Filtering happens before ranking, so up to ``k`` allowed rows are always returned;
        ties are broken by key for a stable order.
        """
        if allowed is not None and allowed.shape != self._keys.shape:
            raise ValueError(f"mask has shape {allowed.shape}, index has {len(self)} rows")
        rows = np.arange(len(self)) if allowed is None else np.flatnonzero(allowed)
        if k < 1 or rows.size == 0:
            return []
        scores = self._vectors[rows] @ vector if allowed is not None else self._vectors @ vector
        if k < rows.size:
            top = np.argpartition(-scores, k - 1)[:k]
            rows, scores = rows[top], scores[top]
        keys = self._keys[rows]
        order = np.lexsort((keys, -scores))
        return [(int(keys[i]), float(scores[i])) for i in order]


class VectorRows:
    """Float32 rows by key, edited in place: a removed row's slot goes to the next ``put``.

    It backs exact search beside an approximate index (the rows a filter allows). Not
    thread-safe: its owner serializes edits and reads.
    """

    def __init__(self, keys: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> None:
        if vectors.ndim != 2 or keys.shape != (vectors.shape[0],):
            raise ValueError(f"need one key per row: keys {keys.shape}, vectors {vectors.shape}")
        self._matrix = np.array(vectors, dtype=np.float32)
        self._slots = dict(zip(keys.tolist(), range(len(keys)), strict=True))
        self._free: list[int] = []

    def __len__(self) -> int:
        return len(self._slots)

    def remove(self, keys: Iterable[int]) -> None:
        for key in keys:
            slot = self._slots.pop(key, None)
            if slot is not None:
                self._free.append(slot)

    def put(self, keys: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> None:
        """Add or replace these rows, growing the matrix (by doubling) when no slot is free."""
        self.remove(keys.tolist())
        missing = len(keys) - len(self._free)
        if missing > 0:
            rows = len(self._matrix)
            grown = max(2 * rows, rows + missing)
            self._matrix = np.resize(self._matrix, (grown, self._matrix.shape[1]))
            self._free.extend(range(grown - 1, rows - 1, -1))
        for key, vector in zip(keys.tolist(), vectors, strict=True):
            slot = self._free.pop()
            self._matrix[slot] = vector
            self._slots[key] = slot

    def subset(self, keys: Iterable[int]) -> ExactIndex:
        """An ``ExactIndex`` of the rows of ``keys`` (keys not held are left out): a copy,
        so it may be searched after the rows change."""
        held = [key for key in keys if key in self._slots]
        slots = np.fromiter((self._slots[key] for key in held), dtype=np.int64, count=len(held))
        return ExactIndex(np.array(held, dtype=np.int64), self._matrix[slots])
