"""The demo shop's Order API service."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, Field, field_validator, model_validator

DEMO_ORDER_ID_PATTERN = r"(?i)\bLK[-\u2013 ]?(\d{6})\b"
"""The demo shop's order numbers: ``LK-123456`` in any case, with a hyphen, an en dash, a
space or nothing between the letters and exactly six digits."""


class OrdersSettings(BaseModel):
    """The shop's order numbers, and the demo shop's Order API (a separate service with its
    own SQLite database)."""

    id_pattern: str = Field(
        DEMO_ORDER_ID_PATTERN,
        description="A regular expression for an order number as customers type it, with "
        "one capture group around the part that identifies the order (default: the demo "
        "shop's LK-123456, in any case, with a hyphen, en dash, space or nothing). Order "
        "numbers are looked up by the assistant, never PII to the guard, and set two cached "
        "questions apart.",
    )
    id_format: str = Field(
        "LK-{}",
        description="An order number's canonical form: '{}' stands for the captured group.",
    )

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

    @field_validator("id_pattern")
    @classmethod
    def _check_id_pattern(cls, value: str) -> str:
        return checked_id_pattern(value, "orders.id_pattern")

    @field_validator("id_format")
    @classmethod
    def _check_id_format(cls, value: str) -> str:
        return checked_id_format(value, "orders.id_format")

    @model_validator(mode="after")
    def _check_port(self) -> OrdersSettings:
        if not self.start_with_server and self.port == 0:
            raise ValueError(
                "orders.port must name the Order API's port when start_with_server is false"
            )
        return self


def checked_id_pattern(value: str, label: str) -> str:
    """``value`` if it is a regular expression with one capture group (a record number
    and the part of it that identifies the record); else ``ValueError`` naming ``label``."""
    try:
        groups = re.compile(value).groups
    except re.error as exc:
        raise ValueError(f"{label} is no regular expression: {exc}") from None
    if groups != 1:
        raise ValueError(f"{label} needs exactly one capture group, not {groups}")
    return value


def checked_id_format(value: str, label: str) -> str:
    """``value`` if it holds exactly one ``{}`` (the captured part) and no other braces."""
    rest = value.replace("{}", "", 1)
    if "{}" not in value or "{" in rest or "}" in rest:
        raise ValueError(f"{label} needs exactly one '{{}}' and no other braces")
    return value
