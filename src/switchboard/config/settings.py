"""All settings, read once at the edge: the TOML file, then the environment."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from switchboard.config.assistant import AssistantSettings
from switchboard.config.cache import CacheSettings
from switchboard.config.engine import EngineSettings
from switchboard.config.gateway import GatewaySettings
from switchboard.config.guard import GuardSettings
from switchboard.config.knowledge import KnowledgeSettings
from switchboard.config.orders import OrdersSettings
from switchboard.config.server import ServerSettings

DEFAULT_MODEL = "smollm2-135m:q8_0"


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
    def assistants_dir(self) -> Path:
        return self.assistant.definitions_dir or self.data_dir / "assistants"

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
