"""The local engine: batching limits, KV cache, prefix reuse, speculative decoding."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, Field, model_validator


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
