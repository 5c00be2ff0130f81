"""The HTTP server: address, request body limits."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field


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
