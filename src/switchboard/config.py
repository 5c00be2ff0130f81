"""Typed settings, read once at the edge (file + ``SWITCHBOARD_*`` env) and passed down.

Precedence, highest first: constructor arguments, environment variables
(``SWITCHBOARD_ENGINE__MAX_NUM_SEQS=8``), the TOML file named by ``SWITCHBOARD_CONFIG``
(default ``switchboard.toml`` in the working directory, if present), then defaults.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_MODEL = "smollm2-135m:q8_0"


class EngineSettings(BaseModel):
    """Continuous-batching engine limits."""

    kv_cache_tokens: int = Field(8192, ge=64, description="KV cells shared by all sequences.")
    max_model_len: int = Field(2048, ge=16, description="Context window of one request.")
    max_num_seqs: int = Field(16, ge=1, le=256, description="Sequences decoded together.")
    max_batch_tokens: int = Field(256, ge=16, description="Tokens per llama_decode step.")
    max_waiting: int = Field(128, ge=1, description="Waiting-queue bound before 503.")
    n_threads: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    seed: int | None = Field(None, description="Engine-wide seed for unseeded requests.")

    @model_validator(mode="after")
    def _check_window(self) -> EngineSettings:
        if self.max_model_len > self.kv_cache_tokens:
            raise ValueError(
                f"max_model_len ({self.max_model_len}) exceeds kv_cache_tokens "
                f"({self.kv_cache_tokens})"
            )
        return self


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
    engine: EngineSettings = Field(default_factory=EngineSettings)  # type: ignore[arg-type]
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
