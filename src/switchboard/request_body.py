"""Request bodies: the strict base every body of the HTTP API derives from, and a refused
body described in one line.

A body's texts must be valid Unicode and its values have the JSON types the API document
states (``true`` is not the integer 1). A validation error becomes OpenAI's message and
``param`` (``messages[0].content``), whether FastAPI or a provider validated the body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Strict, field_validator

#: The largest integer SQLite (and the request log, the key store) can hold.
MAX_INT64 = 2**63 - 1


def check_unicode(value: object) -> None:
    """Raise ``ValueError`` if a text in ``value`` (a string, or strings inside lists and
    dicts) holds a lone surrogate: JSON's ``\\ud800`` escape decodes to one, and no
    tokenizer, SQLite or JSON encoder accepts it."""
    if invalid_text_at(value) is not None:
        raise ValueError("not valid Unicode text (a lone surrogate)")


def invalid_text_at(value: object, path: str = "") -> str | None:
    """Where in ``value`` the first text with a lone surrogate is (``messages[1].content``;
    ``""`` for ``value`` itself), or ``None``."""
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                return path
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if (found := invalid_text_at(item, f"{path}[{i}]")) is not None:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if (found := invalid_text_at(key, child) or invalid_text_at(item, child)) is not None:
                return found
    return None


#: An enum field of a strict request body (``Annotated[Scope, Lax]``): JSON gives its value.
Lax = Strict(False)


class RequestBody(BaseModel):
    """Base of every request body: each field's texts must be valid Unicode, and values
    have the JSON types the API document states (strict: ``true`` is not the integer 1,
    ``"5"`` is not a number; enum fields take their values, see ``Lax``)."""

    model_config = ConfigDict(strict=True)

    @field_validator("*", mode="after")
    @classmethod
    def _valid_unicode(cls, value: object) -> object:
        check_unicode(value)
        return value


def _param(loc: Sequence[int | str]) -> str | None:
    """``("body", "messages", 0, "content")`` → ``messages[0].content``."""
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path") else loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def describe_validation_error(error: Mapping[str, Any]) -> tuple[str, str | None]:
    """One readable line and the offending parameter of one pydantic error."""
    loc = tuple(error.get("loc", ()))
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if error.get("type") == "json_invalid":
        return f"the request body is not valid JSON: {message}", None
    param = _param(loc)
    if error.get("type") == "extra_forbidden" and param is not None:
        return f"Unrecognized request argument supplied: {param}", param
    if param is None:
        return f"invalid request body: {message}", None
    return f"invalid value for '{param}': {message}", param
