"""The SQLite store's approximate vector index, its change log and its BM25 query plans.

``ann_min_chunks`` is set to 50 so the HNSW path runs on a few hundred hand-made
clustered vectors; every answer is checked against brute force over the same vectors.
``AnnIndex.build`` is counted to tell an incremental update from a rebuild.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from switchboard.rag.store import SQLiteStore
from switchboard.rag.store.ann_index import AnnIndex, AnnParams, Keys, Matrix
from switchboard.rag.types import Chunk, CollectionRef, Document, Filters

pytestmark = pytest.mark.integration

DIM = 32
KB = CollectionRef("acme", "kb")
PER_DOC = 10
Vector = npt.NDArray[np.float32]


class World:
    """The vectors written so far, for brute-force answers: ``{chunk id: (vector, doc meta)}``."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.centroids = unit(self.rng.standard_normal((12, DIM)))
        self.rows: dict[str, tuple[Vector, dict[str, str]]] = {}

    def vectors(self, n: int) -> Matrix:
        which = self.rng.integers(0, len(self.centroids), n)
        return unit(self.centroids[which] + 0.15 * self.rng.standard_normal((n, DIM)))

    def write(self, store: SQLiteStore, doc_id: str, n: int = PER_DOC, group: str = "a") -> Matrix:
        vectors = self.vectors(n)
        chunks = [Chunk(doc_id, i, f"{doc_id} text {i}", 0, 0, 3) for i in range(n)]
        version = f"{doc_id}-{self.rng.integers(1 << 30)}"
        doc = Document(doc_id, doc_id, "test", "", version, {"group": group})
        store.upsert_document(KB, doc, chunks, vectors)
        for key in [key for key in self.rows if key.rpartition("#")[0] == doc_id]:
            del self.rows[key]
        for i, vector in enumerate(vectors):
            self.rows[f"{doc_id}#{i}"] = (vector, {"group": group})
        return vectors

    def delete(self, store: SQLiteStore, doc_id: str) -> None:
        store.delete_documents(KB, [doc_id])
        for key in [key for key in self.rows if key.rpartition("#")[0] == doc_id]:
            del self.rows[key]

    def nearest(self, query: Vector, k: int, group: str | None = None) -> list[tuple[str, float]]:
        scored = [
            (key, float(vector @ query))
            for key, (vector, meta) in self.rows.items()
            if group is None or meta["group"] == group
        ]
        return sorted(scored, key=lambda item: -item[1])[:k]


def unit(matrix: npt.NDArray[np.float64]) -> Matrix:
    return (matrix / np.linalg.norm(matrix, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the ANN indexes built during the test."""
    sizes: list[int] = []
    build = AnnIndex.build

    def counted(params: AnnParams, version: int, keys: Keys, vectors: Matrix) -> AnnIndex:
        sizes.append(len(keys))
        return build(params, version, keys, vectors)

    monkeypatch.setattr(AnnIndex, "build", staticmethod(counted))
    return sizes


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "kb.sqlite3"


@pytest.fixture
def stores(path: Path) -> Iterator[list[SQLiteStore]]:
    opened: list[SQLiteStore] = []
    yield opened
    for store in opened:
        store.close()


def open_store(
    stores: list[SQLiteStore], path: Path, change_log_versions: int = 1000
) -> SQLiteStore:
    store = SQLiteStore(path, ann_min_chunks=50, change_log_versions=change_log_versions)
    store.create_collection(KB, embedding_model="m", dim=DIM)
    stores.append(store)
    return store


def search(
    store: SQLiteStore, query: Vector, k: int = 10, filters: Filters | None = None
) -> list[tuple[str, float]]:
    return [(hit.chunk_id, hit.score) for hit in store.vector_search(KB, query, k, filters)]


def assert_exact(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert [key for key, _ in got] == [key for key, _ in want]
    assert [score for _, score in got] == pytest.approx([score for _, score in want], abs=1e-5)


def recall(store: SQLiteStore, world: World, queries: Matrix, k: int = 10) -> float:
    found = 0
    for query in queries:
        got = search(store, query, k)
        scores = dict(world.nearest(query, len(world.rows)))
        for key, score in got:  # every score is the exact similarity of a live chunk
            assert score == pytest.approx(scores[key], abs=1e-5)
        assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
        found += len({key for key, _ in got} & {key for key, _ in world.nearest(query, k)})
    return found / (k * len(queries))


# -- the approximate path -------------------------------------------------------------


def test_ann_search_matches_exact_search(
    stores: list[SQLiteStore], path: Path, builds: list[int]
) -> None:
    store, world = open_store(stores, path), World()
    for d in range(40):
        world.write(store, f"d{d}")
    assert recall(store, world, world.vectors(40)) >= 0.98
    assert recall(store, world, world.vectors(10), k=100) >= 0.95
    assert builds == [400]
    for query in world.vectors(3):  # more candidates than chunks: every row is scored
        assert_exact(search(store, query, 1000), world.nearest(query, 1000))


def test_writes_update_the_index_without_a_rebuild(
    stores: list[SQLiteStore], path: Path, builds: list[int]
) -> None:
    store, world = open_store(stores, path), World()
    for d in range(10):
        world.write(store, f"d{d}")
    search(store, world.vectors(1)[0])
    old = world.write(store, "d3")  # replaced: the same chunk ids, new vectors
    world.write(store, "d4", n=3)  # replaced by fewer chunks: d4#3.. are gone
    world.delete(store, "d5")
    world.delete(store, "d9")  # the highest row ids: SQLite hands them out again
    world.write(store, "new", n=12)
    for query in [*old, *world.vectors(20)]:
        assert_exact(search(store, query), world.nearest(query, 10))
    assert builds == [100]
    assert recall(store, world, world.vectors(20)) == 1.0


def test_a_second_store_sees_the_first_stores_writes(
    stores: list[SQLiteStore], path: Path, builds: list[int]
) -> None:
    reader, world = open_store(stores, path), World()
    writer = open_store(stores, path)
    for d in range(8):
        world.write(writer, f"d{d}")
    search(reader, world.vectors(1)[0])
    new = world.write(writer, "d2")
    world.delete(writer, "d6")
    for query in [*new, *world.vectors(10)]:
        assert_exact(search(reader, query), world.nearest(query, 10))
    assert builds == [80]


def test_an_index_behind_the_log_is_rebuilt(
    stores: list[SQLiteStore], path: Path, builds: list[int]
) -> None:
    reader, world = open_store(stores, path), World()
    writer = open_store(stores, path, change_log_versions=2)
    for d in range(8):
        world.write(writer, f"d{d}")
    search(reader, world.vectors(1)[0])
    world.write(writer, "d1")  # one version behind: within the log
    search(reader, world.vectors(1)[0])
    assert builds == [80]
    for d in (2, 3, 4):  # three more: the log keeps two
        world.write(writer, f"d{d}")
    for query in world.vectors(10):
        assert_exact(search(reader, query), world.nearest(query, 10))
    assert builds == [80, 80]
    assert writer.check_integrity() == []


def test_a_shrinking_collection_goes_back_to_exact_search(
    stores: list[SQLiteStore], path: Path, builds: list[int]
) -> None:
    store, world = open_store(stores, path), World()
    for d in range(8):
        world.write(store, f"d{d}")
    search(store, world.vectors(1)[0])
    for d in range(6):  # 20 chunks left: under half of ann_min_chunks
        world.delete(store, f"d{d}")
    for query in world.vectors(5):
        assert_exact(search(store, query), world.nearest(query, 10))
    world.write(store, "more", n=40)  # 60: approximate again
    for query in world.vectors(5):
        assert_exact(search(store, query), world.nearest(query, 10))
    assert builds == [80, 60]


def test_filtered_search_is_exact_and_returns_k(
    stores: list[SQLiteStore], path: Path, builds: list[int]
) -> None:
    store, world = open_store(stores, path), World()
    for d in range(20):
        world.write(store, f"d{d}", group="rare" if d == 7 else "a")
    for query in world.vectors(10):
        assert_exact(search(store, query, 10, {"group": "a"}), world.nearest(query, 10, "a"))
        assert_exact(search(store, query, 25, {"group": "rare"}), world.nearest(query, 25, "rare"))
    assert builds == []  # a filtered search builds no index
    search(store, world.vectors(1)[0])
    world.write(store, "d7", group="a")
    for query in world.vectors(5):
        assert search(store, query, 10, {"group": "rare"}) == []
        assert_exact(search(store, query, 10, {"group": "a"}), world.nearest(query, 10, "a"))


def test_threads_search_while_another_writes(
    stores: list[SQLiteStore], path: Path, builds: list[int]
) -> None:
    store, world = open_store(stores, path), World()
    for d in range(10):
        world.write(store, f"d{d}")
    queries = world.vectors(30)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for query in queries:
                assert len(search(store, query)) == 10
        except BaseException as error:  # collected, then re-raised by the assert below
            errors.append(error)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    for d in range(10, 20):
        world.write(store, f"d{d}")
    for thread in readers:
        thread.join()
    assert errors == []
    for query in queries[:5]:
        assert_exact(search(store, query), world.nearest(query, 10))


# -- the change log -------------------------------------------------------------------


def test_the_change_log_stays_bounded_and_consistent(stores: list[SQLiteStore], path: Path) -> None:
    store, world = open_store(stores, path, change_log_versions=3), World()
    for round_ in range(6):
        for d in range(4):
            world.write(store, f"d{d}", n=2 + round_ % 3)
    world.delete(store, "d0")
    with sqlite3.connect(path) as conn:
        versions = conn.execute("SELECT DISTINCT version FROM chunk_changes").fetchall()
        version, since = conn.execute("SELECT version, logged_since FROM collections").fetchone()
    assert sorted(v for (v,) in versions) == [version - 2, version - 1, version]
    assert since == version - 3
    assert store.check_integrity() == []
    store.drop_collection(KB)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM chunk_changes").fetchone() == (0,)


def test_a_file_from_before_the_change_log_is_upgraded(
    stores: list[SQLiteStore], path: Path, builds: list[int]
) -> None:
    world = World()
    old = open_store(stores, path)
    for d in range(6):
        world.write(old, f"d{d}")
    old.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE chunk_changes")
        conn.execute("ALTER TABLE collections DROP COLUMN logged_since")
    store = open_store(stores, path)
    search(store, world.vectors(1)[0])
    world.write(store, "d1")
    for query in world.vectors(5):
        assert_exact(search(store, query), world.nearest(query, 10))
    assert builds == [60]
    assert store.check_integrity() == []


# -- BM25 -----------------------------------------------------------------------------


def test_keyword_search_breaks_ties_by_row_id_with_and_without_filters(
    stores: list[SQLiteStore], path: Path
) -> None:
    store, world = open_store(stores, path), World()
    for d in (5, 1, 3, 0, 2, 4):  # equal texts score equal: row (insertion) order decides
        vectors = world.vectors(3)
        chunks = [Chunk(f"t{d}", i, "zebra crossing", 0, 0, 2) for i in range(3)]
        doc = Document(f"t{d}", "t", "s", "", f"h{d}", {"group": "a"})
        store.upsert_document(KB, doc, chunks, vectors)
    store.upsert_document(
        KB,
        Document("z", "t", "s", "", "hz", {"group": "b"}),
        [Chunk("z", 0, "zebra zebra", 0, 0, 2)],
        world.vectors(1),
    )
    inserted = [f"t{d}#{i}" for d in (5, 1, 3, 0, 2, 4) for i in range(3)]

    def ids(k: int, filters: Filters | None = None) -> list[str]:
        return [hit.chunk_id for hit in store.keyword_search(KB, "zebra", k, filters)]

    assert ids(100) == ["z#0", *inserted]
    assert ids(100, {"group": ["a", "b"]}) == ["z#0", *inserted]
    assert ids(100, {"group": "a"}) == inserted
    for k in (1, 4, 7, 19):
        assert ids(k) == ids(100)[:k] == ids(k, {"group": ["a", "b"]})
