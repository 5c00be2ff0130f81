"""The approximate index on its own: parameters, candidates, advancing by changes, and
the editable float32 rows kept beside it."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from switchboard.rag.store.ann_index import AnnIndex, AnnParams, Changes, Keys, Matrix
from switchboard.rag.store.vector_index import VectorRows

pytestmark = pytest.mark.unit

DIM = 16


def unit(matrix: npt.NDArray[np.float64]) -> Matrix:
    return (matrix / np.linalg.norm(matrix, axis=-1, keepdims=True)).astype(np.float32)


def keys(*values: int) -> Keys:
    return np.array(values, dtype=np.int64)


@pytest.fixture
def vectors() -> Matrix:
    return unit(np.random.default_rng(0).standard_normal((200, DIM)))


def test_params_must_be_positive_and_give_candidates() -> None:
    assert AnnParams().candidates(10) == 32
    assert AnnParams().candidates(100) == 200
    with pytest.raises(ValueError, match="connectivity"):
        AnnParams(connectivity=0)


def test_search_proposes_the_nearest_keys(vectors: Matrix) -> None:
    index = AnnIndex.build(AnnParams(batch=64), 7, np.arange(200, dtype=np.int64) + 1000, vectors)
    assert (len(index), index.version) == (200, 7)
    for row in (0, 99, 199):
        assert index.search(vectors[row], 5)[0] == 1000 + row


def test_advance_applies_changes_once_and_only_forward(vectors: Matrix) -> None:
    index = AnnIndex.build(AnnParams(), 1, keys(1, 2, 3), vectors[:3])
    seen: list[int] = []

    def changes(since: int) -> Changes:
        seen.append(since)  # key 2 replaced by vector 10, key 3 removed, key 4 added
        return Changes(keys(2, 3, 4), keys(2, 4), vectors[[10, 11]])

    assert index.advance(3, changes)
    assert index.advance(2, changes)  # already past it: nothing asked
    assert (seen, index.version, len(index)) == ([1], 3, 3)
    assert index.search(vectors[10], 1).tolist() == [2]
    assert 3 not in index.search(vectors[2], 3).tolist()


def test_advance_reports_changes_it_cannot_get(vectors: Matrix) -> None:
    index = AnnIndex.build(AnnParams(), 1, keys(1), vectors[:1])
    assert not index.advance(2, lambda since: None)
    assert index.version == 1


def test_vector_rows_reuse_slots_and_give_exact_subsets(vectors: Matrix) -> None:
    rows = VectorRows(keys(1, 2), vectors[:2])
    rows.remove([1, 7])
    rows.put(keys(3, 4, 2), vectors[[3, 4, 5]])  # 3 takes 1's slot, then the matrix grows
    assert len(rows) == 3
    subset = rows.subset([2, 3, 4, 1])
    assert len(subset) == 3
    assert subset.search(vectors[5], 1)[0][0] == 2  # 2 was replaced by vector 5
    assert subset.search(vectors[3], 1)[0][0] == 3
    rows.remove([3])
    rows.put(keys(5), vectors[[6]])  # takes 3's slot; the subset handed out is a copy
    assert subset.search(vectors[3], 1)[0][0] == 3
    assert rows.subset([5]).search(vectors[6], 1)[0][0] == 5
