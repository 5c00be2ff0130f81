"""Typed settings, read once at the edge (file + ``SWITCHBOARD_*`` env) and passed down.

Precedence, highest first: constructor arguments, environment variables
(``SWITCHBOARD_ENGINE__MAX_NUM_SEQS=8``), the TOML file named by ``SWITCHBOARD_CONFIG``
(default ``switchboard.toml`` in the working directory, if present), then defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from switchboard.names import check_name

DEFAULT_MODEL = "smollm2-135m:q8_0"


class EngineSettings(BaseModel):
    """Continuous-batching engine limits.

    The KV cache is partitioned by default: each of ``max_num_seqs`` sequences owns
    ``max_model_len`` cells, attention runs per sequence (faster on CPU), and a request's
    output does not depend on what it is batched with. ``kv_unified`` instead shares one
    pool of ``kv_cache_tokens`` cells among all sequences, so more of them fit in less
    memory; when the pool runs out the scheduler preempts and recomputes, and floating-point
    rounding then depends on where a sequence's cells sit in the pool.

    ``prefix_cache``: an idle sequence keeps the cells of the last request it served, and a
    request that starts with the same tokens reuses them.
    """

    max_model_len: int = Field(1024, ge=16, description="Context window of one request.")
    max_num_seqs: int = Field(16, ge=1, le=256, description="Sequences decoded together.")
    max_batch_tokens: int = Field(256, ge=16, description="Tokens per llama_decode step.")
    max_waiting: int = Field(128, ge=1, description="Waiting-queue bound before 503.")
    n_threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="CPU threads llama.cpp computes with.",
        json_schema_extra={"doc_default": "the number of CPUs"},
    )
    seed: int | None = Field(None, description="Engine-wide seed for unseeded requests.")
    flash_attn: bool = Field(True, description="llama.cpp flash attention.")
    kv_unified: bool = Field(False, description="One KV pool shared by all sequences.")
    kv_cache_tokens: int | None = Field(
        None, ge=16, description="Unified pool size (default max_num_seqs x max_model_len)."
    )
    kv_cache_type: Literal["f16", "q8_0"] = Field(
        "f16", description="KV cell precision; q8_0 halves the memory of the cache."
    )
    prefix_cache: bool = Field(
        True, description="Reuse the KV cells of a token prefix shared with an earlier request."
    )
    prefix_cache_tokens: int | None = Field(
        None,
        ge=1,
        description="Bound on the cells cached prefixes keep (default: the whole KV cache; "
        "they yield to requests either way).",
    )
    speculative: Literal["off", "ngram", "draft"] = Field(
        "off",
        description="Speculative decoding: ngram drafts from the prompt and output, or "
        "drafts of draft_model.",
    )
    draft_model: str | None = Field(
        None,
        description="Registry name or GGUF path of the draft model (speculative='draft'); "
        "its vocabulary must be the model's.",
    )
    speculative_tokens: int = Field(
        8, ge=1, le=64, description="Most drafts per sequence and step."
    )
    ngram_max: int = Field(
        16, ge=1, le=64, description="Longest n-gram looked up (a match of n drafts n - 1)."
    )
    ngram_min: int = Field(2, ge=1, le=64, description="Shortest n-gram looked up for drafts.")
    speculative_max_seqs: int = Field(
        1, ge=1, le=256, description="Speculate only while at most this many sequences run."
    )

    @model_validator(mode="after")
    def _check_ngram(self) -> EngineSettings:
        if self.ngram_min > self.ngram_max:
            raise ValueError(f"ngram_min ({self.ngram_min}) exceeds ngram_max ({self.ngram_max})")
        if self.speculative == "draft" and not self.draft_model:
            raise ValueError("speculative='draft' needs draft_model (e.g. qwen2.5-0.5b)")
        return self

    @model_validator(mode="after")
    def _check_cache(self) -> EngineSettings:
        if self.kv_cache_tokens is None:
            return self
        if not self.kv_unified:
            raise ValueError(
                "kv_cache_tokens applies to kv_unified=true; a partitioned cache has "
                "max_num_seqs x max_model_len cells"
            )
        if self.kv_cache_tokens < self.max_model_len:
            raise ValueError(
                f"kv_cache_tokens ({self.kv_cache_tokens}) is smaller than max_model_len "
                f"({self.max_model_len})"
            )
        return self

    @property
    def kv_cells(self) -> int:
        """KV cells allocated: the unified pool, or one window per sequence."""
        return self.kv_cache_tokens or self.max_num_seqs * self.max_model_len

    @property
    def prefix_cache_cells(self) -> int:
        """Cells idle slots may keep for prefix reuse (0: prefix caching off)."""
        if not self.prefix_cache:
            return 0
        return min(self.prefix_cache_tokens or self.kv_cells, self.kv_cells)


class ServerSettings(BaseModel):
    host: str = Field(
        "127.0.0.1", description="Address to bind; a non-loopback one turns auth on (auto)."
    )
    port: int = Field(8000, ge=0, le=65535, description="Port to bind (0: a free one).")
    retry_after_s: int = Field(1, ge=1, description="Retry-After sent with 503 queue-full.")
    max_body_bytes: int = Field(
        4 * 1024 * 1024, ge=1, description="Largest request body (uploads: knowledge)."
    )
    body_limits: dict[str, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="Per-route body limits: path prefix -> bytes (the longest prefix wins).",
    )


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


class OrdersSettings(BaseModel):
    """The demo shop's Order API, a separate service with its own SQLite database."""

    host: str = Field("127.0.0.1", description="Address the Order API binds.")
    port: int = Field(
        0,
        ge=0,
        le=65535,
        description="0: a free port chosen at start; another port that is taken fails the start.",
    )
    db_path: Path | None = Field(
        None, description="SQLite file (default <data_dir>/orders.sqlite3)."
    )
    service_token: str = Field(
        "dev-orders-token",
        min_length=1,
        description="Bearer token of calling services, for an Order API run on its own; "
        "`switchboard serve` gives the one it starts a fresh secret. A public dev default: "
        "set it in production.",
    )
    start_with_server: bool = Field(
        True,
        description="`switchboard serve` starts the Order API as its own process, "
        "restarted when it dies.",
    )

    @model_validator(mode="after")
    def _check_port(self) -> OrdersSettings:
        if not self.start_with_server and self.port == 0:
            raise ValueError(
                "orders.port must name the Order API's port when start_with_server is false"
            )
        return self


class RemoteModelSettings(BaseModel):
    """An OpenAI-compatible server (vLLM, llama-server, Ollama, OpenAI) the assistant
    generates with instead of the local engine; with function calling it picks the tools."""

    base_url: str = Field(description="e.g. http://127.0.0.1:8080 (the /v1 path is added).")
    model: str = Field(description="The model name the server expects.")
    api_key: SecretStr | None = Field(None, description="Sent as a Bearer token.")
    max_model_len: int = Field(ge=64, description="The served model's context window.")
    tokenizer: str = Field(
        description="Registry name or GGUF path of the served model (only its vocabulary "
        "and chat template are loaded), to count prompt tokens exactly."
    )
    chat_template: Path | None = Field(
        None, description="The server's own Jinja chat template, if it was given one."
    )
    supports_tools: bool = Field(
        True, description="Offer it the tools (function calling) instead of routing by intent."
    )
    timeout_s: float = Field(60.0, gt=0, description="Longest wait between two chunks.")


class GroundingSettings(BaseModel):
    """The grounding check on the assistant's answers: numbers, amounts, durations, dates,
    codes and named options must be stated by the evidence, or their sentence is left out."""

    enabled: bool = Field(True, description="Check answers (generate mode) against their evidence.")
    holdback_chars: int = Field(
        200, ge=8, le=4096, description="Most answer text held back while its sentence is checked."
    )
    option_words: Path | None = Field(
        None,
        description="Named options to check (carriers, payment methods): one per line, "
        "aliases separated by '|' (default: the demo shop's list).",
    )
    countries: bool = Field(True, description="Also check the names of countries.")


class AssistantSettings(BaseModel):
    """The customer-support assistant: routing, grounding, generation, conversations."""

    collection: str = Field("shop", description="Knowledge-base collection of the articles.")
    db_path: Path | None = Field(
        None, description="Conversations SQLite file (default <data_dir>/assistant.sqlite3)."
    )
    router_threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Router confidence below which the intent is unsure (see "
        "switchboard.assistant.router.DEFAULT_THRESHOLD for how it was chosen).",
    )
    relevance_floor: float = Field(
        0.35,
        ge=-1.0,
        le=1.0,
        description="Best retrieved chunk's cosine similarity below which the assistant "
        "says it is not sure and offers a handoff instead of answering.",
    )
    top_k: int = Field(4, ge=1, le=20, description="Retrieved chunks offered to the prompt.")
    query_focus: Literal["none", "questions", "last_question"] = Field(
        "none",
        description="What of a long message is routed and searched: all of it, the "
        "sentences that ask something, or the last of them (switchboard.assistant.focus; "
        "both focused strategies lost retrieval hits on the dev sets, so off by default).",
    )
    focus_min_words: int = Field(
        20, ge=0, description="Messages of at most this many words are never focused."
    )
    evidence_spans: int = Field(
        0,
        ge=0,
        le=20,
        description="Sentences of the retrieved chunks that best answer the question, put "
        "into the prompt instead of the whole chunks (0: the whole chunks; 4 measured best "
        "for holding the key facts, but not yet with the model: benchmarks/README.md).",
    )
    language_handoff: bool = Field(
        True,
        description="A message clearly in another language (German, French, Spanish, "
        "Italian, Dutch, Polish or Portuguese) is answered in that language with a handoff "
        "offer instead of the English pipeline (switchboard.assistant.language); false: "
        "every message goes through the English pipeline.",
    )
    answerable_key_terms: int = Field(
        1,
        ge=0,
        le=10,
        description="The question's most central words (its key terms): below "
        "answerable_trusted_relevance, when the evidence speaks about none of them the "
        "assistant says it is not sure and offers a handoff (0: off, the relevance floor "
        "alone decides).",
    )
    answerable_term_floor: float = Field(
        0.3,
        ge=-1.0,
        le=1.0,
        description="Cosine of a key term and an evidence sentence at which the sentence "
        "speaks about it without containing the word (a paraphrase).",
    )
    order_question_relevance: float | None = Field(
        0.65,
        ge=-1.0,
        le=1.0,
        description="After an order's status, the help centre's answer too when the message "
        'also asks something beyond the status ("tracking says delivered but nothing came, '
        'what now?": switchboard.assistant.order_question) or its best chunk matches the '
        "message this closely; null: the status alone.",
    )
    answerable_trusted_relevance: float = Field(
        0.45,
        ge=-1.0,
        le=1.0,
        description="Best retrieved chunk's cosine from which an answer is trusted without "
        "checking the question's key terms against the evidence.",
    )
    answer_mode: Literal["generate", "quote"] = Field(
        "quote",
        description="How a question is answered from the help centre: the best evidence "
        "sentences quoted with their citations, without a model call (quote: the default, "
        "since the default small model restates facts unreliably), or the model writes the "
        "answer from its sources (generate: for a stronger model).",
    )
    quote_sentences: int = Field(
        4, ge=1, le=10, description="Most sentences a quoted answer gives (answer_mode quote)."
    )
    quote_window: int = Field(
        3,
        ge=0,
        le=20,
        description="Chunks either side of a retrieved chunk a quote may come from (0: the "
        "retrieved chunks only).",
    )
    max_tokens: int = Field(200, ge=16, description="Output tokens reserved per answer.")
    max_message_chars: int = Field(4000, ge=1, description="Longest customer message.")
    temperature: float = Field(
        0.0, ge=0.0, le=2.0, description="Sampling temperature of generated answers (0: greedy)."
    )
    stop: list[str] = Field(
        default_factory=lambda: ["\n\n", "\nQuestion:"],
        description="Answers are one paragraph: small models ramble on past it.",
    )
    history_messages: int = Field(12, ge=0, description="Past messages loaded per turn.")
    demo: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Demo mode: GET /v1/assistant/customers (every customer and their orders, "
        "the chat widget's picker) and POST /v1/assistant/demo/token (a customer token for "
        "the picked customer). auto: on while authentication is off (loopback development); "
        "never turn it on for real customers.",
    )
    remote: RemoteModelSettings | None = Field(
        None, description="Generate with a remote server instead of the local engine."
    )
    model_route: str | None = Field(
        None,
        description="The gateway route the assistant's model calls take: a model the "
        "gateway serves or an alias of gateway.routes (its fallbacks, deadline and prices "
        "apply). Default: the local model's name; with [assistant.remote] and no route, "
        "its calls go to that server directly.",
    )
    grounding: GroundingSettings = Field(default_factory=GroundingSettings)


class ProviderSettings(BaseModel):
    """A model server the gateway routes to: ``local`` (this process's engine) or any
    OpenAI-compatible HTTP server (vLLM, llama-server, Ollama, OpenAI)."""

    name: Annotated[str, AfterValidator(lambda v: check_name("provider", v))] = Field(
        description="What routes call it."
    )
    kind: Literal["local", "openai"] = Field(
        "openai", description="local: this process's engine; openai: an HTTP server."
    )
    base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8080/v1")
    api_key: SecretStr | None = Field(None, description="Sent as a Bearer token.")
    connect_timeout_s: float = Field(2.0, gt=0, description="Longest wait to connect.")
    read_timeout_s: float = Field(60.0, gt=0, description="Longest wait between two chunks.")
    max_retries: int = Field(1, ge=0, le=10, description="Retries on this provider first.")
    backoff_s: float = Field(0.05, ge=0, description="First retry delay; doubles, jittered.")
    breaker_failures: int = Field(5, ge=1, description="Consecutive failures that open it.")
    breaker_reset_s: float = Field(30.0, gt=0, description="Open time before one trial call.")
    max_connections: int = Field(512, ge=1, description="Open connections to it at most.")

    @model_validator(mode="after")
    def _check_url(self) -> ProviderSettings:
        if self.kind == "openai" and not self.base_url:
            raise ValueError(f"provider {self.name!r} of kind 'openai' needs base_url")
        return self


class RouteTarget(BaseModel):
    provider: str = Field(description="A provider's name (or 'local').")
    model: str = Field(description="The model name that provider expects.")
    max_model_len: int | None = Field(
        None,
        ge=16,
        description="Its context window, if known: a request without max_tokens may use "
        "the rest of it (unknown: limits.reserve_max_tokens is sent as max_tokens).",
    )


class RouteSettings(BaseModel):
    """A model alias: providers tried in order until one produces a first token."""

    targets: list[RouteTarget] = Field(min_length=1, description="Tried in this order.")
    ttft_deadline_s: float | None = Field(
        10.0, gt=0, description="No first token by then: the next target, before any byte."
    )


class Price(BaseModel):
    """USD per million tokens."""

    input_per_mtok: float = Field(0.0, ge=0, description="USD per million prompt tokens.")
    output_per_mtok: float = Field(0.0, ge=0, description="USD per million output tokens.")


class LimitSettings(BaseModel):
    backend: Literal["memory", "redis"] = Field(
        "memory", description="memory: one server; redis: limits shared by every replica."
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="The Redis of the redis backend."
    )
    default_rpm: int | None = Field(None, ge=1, description="Keys without their own limit.")
    default_tpm: int | None = Field(None, ge=1, description="Keys without their own limit.")
    reserve_max_tokens: int = Field(
        1024,
        ge=1,
        description="max_tokens of a request that sets none, for a target whose context "
        "window is unknown (route target max_model_len).",
    )
    max_messages: int = Field(1000, ge=1, description="Messages per chat request.")
    max_prompt_chars: int = Field(
        500_000, ge=1, description="Characters of a chat request's messages together."
    )


class RequestLogSettings(BaseModel):
    enabled: bool = Field(True, description="Log every request (SQLite, in batches).")
    queue_size: int = Field(10_000, ge=1, description="Records waiting; beyond it they drop.")
    batch_size: int = Field(500, ge=1, description="Records written per transaction.")
    flush_interval_s: float = Field(0.5, gt=0, description="Longest a record waits to be written.")
    record_text: bool = Field(False, description="Keep input and output text (redacted).")
    max_text_chars: int = Field(4000, ge=0, description="Text kept per record (record_text).")


class TracingSettings(BaseModel):
    otlp_endpoint: str | None = Field(
        None, description="OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces."
    )
    service_name: str = Field("switchboard", description="service.name of the spans.")


class CustomerTokenSettings(BaseModel):
    """Signed customer tokens (``x-customer-token``): who the assistant acts for."""

    default_ttl_s: int = Field(3600, ge=1, description="Lifetime of a token minted without a ttl.")
    max_ttl_s: int = Field(
        86_400,
        ge=1,
        description="Longest lifetime a token may be minted with; also how long a rotated-out "
        "secret still verifies by default, so the tokens it signed live out their expiry.",
    )

    @model_validator(mode="after")
    def _check_ttls(self) -> CustomerTokenSettings:
        if self.default_ttl_s > self.max_ttl_s:
            raise ValueError("customer_tokens.default_ttl_s must be <= max_ttl_s")
        return self


class GatewaySettings(BaseModel):
    """API keys, rate limits, budgets, provider routing, request log, metrics, traces."""

    auth: Literal["auto", "on", "off"] = Field(
        "auto", description="auto: on unless the server binds a loopback address."
    )
    db_path: Path | None = Field(
        None, description="Keys, spend and request log (default <data_dir>/gateway.sqlite3)."
    )
    budget_period: Literal["day", "month"] = Field(
        "month", description="Tenant and key budgets reset every day or calendar month (UTC)."
    )
    providers: list[ProviderSettings] = Field(
        default_factory=list, description="Besides 'local', the engine of `switchboard serve`."
    )
    routes: dict[str, RouteSettings] = Field(
        default_factory=dict, description="Model aliases; served model names go to 'local'."
    )
    prices: dict[str, Price] = Field(
        default_factory=dict, description="By the model name a provider serves."
    )
    limits: LimitSettings = Field(default_factory=LimitSettings)
    customer_tokens: CustomerTokenSettings = Field(default_factory=CustomerTokenSettings)
    log: RequestLogSettings = Field(default_factory=RequestLogSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    guard: bool = Field(True, description="Apply the guardrails (settings.guard) to chat.")
    cache: bool = Field(True, description="Use the response cache (settings.cache) for chat.")

    @model_validator(mode="after")
    def _check_routes(self) -> GatewaySettings:
        names = [p.name for p in self.providers]
        if len(set(names)) != len(names):
            raise ValueError("provider names must be unique")
        known = {"local", *names}
        for alias, route in self.routes.items():
            for target in route.targets:
                if target.provider not in known:
                    raise ValueError(f"route {alias!r} names unknown provider {target.provider!r}")
        return self


GuardCategory = Literal["pii", "injection", "toxicity"]
GuardAction = Literal["allow", "flag", "redact", "block"]

DEFAULT_POLICY: dict[GuardCategory, GuardAction] = {
    "pii": "redact",
    "injection": "block",
    "toxicity": "block",
}
DEFAULT_PII_ENTITIES = [
    "PERSON",
    "LOCATION",
    "STREET_ADDRESS",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "CARD_EXPIRY",
    "CARD_CVV",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
]


class PiiSettings(BaseModel):
    entities: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PII_ENTITIES),
        description="Presidio entity names to detect.",
    )
    score_threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="Presidio score from which an entity counts."
    )
    ner: bool = Field(True, description="spaCy NER for names and places; off: patterns only.")
    keep: list[str] = Field(
        default_factory=lambda: ["LOCATION"],
        description="Types recorded (flag) but passed on: a town identifies no one on its "
        "own, and delivery and customs answers depend on it.",
    )

    @model_validator(mode="after")
    def _check_entities(self) -> PiiSettings:
        unknown = sorted(set(self.entities + self.keep) - set(DEFAULT_PII_ENTITIES))
        if unknown:
            raise ValueError(
                f"unknown PII entity types {unknown}; supported: {', '.join(DEFAULT_PII_ENTITIES)}"
            )
        return self


class InjectionSettings(BaseModel):
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="Detector score that flags.")


class ToxicitySettings(BaseModel):
    threshold: float = Field(
        0.9,
        ge=0.0,
        le=1.0,
        description="Probability; lower blocks customers who swear at a late parcel.",
    )


class GuardSettings(BaseModel):
    """Guardrails on the customer's message (input) and the model's answer (output).

    The action per category and direction: ``block`` (the caller gets a safe message),
    ``redact`` (the span becomes a placeholder), ``flag`` (passed on, recorded) or ``allow``.
    """

    enabled: bool = Field(True, description="Scan messages and answers (false: no guard).")
    pii: PiiSettings = Field(default_factory=PiiSettings)
    injection: InjectionSettings = Field(default_factory=InjectionSettings)
    toxicity: ToxicitySettings = Field(default_factory=ToxicitySettings)
    input: dict[GuardCategory, GuardAction] = Field(
        default_factory=lambda: dict(DEFAULT_POLICY),
        description="Action per category on what users send (allow, flag, redact, block).",
    )
    output: dict[GuardCategory, GuardAction] = Field(
        default_factory=lambda: dict(DEFAULT_POLICY),
        description="Action per category on streamed answers (injection: prompt leakage).",
    )
    holdback_chars: int = Field(
        64, ge=8, le=1024, description="Most answer text held back while it is checked."
    )
    blocked_input_message: str = Field(
        "Sorry, I can't help with that message. Please rephrase your question about your "
        "order or our shop.",
        description="What the user reads instead of an answer to a blocked message.",
    )
    blocked_output_message: str = Field(
        "Sorry, I can't share that. Is there anything else I can help you with?",
        description="What replaces a blocked answer.",
    )


class CacheSettings(BaseModel):
    """Exact and semantic response cache, shared by the assistant and the gateway."""

    enabled: bool = Field(True, description="Serve and store cached answers.")
    backend: Literal["sqlite", "redis"] = Field(
        "sqlite", description="redis: shared by several replicas."
    )
    db_path: Path | None = Field(None, description="default <data_dir>/cache.sqlite3")
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="The Redis of the redis backend."
    )
    ttl_s: float = Field(24 * 3600.0, gt=0, description="An entry's lifetime.")
    max_entries: int = Field(10_000, ge=1, description="Per scope; least recently used go.")
    semantic: bool = Field(True, description="Nearest-neighbour lookup besides exact keys.")
    similarity_threshold: float = Field(
        0.86,
        ge=0.0,
        le=1.0,
        description="Cosine for a hit: the lowest with <= 1% false hits on the labelled "
        "pairs (switchboard bench cache); lower serves more paraphrases and more wrong answers.",
    )
    fallback_threshold: float = Field(
        0.64,
        ge=0.0,
        le=1.0,
        description="Cosine for an answer served, marked, when no model answers at all.",
    )
    cache_sampled: bool = Field(False, description="Also cache answers sampled at temperature > 0.")
    serve_on_failure: bool = Field(
        True, description="Serve a matching cached answer when every provider fails."
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SWITCHBOARD_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: Path = Field(Path("data"), description="SQLite files and the model cache.")
    model: str = Field(DEFAULT_MODEL, description="Registry name or path to a GGUF file.")
    engine: EngineSettings = Field(default_factory=EngineSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    orders: OrdersSettings = Field(default_factory=OrdersSettings)
    assistant: AssistantSettings = Field(default_factory=AssistantSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    guard: GuardSettings = Field(default_factory=GuardSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def knowledge_store(self) -> str:
        return self.knowledge.store or str(self.data_dir / "knowledge.sqlite3")

    @property
    def jobs_db(self) -> Path:
        return self.knowledge.jobs.db_path or self.data_dir / "jobs.sqlite3"

    @property
    def orders_db(self) -> Path:
        return self.orders.db_path or self.data_dir / "orders.sqlite3"

    @property
    def assistant_db(self) -> Path:
        return self.assistant.db_path or self.data_dir / "assistant.sqlite3"

    @property
    def gateway_db(self) -> Path:
        return self.gateway.db_path or self.data_dir / "gateway.sqlite3"

    @property
    def cache_db(self) -> Path:
        return self.cache.db_path or self.data_dir / "cache.sqlite3"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("SWITCHBOARD_CONFIG", "switchboard.toml"))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )
