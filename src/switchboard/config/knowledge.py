"""The knowledge base: embedding, chunking, retrieval and upload jobs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from switchboard.names import check_name


class EmbeddingSettings(BaseModel):
    quantization: Literal["int8", "fp32"] = Field(
        "int8", description="int8: ~1.6x faster, cosine ~0.994 to fp32 (benchmarks/README.md)."
    )
    batch_size: int = Field(32, ge=1, le=1024, description="Texts embedded per model call.")
    n_threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="CPU threads of the embedding model.",
        json_schema_extra={"doc_default": "the number of CPUs"},
    )


class ChunkSettings(BaseModel):
    chunk_tokens: int = Field(
        64,
        ge=16,
        le=254,
        description="Max tokens per chunk (model limit 256 minus 2); 64 measured best on the "
        "assistant's golden set (benchmarks/README.md).",
    )
    overlap_tokens: int = Field(
        16, ge=0, description="Tokens a chunk repeats from the end of the one before."
    )

    @model_validator(mode="after")
    def _check_overlap(self) -> ChunkSettings:
        if self.overlap_tokens >= self.chunk_tokens:
            raise ValueError("overlap_tokens must be smaller than chunk_tokens")
        return self


class RetrievalSettings(BaseModel):
    mode: Literal["bm25", "dense", "hybrid"] = Field(
        "hybrid", description="Keyword search, vector search, or both fused."
    )
    top_k: int = Field(5, ge=1, le=100, description="Results a search returns.")
    candidates: int = Field(50, ge=1, le=1000, description="Per-retriever depth before fusion.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal Rank Fusion constant.")
    weights: dict[Literal["bm25", "dense"], float] = Field(
        default_factory=dict, description="Per retriever weight in the fusion (default 1.0 each)."
    )
    fusion: Literal["rrf", "convex"] = Field(
        "rrf",
        description="Hybrid fusion: RRF, or a convex combination of min-max normalised scores "
        "(weights default to bm25 0.2, dense 0.8): better on corpora of short entries.",
    )
    reranker: Literal["none", "prf", "cross-encoder"] = Field(
        "prf",
        description="Re-scores the fused candidates: dense pseudo-relevance feedback, a "
        "local cross-encoder (cross_encoder_path), or none.",
    )
    rerank_depth: int = Field(30, ge=1, le=200, description="Fused results the reranker sees.")
    prf_docs: int = Field(3, ge=1, description="Feedback chunks for the PRF reranker.")
    prf_weight: float = Field(1.0, ge=0.0, description="Weight of the feedback centroid.")
    cross_encoder_path: Path | None = Field(
        None, description="Local cross-encoder (ONNX folder or sentence-transformers)."
    )

    @model_validator(mode="after")
    def _check_cross_encoder(self) -> RetrievalSettings:
        if self.reranker == "cross-encoder" and self.cross_encoder_path is None:
            raise ValueError("reranker 'cross-encoder' needs cross_encoder_path")
        return self


class IngestJobSettings(BaseModel):
    """Uploads over HTTP run as background jobs: a few at a time, each bounded."""

    workers: int = Field(1, ge=1, le=16, description="Jobs run at the same time.")
    max_queued: int = Field(16, ge=1, description="Jobs waiting to run; beyond it uploads get 503.")
    max_chunks: int = Field(
        10_000, ge=1, description="Chunks one job may cut (checked before embedding them)."
    )
    max_seconds: float = Field(300.0, gt=0, description="Longest a job may run.")
    keep: int = Field(100, ge=1, description="Finished jobs kept per tenant (newest).")
    ttl_s: float = Field(7 * 24 * 3600.0, gt=0, description="How long a finished job is kept.")
    db_path: Path | None = Field(None, description="default <data_dir>/jobs.sqlite3")


class KnowledgeSettings(BaseModel):
    store: str | None = Field(
        None,
        description="postgresql://... or a SQLite path (default <data_dir>/knowledge.sqlite3).",
    )
    default_tenant: Annotated[str, AfterValidator(lambda v: check_name("tenant", v))] = Field(
        "default", description="Tenant of unauthenticated callers."
    )
    max_file_bytes: int = Field(20 * 1024 * 1024, ge=1, description="Per document file.")
    max_upload_bytes: int = Field(
        100 * 1024 * 1024, ge=1, description="Whole upload request (all files together)."
    )
    pdf_timeout_s: float = Field(
        30.0, gt=0, description="Longest a PDF's text extraction may take; past it the file fails."
    )
    jobs: IngestJobSettings = Field(default_factory=IngestJobSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chunking: ChunkSettings = Field(default_factory=ChunkSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
