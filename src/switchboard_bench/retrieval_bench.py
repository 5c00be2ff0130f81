"""``switchboard bench retrieval``: quality, latency and throughput of retrieval on any
BEIR-layout dataset.

For each chunk size the corpus is ingested into a fresh SQLite store (ingestion and
embedding throughput measured), then every query runs in each mode (bm25, dense, hybrid
fused by RRF and ``hybrid_convex`` fused by normalised scores, each also re-ranked). Chunk
hits are mapped to their documents (a document ranks where its first chunk ranks), and
nDCG@10 (standard and leaderboard-style), recall@10 and MRR@10 are
computed against the qrels; latency is the wall time of the whole ``search`` call, query
embedding included. ``--scale N`` then measures query latency over ``N`` synthetic chunks.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from switchboard.config import KnowledgeSettings
from switchboard.rag.embedder import Embedder
from switchboard.rag.fusion import Fusion
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.store.sqlite import SQLiteStore
from switchboard.rag.types import Chunk, CollectionRef, Document, SearchMode
from switchboard_bench.beir import BeirDataset
from switchboard_bench.ir_metrics import evaluate
from switchboard_bench.stats import latency_percentiles

MODES: dict[str, tuple[SearchMode, bool, Fusion]] = {  # mode, re-rank, fusion
    "bm25": (SearchMode.BM25, False, Fusion.RRF),
    "dense": (SearchMode.DENSE, False, Fusion.RRF),
    "hybrid": (SearchMode.HYBRID, False, Fusion.RRF),
    "hybrid_rerank": (SearchMode.HYBRID, True, Fusion.RRF),
    "hybrid_convex": (SearchMode.HYBRID, False, Fusion.CONVEX),
    "hybrid_convex_rerank": (SearchMode.HYBRID, True, Fusion.CONVEX),
}
K = 10
CHUNK_HITS = 100  # chunks fetched per query, enough for 10 distinct documents
REF = CollectionRef("bench", "corpus")
SCALE_VOCAB_DOCS = 20_000  # documents whose words the synthetic text is drawn from
SCALE_CENTERS = 1000  # real passage embeddings the synthetic vectors scatter around
SCALE_NOISE = 0.03  # per dimension: a synthetic vector is ~0.86 cosine from its center

Advance = Callable[[str, int], None]
"""Progress callback: (phase description, items done since the last call)."""


def corpus_documents(dataset: BeirDataset, source: str) -> list[Document]:
    return [
        Document(
            id=doc_id,
            title=doc.title,
            source=source,
            text=doc.text if doc.text.strip() else doc.title,  # a title-only entry stays findable
            content_hash=hashlib.sha256(f"{doc.title}\0{doc.text}".encode()).hexdigest(),
        )
        for doc_id, doc in dataset.corpus.items()
        if doc.text.strip() or doc.title.strip()
    ]


def run_retrieval_bench(
    dataset: BeirDataset,
    name: str,
    settings: KnowledgeSettings,
    embedder: Embedder,
    *,
    chunk_sizes: list[int],
    scale: int | None,
    advance: Advance,
) -> dict[str, Any]:
    documents = corpus_documents(dataset, name)
    if not documents:
        raise ValueError(f"{name}: the corpus has no document with text")
    by_size: dict[str, Any] = {}
    for size in chunk_sizes:
        overlap = min(settings.chunking.overlap_tokens, size // 4)
        sized = settings.model_copy(
            update={
                "chunking": settings.chunking.model_copy(
                    update={"chunk_tokens": size, "overlap_tokens": overlap}
                )
            }
        )
        with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
            store = SQLiteStore(Path(tmp) / "bench.sqlite3")
            try:
                kb = KnowledgeBase.assemble(sized, store, embedder)
                by_size[str(size)] = _measure(kb, dataset, documents, size, advance)
            finally:
                store.close()
    default = str(settings.chunking.chunk_tokens)
    chosen = by_size.get(default) or next(iter(by_size.values()))
    result: dict[str, Any] = {
        "dataset": name,
        "corpus": len(documents),
        "queries": len(dataset.queries),
        "embedding": {"model": embedder.model_id, "quantization": settings.embedding.quantization},
        "reranker": settings.retrieval.reranker,
        "rrf_k": settings.retrieval.rrf_k,
        "chunk_tokens": chosen["chunk_tokens"],
        "modes": chosen["modes"],
        "ingest": chosen["ingest"],
        "chunk_sizes": by_size,
    }
    if scale:
        result["scale"] = measure_scale(dataset, settings, embedder, scale, advance)
    return result


def _measure(
    kb: KnowledgeBase,
    dataset: BeirDataset,
    documents: list[Document],
    size: int,
    advance: Advance,
) -> dict[str, Any]:
    phase = f"ingest, {size}-token chunks"
    report = kb.ingestor.ingest_documents(REF, _counting(documents, phase, advance))
    ingest = {
        "documents": len(documents),
        "chunks": report.chunks,
        "seconds": round(report.seconds, 2),
        "chunks_per_s": round(report.chunks / report.seconds, 1),
        "embed_chunks_per_s": round(report.chunks / max(report.embed_seconds, 1e-9), 1),
        "embed_passages_per_s": round(len(documents) / max(report.embed_seconds, 1e-9), 1),
    }
    modes = {
        mode: _evaluate_mode(kb, dataset, mode, f"queries {mode}, {size}-token chunks", advance)
        for mode in MODES
    }
    return {"chunk_tokens": size, "ingest": ingest, "modes": modes}


def _counting(documents: list[Document], phase: str, advance: Advance) -> Iterator[Document]:
    for document in documents:
        yield document
        advance(phase, 1)


def _evaluate_mode(
    kb: KnowledgeBase, dataset: BeirDataset, mode: str, phase: str, advance: Advance
) -> dict[str, float]:
    search_mode, rerank, fusion = MODES[mode]
    run: dict[str, dict[str, float]] = {}
    latencies: list[float] = []
    for qid, text in dataset.queries.items():
        request = kb.request(
            text,
            mode=search_mode,
            rerank=rerank,
            fusion=fusion,
            top_k=CHUNK_HITS,
            candidates=CHUNK_HITS,
        )
        started = time.perf_counter()
        result = kb.retriever.search(REF, request)
        latencies.append((time.perf_counter() - started) * 1000)
        ranking: list[str] = []
        for hit in result.hits:
            if hit.stored.chunk.document_id not in ranking:
                ranking.append(hit.stored.chunk.document_id)
        run[qid] = {doc: float(len(ranking) - i) for i, doc in enumerate(ranking)}
        advance(phase, 1)
    metrics = evaluate(run, dataset.qrels, k=K)
    p50, p99 = latency_percentiles(latencies)
    return {
        **{key: round(value, 4) for key, value in metrics.items()},
        "latency_ms_p50": round(p50, 2),
        "latency_ms_p99": round(p99, 2),
    }


def measure_scale(
    dataset: BeirDataset,
    settings: KnowledgeSettings,
    embedder: Embedder,
    chunks: int,
    advance: Advance,
) -> dict[str, Any]:
    """Hybrid query latency over ``chunks`` synthetic chunks: text drawn from the corpus'
    own word distribution (so BM25 posting lists are realistic), vectors scattered around
    real passage embeddings (uniformly random vectors are HNSW's worst case and unlike any
    real corpus; clustered ones are what an ANN index meets in practice)."""
    rng = np.random.default_rng(0)
    words = [
        w for doc in list(dataset.corpus.values())[:SCALE_VOCAB_DOCS] for w in doc.text.split()
    ]
    sample = [doc.text for doc in list(dataset.corpus.values())[:SCALE_CENTERS]]
    centers = embedder.embed(sample)
    per_doc = 100
    with tempfile.TemporaryDirectory(prefix="switchboard-scale-") as tmp:
        store = SQLiteStore(Path(tmp) / "scale.sqlite3")
        try:
            kb = KnowledgeBase.assemble(settings, store, embedder)
            store.create_collection(REF, embedding_model=embedder.model_id, dim=embedder.dim)
            started = time.perf_counter()
            for doc_index in range(0, chunks, per_doc):
                n = min(per_doc, chunks - doc_index)
                _insert_synthetic(store, rng, words, centers, f"s{doc_index}", n)
                advance(f"scale: writing {chunks:,} chunks", n)
            write_s = time.perf_counter() - started
            out: dict[str, Any] = {"chunks": chunks, "write_chunks_per_s": round(chunks / write_s)}
            started = time.perf_counter()
            kb.retriever.search(REF, kb.request("warm up"))  # builds the vector index
            out["index_build_s"] = round(time.perf_counter() - started, 2)
            for mode, rerank in (("hybrid", False), ("hybrid_rerank", True)):
                latencies = []
                for text in dataset.queries.values():
                    request = kb.request(text, mode=SearchMode.HYBRID, rerank=rerank)
                    t0 = time.perf_counter()
                    kb.retriever.search(REF, request)
                    latencies.append((time.perf_counter() - t0) * 1000)
                    advance(f"scale: {mode} queries", 1)
                p50, p99 = latency_percentiles(latencies)
                out[mode] = {"latency_ms_p50": round(p50, 2), "latency_ms_p99": round(p99, 2)}
            return out
        finally:
            store.close()


def _insert_synthetic(
    store: SQLiteStore,
    rng: np.random.Generator,
    words: list[str],
    centers: npt.NDArray[np.float32],
    doc_id: str,
    n: int,
) -> None:
    texts = [" ".join(words[i] for i in rng.integers(0, len(words), 60)) for _ in range(n)]
    text = "\n\n".join(texts)
    chunks, offset = [], 0
    for i, chunk_text in enumerate(texts):
        chunks.append(Chunk(doc_id, i, chunk_text, offset, offset + len(chunk_text), 60))
        offset += len(chunk_text) + 2
    noise = rng.normal(0.0, SCALE_NOISE, (n, centers.shape[1])).astype(np.float32)
    vectors = centers[rng.integers(0, len(centers), n)] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    document = Document(
        doc_id, doc_id, "synthetic", text, hashlib.sha256(text.encode()).hexdigest()
    )
    store.upsert_document(REF, document, chunks, vectors)
