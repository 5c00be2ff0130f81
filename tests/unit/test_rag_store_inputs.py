"""The stores' pure parts: query-word extraction, input checks and the exact vector index."""

from __future__ import annotations

import numpy as np
import pytest

from switchboard.rag.store.inputs import (
    MAX_QUERY_TERMS,
    FilterClause,
    check_filters,
    fts5_query,
    normalized_query,
    normalized_rows,
    parse_chunk_id,
    query_terms,
)
from switchboard.rag.store.vector_index import ExactIndex

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("How do I reset my Zyxel modem?", ["reset", "zyxel", "modem"]),
        ('"dog* NEAR(cat) AND -fish', ["dog", "near", "cat", "fish"]),
        ("to be or not to be", ["to", "be", "or", "not"]),  # all stopwords: kept
        ("Cafe\u0301 crème, \uff24\uff2f\uff27_cat 42", ["café", "crème", "dog", "cat", "42"]),
        ("", []),
        ("🐶 !@#$%^&*() _", []),
    ],
)
def test_query_terms_keep_only_words(text: str, terms: list[str]) -> None:
    assert query_terms(text) == terms


def test_query_terms_are_capped_and_quoted() -> None:
    assert len(query_terms(" ".join(f"w{i}" for i in range(100)))) == MAX_QUERY_TERMS
    assert fts5_query(["dog", 'a"b']) == '"dog" OR "a""b"'


def test_check_filters_normalizes_and_refuses_bad_keys_and_values() -> None:
    assert check_filters({"lang": "en", "tier": [1, 2]}) == [
        FilterClause("lang", ("en",)),
        FilterClause("tier", (1, 2)),
    ]
    assert check_filters(None) == []
    for bad in [{"a.b": 1}, {"$": 1}, {"lang": []}, {"x": float("inf")}, {"x": 2**70}]:
        with pytest.raises(ValueError, match="filter"):
            check_filters(bad)


def test_parse_chunk_id_splits_on_the_last_hash() -> None:
    assert parse_chunk_id("faq#v2#3") == ("faq#v2", 3)
    for bad in ("faq", "#3", "faq#", "faq#-1", "faq#x", "faq#3.0", "faq#" + "9" * 20):
        assert parse_chunk_id(bad) is None


def test_vectors_are_checked_and_normalized() -> None:
    rows = normalized_rows(np.array([[3.0, 4.0], [0.0, 2.0]]), 2, 2)
    assert rows.dtype == np.float32
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 1.0]])
    np.testing.assert_allclose(normalized_query([[0.0, 5.0]], 2), [0.0, 1.0])
    with pytest.raises(ValueError, match="shape"):
        normalized_rows(np.ones((2, 3)), 2, 2)
    with pytest.raises(ValueError, match="zero"):
        normalized_query([0.0, 0.0], 2)


def test_exact_index_ranks_all_or_only_allowed_rows() -> None:
    vectors = normalized_rows(np.array([[1, 0], [0.8, 0.6], [0, 1], [-1, 0]]), 4, 2)
    index = ExactIndex(np.array([10, 11, 12, 13], dtype=np.int64), vectors)
    query = np.array([1.0, 0.0], dtype=np.float32)

    assert [key for key, _ in index.search(query, 2)] == [10, 11]
    assert [key for key, _ in index.search(query, 10)] == [10, 11, 12, 13]
    allowed = index.mask([12, 13, 99])
    hits = index.search(query, 2, allowed)
    assert [key for key, _ in hits] == [12, 13]
    assert hits[0][1] == pytest.approx(0.0, abs=1e-6)
    assert index.search(query, 3, index.mask([])) == []
    with pytest.raises(ValueError, match="mask"):
        index.search(query, 3, np.ones(2, dtype=bool))
