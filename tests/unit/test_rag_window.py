"""A retrieved chunk's neighbours, read from a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from switchboard.rag.store import Store, open_store
from switchboard.rag.types import Chunk, CollectionRef, Document, SearchHit
from switchboard.rag.window import chunk_window

pytestmark = pytest.mark.unit

KB = CollectionRef("acme", "kb")
DIM = 4


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(str(tmp_path / "kb.sqlite3"))
    store.create_collection(KB, embedding_model="test", dim=DIM)
    for doc_id, count in (("returns", 6), ("shipping", 2)):
        texts = [f"{doc_id} part {i}." for i in range(count)]
        chunks, start = [], 0
        for index, text in enumerate(texts):
            chunks.append(Chunk(doc_id, index, text, start, start + len(text), 3))
            start += len(text) + 2
        doc = Document(doc_id, doc_id.title(), f"{doc_id}.md", "\n\n".join(texts), doc_id, {})
        vectors = np.tile(np.eye(DIM, dtype=np.float32)[0], (count, 1))
        store.upsert_document(KB, doc, chunks, vectors)
    try:
        yield store
    finally:
        store.close()


def hits_of(store: Store, *ids: str) -> list[SearchHit]:
    return [
        SearchHit(stored, 1.0 / rank, {"dense": rank}, {"dense": 0.9})
        for rank, stored in enumerate(store.get_chunks(KB, list(ids)), 1)
    ]


def ids(hits: list[SearchHit]) -> list[str]:
    return [h.stored.chunk.id for h in hits]


def test_neighbours_come_in_document_order_each_once(store: Store) -> None:
    hits = hits_of(store, "returns#3", "shipping#1", "returns#1")

    window = chunk_window(store, KB, hits, 1)

    assert ids(window) == ["returns#0", "returns#1", "returns#2", "returns#3", "returns#4",
                           "shipping#0", "shipping#1"]  # fmt: skip
    by_id = {h.stored.chunk.id: h for h in window}
    assert by_id["returns#3"] is hits[0]  # a hit keeps its scores
    assert by_id["returns#2"].scores == {}
    assert by_id["returns#2"].ranks == {}
    assert by_id["returns#2"].stored.chunk.text == "returns part 2."


def test_a_window_stops_at_the_documents_ends(store: Store) -> None:
    assert ids(chunk_window(store, KB, hits_of(store, "returns#5"), 3)) == [
        "returns#2",
        "returns#3",
        "returns#4",
        "returns#5",
    ]
    assert ids(chunk_window(store, KB, hits_of(store, "shipping#0"), 2)) == [
        "shipping#0",
        "shipping#1",
    ]


def test_width_zero_is_the_hits_alone_and_a_negative_width_is_refused(store: Store) -> None:
    hits = hits_of(store, "returns#4", "returns#2")

    assert ids(chunk_window(store, KB, hits, 0)) == ["returns#2", "returns#4"]
    assert chunk_window(store, KB, [], 2) == []
    with pytest.raises(ValueError, match="width"):
        chunk_window(store, KB, hits, -1)
