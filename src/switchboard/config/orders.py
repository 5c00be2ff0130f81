"""The demo shop's Order API service."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, model_validator


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
