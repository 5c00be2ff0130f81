"""Tools declared by hand in a TOML file.

    base_url = "https://api.example.com"      # optional; the caller may give or override it
    [defaults]                                # optional: merged under every tool
    secret_header = "Authorization"
    secret_prefix = "Bearer "
    secret_env = "EXAMPLE_API_TOKEN"

    [[tools]]
    name = "get_order"
    description = "One of the customer's orders."
    path = "/customers/{customer_id}/orders/{order_id}"   # or url = "https://..."
    end_user = "customer_id"
    [tools.parameters]
    type = "object"
    required = ["customer_id", "order_id"]
    [tools.parameters.properties.customer_id]
    type = "string"
    [tools.parameters.properties.order_id]
    type = "string"

Every other key of a tool is a field of ``HttpToolSpec``. Errors are one line naming the
file and the tool.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from switchboard.tools.spec import HttpToolSpec

FILE_KEYS = frozenset({"base_url", "defaults", "tools"})


def load_tool_file(path: Path, *, base_url: str | None = None) -> list[HttpToolSpec]:
    """The tools declared in ``path``; ``base_url`` (if given) replaces the file's."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the tool declarations: {exc}") from None
    try:
        return tool_specs(document, base_url=base_url)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def tool_specs(document: Mapping[str, Any], *, base_url: str | None = None) -> list[HttpToolSpec]:
    """The tools of a parsed declarations document (see the module's docstring)."""
    unknown = set(document) - FILE_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)} (expected {sorted(FILE_KEYS)})")
    tools = document.get("tools")
    if not isinstance(tools, list) or not tools:
        raise ValueError("declares no [[tools]]")
    base = base_url or document.get("base_url")
    defaults = document.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ValueError("[defaults] must be a table")
    return [declared_spec({**defaults, **tool}, base, number) for number, tool in enumerate(tools)]


def declared_spec(fields: dict[str, Any], base_url: str | None, number: int = 0) -> HttpToolSpec:
    """One tool from its fields; ``path`` is joined to ``base_url`` into ``url``."""
    label = f"tool {fields.get('name', f'#{number + 1}')}"
    if "path" in fields:
        if "url" in fields:
            raise ValueError(f"{label}: give url or path, not both")
        if not base_url:
            raise ValueError(f"{label}: a path needs a base_url (in the file or from the caller)")
        fields = {k: v for k, v in fields.items() if k != "path"} | {
            "url": base_url.rstrip("/") + "/" + str(fields["path"]).lstrip("/")
        }
    try:
        return HttpToolSpec.model_validate(fields)
    except ValidationError as exc:
        raise ValueError(f"{label}: {one_line(exc)}") from None


def one_line(exc: ValidationError) -> str:
    """A pydantic error as one line: ``field: message; field: message``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)
