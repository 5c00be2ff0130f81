"""The response cache."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


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
    shop_words: Path | None = Field(
        None,
        description="TOML file of the shop's places, products, brands and audiences with "
        "their aliases, which set two cached questions apart (default: the demo shop's, "
        "switchboard/demo/shop_words.toml).",
    )
