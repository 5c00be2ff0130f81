"""The knowledge base as one object: store, embedder, chunker, ingestor and retriever,
built once from typed settings at the edge (CLI, server) and passed down. Its ingestor
reads PDFs in child processes bounded by ``pdf_timeout_s``; ``close`` stops them."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchboard.config import EmbeddingSettings, KnowledgeSettings, RetrievalSettings
from switchboard.models.embedding import prepare_embedding_model
from switchboard.rag.chunking import Chunker, ChunkingSettings
from switchboard.rag.embedder import SPECIAL_TOKENS, Embedder, EmbedderSettings, OnnxEmbedder
from switchboard.rag.fusion import Fusion
from switchboard.rag.ingest import Ingestor
from switchboard.rag.loaders.pdf_worker import PdfWorkers
from switchboard.rag.rerank import CrossEncoderReranker, PRFReranker, Reranker
from switchboard.rag.retrieval import Retriever, SearchRequest
from switchboard.rag.store import open_store
from switchboard.rag.store.base import Store
from switchboard.rag.types import CollectionRef, SearchMode


@dataclass
class KnowledgeBase:
    settings: KnowledgeSettings
    store: Store
    embedder: Embedder
    ingestor: Ingestor
    retriever: Retriever
    pdf_workers: PdfWorkers

    @classmethod
    def open(
        cls,
        settings: KnowledgeSettings,
        store_url: str,
        models_dir: Path,
        *,
        progress: bool = False,
    ) -> KnowledgeBase:
        embedder = open_embedder(settings.embedding, models_dir, progress=progress)
        return cls.assemble(settings, open_store(store_url), embedder)

    @classmethod
    def assemble(
        cls, settings: KnowledgeSettings, store: Store, embedder: Embedder
    ) -> KnowledgeBase:
        limit = embedder.max_tokens - SPECIAL_TOKENS
        if settings.chunking.chunk_tokens > limit:
            raise ValueError(
                f"chunk_tokens {settings.chunking.chunk_tokens} is over the embedding model's "
                f"limit of {limit} tokens"
            )
        chunker = Chunker(
            embedder.count_tokens,
            ChunkingSettings(
                chunk_tokens=settings.chunking.chunk_tokens,
                overlap_tokens=settings.chunking.overlap_tokens,
            ),
        )
        retriever = Retriever(store, embedder, make_reranker(settings.retrieval))
        pdf = PdfWorkers(settings.pdf_timeout_s)  # no process until the first PDF
        ingestor = Ingestor(store, embedder, chunker, extractors=pdf.extractors())
        return cls(settings, store, embedder, ingestor, retriever, pdf)

    def request(self, query: str, **overrides: Any) -> SearchRequest:
        """A search request with the configured defaults, overridden where not None.

        Unless ``rerank`` is given, the configured re-ranker applies to hybrid searches only:
        asking for ``bm25`` or ``dense`` means that retriever's own order."""
        r = self.settings.retrieval
        mode = SearchMode(overrides.get("mode") or r.mode)
        default = SearchRequest(
            query=query,
            mode=mode,
            top_k=r.top_k,
            candidates=r.candidates,
            rrf_k=r.rrf_k,
            weights={str(k): v for k, v in r.weights.items()},
            fusion=Fusion(r.fusion),
            rerank=r.reranker != "none" and mode is SearchMode.HYBRID,
            rerank_depth=r.rerank_depth,
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(default, **{**given, "mode": mode})

    def version(self, collection: CollectionRef) -> str:
        """Changes whenever what a search of ``collection`` can return changes: a document
        added, changed or deleted, or the chunking and retrieval settings. Cached answers
        are kept per version, so an edited article is never answered from the old one."""
        digest = hashlib.sha256(self.settings.model_dump_json(exclude={"store"}).encode())
        for document_id, content_hash in sorted(self.store.document_hashes(collection).items()):
            digest.update(f"\x1e{document_id}\x1f{content_hash}".encode())
        return digest.hexdigest()[:16]

    def close(self) -> None:
        self.pdf_workers.close()
        self.retriever.close()
        self.embedder.close()
        self.store.close()


def open_embedder(
    settings: EmbeddingSettings, models_dir: Path, *, progress: bool = False
) -> OnnxEmbedder:
    """The bundled embedding model, built on first use."""
    files = prepare_embedding_model(models_dir, settings.quantization, progress=progress)
    return OnnxEmbedder(
        files, EmbedderSettings(batch_size=settings.batch_size, n_threads=settings.n_threads)
    )


def make_reranker(settings: RetrievalSettings) -> Reranker | None:
    match settings.reranker:
        case "none":
            return None
        case "prf":
            return PRFReranker(feedback=settings.prf_docs, weight=settings.prf_weight)
        case "cross-encoder":
            if settings.cross_encoder_path is None:
                raise ValueError("reranker 'cross-encoder' needs cross_encoder_path")
            return CrossEncoderReranker(settings.cross_encoder_path)
