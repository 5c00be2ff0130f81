"""Retrieval on a real SQLite store with the fake hashing embedder: BM25, dense and hybrid
(RRF) rankings, the re-ranking stage, filters, tenants, and ``KnowledgeBase.request``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from switchboard.config import KnowledgeSettings, RetrievalSettings
from switchboard.errors import CollectionNotFoundError
from switchboard.rag.fusion import Fusion, convex
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.rerank import Candidate, Vectors
from switchboard.rag.retrieval import Retriever, SearchRequest, SearchResult
from switchboard.rag.store import SQLiteStore
from switchboard.rag.types import CollectionRef, Document, MetadataValue, SearchMode, StoredChunk
from tests.unit.fakes import HashingEmbedder

pytestmark = pytest.mark.unit

REF = CollectionRef("acme", "kb")

CORPUS: dict[str, tuple[str, str]] = {
    "kubelet": ("infra", "Restart the kubelet service after changing the cluster configuration."),
    "router": ("infra", "Reboot the wifi router when the network connection keeps dropping."),
    "backup": ("infra", "Nightly backups of the database are copied to cold storage."),
    "photo": ("science", "Photosynthesis converts sunlight into chemical energy in chloroplasts."),
    "quokka": ("science", "The quokka is a small marsupial that lives on Rottnest Island."),
    "tides": ("science", "Ocean tides follow the gravitational pull of the moon and the sun."),
    "bread": ("kitchen", "Bake the sourdough bread in a hot oven until the crust is dark."),
    "soup": ("kitchen", "Simmer the lentil soup with cumin, garlic and a bay leaf."),
    "coffee": ("kitchen", "Grind the coffee beans just before brewing for a fuller taste."),
    "network": ("infra", "The office network uses one router per floor and a core switch."),
}


def corpus_documents(corpus: dict[str, tuple[str, str]] = CORPUS) -> list[Document]:
    return [
        Document(
            id=doc_id,
            title="",
            source=f"{doc_id}.txt",
            text=text,
            content_hash=text,
            metadata={"team": team, "n": i},
        )
        for i, (doc_id, (team, text)) in enumerate(corpus.items())
    ]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "kb.sqlite3")
    yield store
    store.close()


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


def assemble(store: SQLiteStore, embedder: HashingEmbedder, **retrieval: object) -> KnowledgeBase:
    settings = KnowledgeSettings(retrieval=RetrievalSettings.model_validate(retrieval))
    return KnowledgeBase.assemble(settings, store, embedder)


@pytest.fixture
def kb(store: SQLiteStore, embedder: HashingEmbedder) -> KnowledgeBase:
    kb = assemble(store, embedder)
    kb.ingestor.ingest_documents(REF, corpus_documents())
    return kb


def search(kb: KnowledgeBase, query: str, **fields: Any) -> SearchResult:
    """A search without the re-ranker and with every hit, unless ``fields`` say otherwise."""
    request = SearchRequest(query, **{"rerank": False, "top_k": 50, **fields})
    return kb.retriever.search(REF, request)


def doc_ids(result: SearchResult) -> list[str]:
    return [hit.stored.chunk.document_id for hit in result.hits]


class ReversingReranker:
    """Scores candidates in reverse of the order they came in; records what it saw."""

    name = "reverse"

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    def scores(
        self, query: str, query_vector: Vectors, candidates: Sequence[Candidate]
    ) -> list[float]:
        self.seen.append([c.chunk_id for c in candidates])
        return [float(i) for i in range(len(candidates))]


def with_reranker(kb: KnowledgeBase, reranker: ReversingReranker) -> Retriever:
    return Retriever(kb.store, kb.embedder, reranker)


# -- the three modes --------------------------------------------------------------------


def test_bm25_finds_an_exact_rare_keyword(kb: KnowledgeBase) -> None:
    result = search(kb, "quokka", mode=SearchMode.BM25)

    assert doc_ids(result) == ["quokka"]
    (hit,) = result.hits
    assert hit.ranks == {"bm25": 1}
    assert hit.scores["bm25"] > 0
    assert hit.score == pytest.approx(1 / 61)
    assert hit.stored.source == "quokka.txt"
    assert hit.stored.metadata == {"team": "science", "n": 4}
    assert set(result.timings_ms) == {"bm25", "fuse", "fetch"}
    assert result.reranker is None


def test_dense_finds_a_match_sharing_no_keyword(kb: KnowledgeBase) -> None:
    assert search(kb, "photosynthetic", mode=SearchMode.BM25).hits == []

    result = search(kb, "photosynthetic", mode=SearchMode.DENSE)

    assert doc_ids(result)[0] == "photo"
    assert len(result.hits) == len(CORPUS)  # dense ranks every chunk
    assert [hit.ranks for hit in result.hits] == [{"dense": r} for r in range(1, 11)]
    similarities = [hit.scores["dense"] for hit in result.hits]
    assert similarities == sorted(similarities, reverse=True)
    assert set(result.timings_ms) == {"embed", "dense", "fuse", "fetch"}


def test_hybrid_hits_carry_each_retrievers_rank(kb: KnowledgeBase) -> None:
    result = search(kb, "reboot the router", mode=SearchMode.HYBRID)

    top = result.hits[0]
    assert top.stored.chunk.document_id == "router"
    assert set(top.ranks) == {"bm25", "dense"}
    assert set(top.scores) == {"bm25", "dense"}
    network = next(h for h in result.hits if h.stored.chunk.document_id == "network")
    assert set(network.ranks) == {"bm25", "dense"}  # "router" is in its text too
    assert all(set(hit.ranks) <= {"bm25", "dense"} and hit.ranks for hit in result.hits)
    assert set(result.timings_ms) == {"bm25", "embed", "dense", "fuse", "fetch"}
    for hit in result.hits:
        assert hit.score == pytest.approx(sum(1 / (60 + r) for r in hit.ranks.values()))


def test_zero_bm25_weight_reproduces_the_dense_order(kb: KnowledgeBase) -> None:
    query = "router network configuration"
    dense = search(kb, query, mode=SearchMode.DENSE)

    hybrid = search(kb, query, mode=SearchMode.HYBRID, weights={"bm25": 0.0})

    assert doc_ids(hybrid) == doc_ids(dense)
    assert any("bm25" in hit.ranks for hit in hybrid.hits)
    for hit in hybrid.hits:
        assert hit.score == pytest.approx(1 / (60 + hit.ranks["dense"]))


def test_rrf_k_is_the_constant_of_the_fused_score(kb: KnowledgeBase) -> None:
    result = search(kb, "quokka marsupial", mode=SearchMode.HYBRID, rrf_k=10)

    top = result.hits[0]
    assert top.stored.chunk.document_id == "quokka"
    assert top.ranks == {"bm25": 1, "dense": 1}
    assert top.score == pytest.approx(1 / 11 + 1 / 11)
    for hit in result.hits:
        assert hit.score == pytest.approx(sum(1 / (10 + r) for r in hit.ranks.values()))


def test_top_k_limits_the_hits(kb: KnowledgeBase) -> None:
    full = search(kb, "the router", mode=SearchMode.HYBRID)

    top3 = search(kb, "the router", mode=SearchMode.HYBRID, top_k=3)

    assert doc_ids(top3) == doc_ids(full)[:3]


# -- re-ranking -------------------------------------------------------------------------


def test_rerank_reorders_the_head_and_keeps_the_rrf_rank(kb: KnowledgeBase) -> None:
    fused = search(kb, "router network", mode=SearchMode.HYBRID)
    reranker = ReversingReranker()

    request = SearchRequest("router network", top_k=3, rerank_depth=3)
    result = with_reranker(kb, reranker).search(REF, request)

    head = [hit.stored.chunk.id for hit in fused.hits[:3]]
    assert reranker.seen == [head]
    assert [hit.stored.chunk.id for hit in result.hits] == head[::-1]
    assert result.reranker == "reverse"
    assert "rerank" in result.timings_ms
    for new, hit in enumerate(result.hits, start=1):
        old = fused.hits[head.index(hit.stored.chunk.id)]
        assert hit.ranks == {**old.ranks, "rrf": head.index(hit.stored.chunk.id) + 1, "rerank": new}
        assert hit.scores == {**old.scores, "rrf": old.score, "rerank": hit.score}
    assert [hit.score for hit in result.hits] == [2.0, 1.0, 0.0]


def test_rerank_never_lifts_a_hit_from_below_the_depth(kb: KnowledgeBase) -> None:
    reranker = ReversingReranker()

    request = SearchRequest("router network", top_k=2, rerank_depth=4)
    result = with_reranker(kb, reranker).search(REF, request)

    assert len(reranker.seen[0]) == 4
    assert [hit.stored.chunk.id for hit in result.hits] == reranker.seen[0][::-1][:2]
    assert [hit.ranks["rrf"] for hit in result.hits] == [4, 3]


def test_top_k_above_the_depth_reranks_every_returned_hit(kb: KnowledgeBase) -> None:
    reranker = ReversingReranker()

    request = SearchRequest("router network", top_k=6, rerank_depth=2)
    result = with_reranker(kb, reranker).search(REF, request)

    assert len(reranker.seen[0]) == 6  # the depth is max(rerank_depth, top_k)
    assert len(result.hits) == 6
    assert [hit.ranks["rerank"] for hit in result.hits] == [1, 2, 3, 4, 5, 6]
    assert [hit.ranks["rrf"] for hit in result.hits] == [6, 5, 4, 3, 2, 1]
    assert [hit.score for hit in result.hits] == [hit.scores["rerank"] for hit in result.hits]
    assert [hit.score for hit in result.hits] == [5.0, 4.0, 3.0, 2.0, 1.0, 0.0]


def test_rerank_false_skips_the_reranker(kb: KnowledgeBase) -> None:
    reranker = ReversingReranker()

    result = with_reranker(kb, reranker).search(REF, SearchRequest("router", rerank=False))

    assert reranker.seen == []
    assert result.reranker is None
    assert all("rerank" not in hit.ranks for hit in result.hits)


def test_bm25_with_rerank_embeds_the_query_for_the_reranker(kb: KnowledgeBase) -> None:
    reranker = ReversingReranker()

    request = SearchRequest("router", mode=SearchMode.BM25, rerank=True)
    result = with_reranker(kb, reranker).search(REF, request)

    assert set(doc_ids(result)) == {"router", "network"}
    assert set(result.timings_ms) == {"bm25", "embed", "fuse", "rerank", "fetch"}
    assert all(set(hit.ranks) == {"bm25", "rrf", "rerank"} for hit in result.hits)


def test_rerank_of_no_candidates_is_empty(kb: KnowledgeBase) -> None:
    reranker = ReversingReranker()

    request = SearchRequest("zzzyzx", mode=SearchMode.BM25, rerank=True)

    assert with_reranker(kb, reranker).search(REF, request).hits == []


def test_default_prf_reranker_on_hybrid(kb: KnowledgeBase) -> None:
    result = kb.retriever.search(REF, kb.request("router network", top_k=4))

    assert result.reranker == "prf"
    assert [hit.ranks["rerank"] for hit in result.hits] == [1, 2, 3, 4]
    scores = [hit.score for hit in result.hits]
    assert scores == sorted(scores, reverse=True)


# -- filters, collections, tenants ------------------------------------------------------


@pytest.mark.parametrize("mode", list(SearchMode))
@pytest.mark.parametrize("rerank", [False, True])
def test_filters_reach_every_retriever(kb: KnowledgeBase, mode: SearchMode, rerank: bool) -> None:
    filters: dict[str, MetadataValue | list[MetadataValue]] = {"team": "infra"}

    result = search(kb, "the router", mode=mode, filters=filters, rerank=rerank)

    assert result.hits
    assert {hit.stored.metadata["team"] for hit in result.hits} == {"infra"}


def test_a_list_filter_means_any_of_its_values(kb: KnowledgeBase) -> None:
    result = search(kb, "the", mode=SearchMode.DENSE, filters={"n": [0, 9]})

    assert set(doc_ids(result)) == {"kubelet", "network"}


def test_unknown_collection_raises(kb: KnowledgeBase) -> None:
    with pytest.raises(CollectionNotFoundError, match="nowhere"):
        kb.retriever.search(CollectionRef("acme", "nowhere"), SearchRequest("router"))


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_query_is_refused(kb: KnowledgeBase, query: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        SearchRequest(query)
    with pytest.raises(ValueError, match="empty"):
        kb.request(query)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"top_k": 0}, "at least 1"),
        ({"candidates": 0}, "at least 1"),
        ({"rerank_depth": 0}, "at least 1"),
        ({"rrf_k": 0}, "rrf_k must be at least 1"),
        ({"weights": {"bm25": 1.0, "splade": 1.0}}, "not \\['splade'\\]"),
    ],
)
def test_bad_request_fields_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SearchRequest("router", **fields)


def test_tenants_never_see_each_others_chunks(
    store: SQLiteStore, embedder: HashingEmbedder
) -> None:
    kb = assemble(store, embedder)
    acme, globex = CollectionRef("acme", "kb"), CollectionRef("globex", "kb")
    kb.ingestor.ingest_documents(acme, corpus_documents({"x": ("a", "Acme ships anvils.")}))
    kb.ingestor.ingest_documents(globex, corpus_documents({"x": ("g", "Globex ships anvils.")}))

    for mode in SearchMode:
        for ref, text in ((acme, "Acme ships anvils."), (globex, "Globex ships anvils.")):
            hits = kb.retriever.search(ref, SearchRequest("anvils", mode=mode)).hits
            assert [hit.stored.chunk.text for hit in hits] == [text]


# -- chunks deleted while a search runs -------------------------------------------------


class DeletingStore(SQLiteStore):
    """Deletes ``doomed`` just before the first ``get_chunks`` call: a concurrent delete
    landing between ranking and fetching."""

    doomed: str | None = None

    def get_chunks(self, ref: CollectionRef, chunk_ids: Sequence[str]) -> list[StoredChunk]:
        if self.doomed is not None:
            self.delete_documents(ref, [self.doomed])
            self.doomed = None
        return super().get_chunks(ref, chunk_ids)


@pytest.mark.parametrize("rerank", [False, True])
def test_a_chunk_deleted_during_the_search_is_left_out(
    tmp_path: Path, embedder: HashingEmbedder, rerank: bool
) -> None:
    store = DeletingStore(tmp_path / "kb.sqlite3")
    kb = assemble(store, embedder)
    kb.ingestor.ingest_documents(REF, corpus_documents())
    fused = doc_ids(search(kb, "reboot the wifi router", top_k=5))
    assert fused[0] == "router"
    store.doomed = "router"

    request = SearchRequest("reboot the wifi router", top_k=5, rerank=rerank)
    result = kb.retriever.search(REF, request)

    if rerank:  # deleted before the reranker read the candidates: the others fill the top 5
        assert len(result.hits) == 5
        assert "router" not in doc_ids(result)
        assert 1 not in {hit.ranks["rrf"] for hit in result.hits}
    else:  # deleted before the fetch: left out of the top 5
        assert doc_ids(result) == fused[1:]
    store.close()


# -- KnowledgeBase.request --------------------------------------------------------------


def test_request_takes_the_configured_defaults(
    store: SQLiteStore, embedder: HashingEmbedder
) -> None:
    kb = assemble(
        store, embedder, top_k=7, candidates=40, rrf_k=20, rerank_depth=12, weights={"dense": 2}
    )

    request = kb.request("router")

    assert (request.mode, request.top_k, request.candidates) == (SearchMode.HYBRID, 7, 40)
    assert (request.rrf_k, request.rerank_depth, dict(request.weights)) == (20, 12, {"dense": 2})
    assert (request.rerank, request.filters) == (True, None)


@pytest.mark.parametrize(
    ("reranker", "mode", "rerank", "expected"),
    [
        ("prf", None, None, True),  # the default mode is hybrid
        ("prf", SearchMode.HYBRID, None, True),
        ("prf", SearchMode.BM25, None, False),
        ("prf", SearchMode.DENSE, None, False),
        ("prf", SearchMode.DENSE, True, True),
        ("prf", SearchMode.HYBRID, False, False),
        ("none", SearchMode.HYBRID, None, False),
    ],
)
def test_the_configured_reranker_applies_to_hybrid_unless_asked(
    store: SQLiteStore,
    embedder: HashingEmbedder,
    reranker: str,
    mode: SearchMode | None,
    rerank: bool | None,
    expected: bool,
) -> None:
    kb = assemble(store, embedder, reranker=reranker)

    request = kb.request("router", mode=mode, rerank=rerank)

    assert request.rerank is expected
    assert request.mode is (mode or SearchMode.HYBRID)


def test_request_overrides_win_and_none_keeps_the_default(kb: KnowledgeBase) -> None:
    request = kb.request("router", mode="bm25", top_k=3, rrf_k=None, filters={"team": "infra"})

    assert request.mode is SearchMode.BM25
    assert (request.top_k, request.rrf_k, request.filters) == (3, 60, {"team": "infra"})


@pytest.mark.parametrize("mode", [SearchMode.BM25, SearchMode.DENSE])
def test_configured_weights_do_not_break_a_single_retriever_mode(
    store: SQLiteStore, embedder: HashingEmbedder, mode: SearchMode
) -> None:
    kb = assemble(store, embedder, weights={"bm25": 0.5, "dense": 2.0})
    kb.ingestor.ingest_documents(REF, corpus_documents())

    result = kb.retriever.search(REF, kb.request("reboot the wifi router", mode=mode))

    assert doc_ids(result)[0] == "router"


def test_assemble_refuses_chunks_over_the_embedders_limit(store: SQLiteStore) -> None:
    with pytest.raises(ValueError, match="over the embedding model's limit"):
        KnowledgeBase.assemble(KnowledgeSettings(), store, HashingEmbedder(max_tokens=64))


# -- convex fusion ----------------------------------------------------------------------


def test_convex_fusion_combines_normalised_scores_with_the_measured_weights(
    kb: KnowledgeBase,
) -> None:
    query = "reboot the wifi router"
    rankings = {
        "bm25": kb.store.keyword_search(REF, query, 50, None),
        "dense": kb.store.vector_search(REF, kb.embedder.embed([query])[0], 50, None),
    }

    result = search(kb, query, fusion=Fusion.CONVEX)
    weighted = search(kb, query, fusion=Fusion.CONVEX, weights={"bm25": 1.0, "dense": 1.0})

    assert doc_ids(result)[0] == "router"
    assert [h.score for h in result.hits] == pytest.approx(
        [f.score for f in convex(rankings, weights={"bm25": 0.2, "dense": 0.8})]
    )
    assert [h.score for h in weighted.hits] == pytest.approx([f.score for f in convex(rankings)])


def test_request_takes_the_configured_fusion(store: SQLiteStore, embedder: HashingEmbedder) -> None:
    assert assemble(store, embedder).request("router").fusion is Fusion.RRF
    kb = assemble(store, embedder, fusion="convex")
    kb.ingestor.ingest_documents(REF, corpus_documents())

    request = kb.request("reboot the wifi router")

    assert request.fusion is Fusion.CONVEX
    assert doc_ids(kb.retriever.search(REF, request))[0] == "router"
    dense = kb.request("reboot the wifi router", mode=SearchMode.DENSE)
    assert doc_ids(kb.retriever.search(REF, dense))[0] == "router"
