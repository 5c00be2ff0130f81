"""Typed settings, read once at the edge (file + ``SWITCHBOARD_*`` env) and passed down.

Precedence, highest first: constructor arguments, environment variables
(``SWITCHBOARD_ENGINE__MAX_NUM_SEQS=8``), the TOML file named by ``SWITCHBOARD_CONFIG``
(default ``switchboard.toml`` in the working directory, if present), then defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_MODEL = "smollm2-135m:q8_0"


class EngineSettings(BaseModel):
    """Continuous-batching engine limits.

    The KV cache is partitioned by default: each of ``max_num_seqs`` sequences owns
    ``max_model_len`` cells, attention runs per sequence (faster on CPU), and a request's
    output does not depend on what it is batched with. ``kv_unified`` instead shares one
    pool of ``kv_cache_tokens`` cells among all sequences, so more of them fit in less
    memory; when the pool runs out the scheduler preempts and recomputes, and floating-point
    rounding then depends on where a sequence's cells sit in the pool.
    """

    max_model_len: int = Field(1024, ge=16, description="Context window of one request.")
    max_num_seqs: int = Field(16, ge=1, le=256, description="Sequences decoded together.")
    max_batch_tokens: int = Field(256, ge=16, description="Tokens per llama_decode step.")
    max_waiting: int = Field(128, ge=1, description="Waiting-queue bound before 503.")
    n_threads: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    seed: int | None = Field(None, description="Engine-wide seed for unseeded requests.")
    flash_attn: bool = Field(True, description="llama.cpp flash attention.")
    kv_unified: bool = Field(False, description="One KV pool shared by all sequences.")
    kv_cache_tokens: int | None = Field(
        None, ge=16, description="Unified pool size (default max_num_seqs x max_model_len)."
    )
    kv_cache_type: Literal["f16", "q8_0"] = "f16"

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


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    retry_after_s: int = Field(1, ge=1, description="Retry-After sent with 503 queue-full.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SWITCHBOARD_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: Path = Path("data")
    model: str = Field(DEFAULT_MODEL, description="Registry name or path to a GGUF file.")
    engine: EngineSettings = Field(default_factory=EngineSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

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
