"""An exact in-memory nearest-neighbour index over unit vectors.

It is only a cache: a store builds it from its system of record and throws it away when that
changes. Rows are identified by integer ``keys`` chosen by the caller (the SQLite store uses
chunk row ids), so an approximate index (HNSW) could replace it behind the same ``search``.
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
