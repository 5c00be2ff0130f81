"""A tool that is an HTTP endpoint: its declaration, validated once, with clear errors.

The URL is an absolute http(s) template: each ``{name}`` is a whole path segment filled
from the argument of that name. The other arguments go in the query string, or, for POST,
PUT and PATCH, in a JSON body (``body`` names them; default: all of them). ``end_user``
names the argument the server fills with the verified end user's id: the model never sees
it and cannot set it. A ``write`` tool (default: every method but GET) runs only when the
caller says the user confirmed it, and is never retried.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from switchboard.tools.schema import check_schema

NAME = r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$"
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_READ_RETRIES = 2


class HttpMethod(StrEnum):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"

    @property
    def has_body(self) -> bool:
        return self in (HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH)


class HttpToolSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME, description="The function name the model calls.")
    description: str = Field(min_length=1)
    method: HttpMethod = HttpMethod.GET
    url: str = Field(description="Absolute http(s) URL; {name} path segments are arguments.")
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    body: tuple[str, ...] | None = None
    end_user: str | None = None
    write: bool = False  # default filled by method: see _defaults
    timeout_s: float = Field(5.0, gt=0, le=300)
    retries: int = Field(DEFAULT_READ_RETRIES, ge=0, le=10)
    max_response_bytes: int = Field(1_000_000, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    secret_header: str | None = None
    secret_env: str | None = None
    secret_prefix: str = ""

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        """``write`` defaults to true for every method but GET; writes default to 0 retries."""
        if isinstance(data, dict):
            method = str(data.get("method", "GET")).upper()
            data = {**data, "method": method}
            data.setdefault("write", method != "GET")
            if data["write"] is True:
                data.setdefault("retries", 0)
        return data

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url must be an absolute http(s) URL, not {url!r}")
        if PLACEHOLDER.search(parts.netloc + parts.query + parts.fragment) or parts.fragment:
            raise ValueError("url: only path segments may be {arguments}; no fragment")
        for segment in parts.path.split("/"):
            if ("{" in segment or "}" in segment) and not re.fullmatch(r"\{[^{}]+\}", segment):
                raise ValueError(f"url: {segment!r} must be a whole path segment like {{name}}")
        return url

    @field_validator("parameters")
    @classmethod
    def _check_parameters(cls, schema: dict[str, Any]) -> dict[str, Any]:
        check_schema(schema)
        if schema.get("type") != "object" or not isinstance(schema.get("properties", {}), dict):
            raise ValueError("parameters must be a schema with type 'object' and properties")
        unknown = set(schema.get("required", [])) - set(schema.get("properties", {}))
        if unknown:
            raise ValueError(f"parameters.required names no property: {sorted(unknown)}")
        return schema

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not HEADER.fullmatch(name):
                raise ValueError(f"headers: {name!r} is not a header name")
            if not value.isprintable():
                raise ValueError(f"headers: {name!r} cannot hold line breaks or control characters")
        return headers

    @model_validator(mode="after")
    def _check_together(self) -> HttpToolSpec:
        properties = self.properties
        missing = [p for p in self.path_arguments if p not in properties]
        if missing:
            raise ValueError(f"url placeholders {missing} are not in parameters.properties")
        if self.end_user is not None and self.end_user not in properties:
            raise ValueError(f"end_user {self.end_user!r} is not in parameters.properties")
        if self.body is not None:
            if not self.method.has_body:
                raise ValueError(f"body: a {self.method} request has no body")
            wrong = [b for b in self.body if b not in properties or b in self.path_arguments]
            if wrong:
                raise ValueError(f"body names {wrong}: not properties, or path arguments")
        if self.write and self.retries:
            raise ValueError("retries: a write tool is never retried (set retries = 0)")
        if (self.secret_header is None) != (self.secret_env is None):
            raise ValueError("secret_header and secret_env go together")
        if self.secret_header is not None and not HEADER.fullmatch(self.secret_header):
            raise ValueError(f"secret_header {self.secret_header!r} is not a header name")
        if self.secret_env is not None and not ENV_NAME.fullmatch(self.secret_env):
            raise ValueError(f"secret_env {self.secret_env!r} is not an environment variable")
        return self

    @property
    def properties(self) -> dict[str, Any]:
        properties: dict[str, Any] = self.parameters.get("properties", {})
        return properties

    @property
    def path_arguments(self) -> tuple[str, ...]:
        return tuple(PLACEHOLDER.findall(urlsplit(self.url).path))

    @property
    def body_arguments(self) -> tuple[str, ...]:
        """The arguments sent as the JSON body (none for GET and DELETE)."""
        if self.body is not None:
            return self.body
        if not self.method.has_body:
            return ()
        return tuple(p for p in self.properties if p not in self.path_arguments)

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    def model_parameters(self) -> dict[str, Any]:
        """The schema the model sees: without the end-user argument."""
        if self.end_user is None:
            return self.parameters
        schema = dict(self.parameters)
        schema["properties"] = {k: v for k, v in self.properties.items() if k != self.end_user}
        if "required" in schema:
            schema["required"] = [r for r in schema["required"] if r != self.end_user]
        return schema

    def openai_tool(self) -> dict[str, Any]:
        """The OpenAI function-calling declaration of this tool."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.model_parameters(),
            },
        }
