"""Retrieval: BM25, dense, or both fused with RRF, then an optional re-ranking stage.

One ``search`` call is a short pipeline with a timing per stage::

    query ─┬─ keyword_search (BM25) ────────┐
           └─ embed → vector_search (dense) ┴─ rrf(k, weights) → rerank(top depth) → top_k

``fusion="convex"`` fuses by a weighted sum of min-max normalised scores instead of ranks.

Every hit carries its final score, each stage's 1-based rank and raw score (``bm25``,
``dense``, ``rrf``, ``rerank``) and its document's provenance.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from switchboard.errors import CollectionNotFoundError
from switchboard.rag.embedder import Embedder, Vectors
from switchboard.rag.fusion import DEFAULT_K, Fused, Fusion, convex, rrf
from switchboard.rag.rerank import Candidate, Reranker
from switchboard.rag.store.base import Store
from switchboard.rag.types import (
    CollectionRef,
    Filters,
    Ranked,
    SearchHit,
    SearchMode,
    StoredChunk,
)

_T = TypeVar("_T")


@dataclass(frozen=True)
class SearchRequest:
    query: str
    mode: SearchMode = SearchMode.HYBRID
    top_k: int = 5
    candidates: int = 50
    rrf_k: int = DEFAULT_K
    weights: Mapping[str, float] = field(default_factory=dict)
    fusion: Fusion = Fusion.RRF
    filters: Filters | None = None
    rerank: bool = True
    rerank_depth: int = 30

    def __post_init__(self) -> None:
        if not self.query.strip():
            raise ValueError("query must not be empty")
        if self.top_k < 1 or self.candidates < 1 or self.rerank_depth < 1:
            raise ValueError("top_k, candidates and rerank_depth must be at least 1")
        if self.rrf_k < 1:
            raise ValueError(f"rrf_k must be at least 1, got {self.rrf_k}")
        unknown = set(self.weights) - {SearchMode.BM25.value, SearchMode.DENSE.value}
        if unknown:
            raise ValueError(f"weights apply to 'bm25' and 'dense', not {sorted(unknown)}")


@dataclass(frozen=True)
class SearchResult:
    hits: list[SearchHit]
    timings_ms: dict[str, float]
    reranker: str | None


class Retriever:
    """Runs searches; in hybrid mode BM25 runs on a worker thread while the query is
    embedded and the vector index searched (SQLite, ONNX Runtime and numpy release the GIL),
    so a hybrid query costs about its slower half, not the sum."""

    def __init__(
        self, store: Store, embedder: Embedder, reranker: Reranker | None, *, workers: int = 4
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.reranker = reranker
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bm25")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def search(self, ref: CollectionRef, request: SearchRequest) -> SearchResult:
        if self.store.get_collection(ref) is None:
            raise CollectionNotFoundError(ref.name)
        timer = _Timer()
        reranker = self.reranker if request.rerank else None
        uses_bm25 = request.mode in (SearchMode.BM25, SearchMode.HYBRID)
        uses_dense = request.mode in (SearchMode.DENSE, SearchMode.HYBRID)
        rankings: dict[str, list[Ranked]] = {}
        keyword: Future[list[Ranked]] | None = None
        if uses_bm25:
            keyword = self._pool.submit(
                timer.run,
                "bm25",
                lambda: self.store.keyword_search(
                    ref, request.query, request.candidates, request.filters
                ),
            )
        if uses_dense or reranker is not None:
            vector = timer.run("embed", lambda: self.embedder.embed([request.query])[0])
        if uses_dense:
            rankings["dense"] = timer.run(
                "dense",
                lambda: self.store.vector_search(ref, vector, request.candidates, request.filters),
            )
        if keyword is not None:
            rankings = {"bm25": keyword.result(), **rankings}
        # Weights of a retriever this mode does not run (configured defaults) do not apply.
        weights = {k: w for k, w in request.weights.items() if k in rankings} or None
        fused = timer.run("fuse", lambda: fuse(rankings, request, weights))
        stored: dict[str, StoredChunk] = {}  # chunks read so far (the reranker reads its head)
        if reranker is not None:
            depth = max(request.rerank_depth, request.top_k)
            head = fused[:depth]
            fused = timer.run(
                "rerank", lambda: self._rerank(ref, reranker, request, vector, head, stored)
            )
        top = fused[: request.top_k]
        missing = [f.chunk_id for f in top if f.chunk_id not in stored]
        stored.update(
            timer.run("fetch", lambda: _by_id(self.store, ref, missing) if missing else {})
        )
        hits = [
            SearchHit(stored=stored[f.chunk_id], score=f.score, ranks=f.ranks, scores=f.scores)
            for f in top
            if f.chunk_id in stored  # a chunk deleted since it was ranked is left out
        ]
        return SearchResult(
            hits=hits, timings_ms=timer.ms, reranker=reranker.name if reranker else None
        )

    def _rerank(
        self,
        ref: CollectionRef,
        reranker: Reranker,
        request: SearchRequest,
        query_vector: Vectors,
        head: list[Fused],
        stored: dict[str, StoredChunk],
    ) -> list[Fused]:
        """``head`` re-ordered by the reranker; the RRF rank and score are kept as ``rrf``.
        A chunk deleted since it was ranked is left out."""
        stored.update(_by_id(self.store, ref, [f.chunk_id for f in head]))
        live = [(rank, f) for rank, f in enumerate(head, start=1) if f.chunk_id in stored]
        if not live:
            return []
        ids = [f.chunk_id for _, f in live]
        try:
            vectors = self.store.get_vectors(ref, ids)
        except KeyError:  # a chunk replaced between the two reads: keep the fused order
            return head
        candidates = [
            Candidate(chunk_id=i, text=stored[i].chunk.text, vector=v)
            for i, v in zip(ids, vectors, strict=True)
        ]
        scores = reranker.scores(request.query, query_vector, candidates)
        # A stable sort: ties keep their fused order.
        reranked = sorted(zip(live, scores, strict=True), key=lambda item: -item[1])
        return [
            Fused(
                chunk_id=f.chunk_id,
                score=score,
                ranks={**f.ranks, "rrf": rank, "rerank": new},
                scores={**f.scores, "rrf": f.score, "rerank": score},
            )
            for new, ((rank, f), score) in enumerate(reranked, start=1)
        ]


CONVEX_WEIGHTS = {SearchMode.BM25.value: 0.2, SearchMode.DENSE.value: 0.8}
"""Convex fusion's weights where none are configured: the best of 0.5-0.9 for dense on both
an entity-centric set and MS MARCO (benchmarks/README.md: Retrieval)."""


def fuse(
    rankings: Mapping[str, list[Ranked]],
    request: SearchRequest,
    weights: Mapping[str, float] | None,
) -> list[Fused]:
    """``rankings`` fused as ``request.fusion`` says, with ``weights``."""
    if request.fusion is Fusion.CONVEX:
        default = {name: w for name, w in CONVEX_WEIGHTS.items() if name in rankings}
        return convex(rankings, weights=weights or default)
    return rrf(rankings, k=request.rrf_k, weights=weights)


def _by_id(store: Store, ref: CollectionRef, chunk_ids: list[str]) -> dict[str, StoredChunk]:
    return {s.chunk.id: s for s in store.get_chunks(ref, chunk_ids)}


class _Timer:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    def run(self, stage: str, work: Callable[[], _T]) -> _T:
        start = time.perf_counter()
        try:
            return work()
        finally:
            self.ms[stage] = self.ms.get(stage, 0.0) + (time.perf_counter() - start) * 1000
