"""Request and response bodies of the knowledge-base endpoints (embeddings, search, uploads
and their jobs)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from switchboard.rag.jobs import JobStatus
from switchboard.rag.types import MetadataValue, SearchMode
from switchboard.request_body import Lax, RequestBody

MAX_EMBEDDING_INPUTS = 2048  # OpenAI's limit per request


class EmbeddingRequest(RequestBody):
    model_config = ConfigDict(extra="forbid")

    input: str | list[str]
    model: str
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
    user: str | None = None

    @field_validator("input", mode="before")
    @classmethod
    def _text_only(cls, value: Any) -> Any:
        if isinstance(value, list) and value and not all(isinstance(v, str) for v in value):
            raise ValueError(
                "input must be a string or a list of strings (token arrays are not supported)"
            )
        return value

    def texts(self) -> list[str]:
        texts = [self.input] if isinstance(self.input, str) else list(self.input)
        if not texts:
            raise ValueError("input must not be empty")
        if len(texts) > MAX_EMBEDDING_INPUTS:
            raise ValueError(f"at most {MAX_EMBEDDING_INPUTS} inputs per request")
        if any(not t for t in texts):
            raise ValueError("input strings must not be empty")
        return texts


class EmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: EmbeddingUsage


class SearchRequestBody(RequestBody):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    collection: str
    query: str = Field(min_length=1, max_length=4096)
    mode: Annotated[SearchMode, Lax] | None = None
    top_k: int | None = Field(None, ge=1, le=100)
    rrf_k: int | None = Field(None, ge=1)
    weights: dict[Literal["bm25", "dense"], float] | None = None
    filters: dict[str, MetadataValue | list[MetadataValue]] | None = None
    rerank: bool | None = None


class SearchHitBody(BaseModel):
    chunk_id: str
    document_id: str
    title: str
    source: str
    heading_path: list[str]
    start: int
    end: int
    text: str
    metadata: dict[str, Any]
    score: float
    ranks: dict[str, int]
    scores: dict[str, float]


class SearchResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[SearchHitBody]
    collection: str
    mode: SearchMode
    reranker: str | None
    timings_ms: dict[str, float]


class CollectionBody(BaseModel):
    name: str
    embedding_model: str
    dim: int
    documents: int
    chunks: int


class CollectionList(BaseModel):
    object: Literal["list"] = "list"
    data: list[CollectionBody]


class IngestFailureBody(BaseModel):
    path: str
    line: int | None
    kind: str
    reason: str


class IngestResponse(BaseModel):
    collection: str
    added: int
    updated: int
    unchanged: int
    chunks: int
    failed: list[IngestFailureBody]


class JobProgressBody(BaseModel):
    files_done: int
    files_total: int
    chunks_done: int = Field(description="Chunks embedded and stored.")
    chunks_total: int = Field(
        description="Chunks cut so far (all of them once every file is read)."
    )


class JobErrorBody(BaseModel):
    code: str = Field(description="e.g. max_chunks_exceeded, max_seconds_exceeded, job_lost.")
    message: str


class JobBody(BaseModel):
    id: str
    object: Literal["ingest.job"] = "ingest.job"
    collection: str
    status: JobStatus
    files: list[str]
    progress: JobProgressBody
    created_at: int
    started_at: int | None
    finished_at: int | None
    report: IngestResponse | None = Field(
        description="What was committed, once the job ended (also when it failed or was cancelled)."
    )
    error: JobErrorBody | None


class JobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobBody]
