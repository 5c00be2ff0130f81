"""The OpenAPI document at ``/openapi.json``: FastAPI's description of each route,
completed once here for every route, those of today and those added later.

- Errors: every failure is OpenAI's error JSON (``ErrorResponse``) and FastAPI's 422 never
  happens (validation errors are 400s, ``api/errors.py``). Each operation lists 400 when
  it takes parameters or a body, 401 and 403 when it needs an API key, 413 when it takes a
  body; a route names the others it can give with ``responses=error_responses(404, ...)``.
- Streams: ``event_stream`` and ``json_or_stream`` describe ``text/event-stream`` answers.
- ``/v1/chat/completions`` is a plain Starlette route (the gateway's hot path skips
  FastAPI's machinery); a ``Described`` route stands for it in the document.
- Security: ``require(scope)`` declares the bearer key (and ``x-api-key``) with its scope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from switchboard.gateway.openai_responses import (
    ChatCompletionChunk,
    CompletionChunk,
    ErrorResponse,
)

REF = "#/components/schemas/{model}"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
    }
}
ERRORS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("Invalid request: a parameter or the body is malformed or out of range.", {}),
    401: (
        "No API key, or an unknown, expired or revoked one.",
        {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    ),
    403: ("The API key lacks this endpoint's scope, or names another tenant.", {}),
    404: ("Not found: the named model, collection, document, key or session.", {}),
    413: ("The request body is over the size limit.", {}),
    429: ("Over the key's requests or tokens per minute, or over its budget.", _RETRY_AFTER),
    500: ("Generating this answer failed (code generation_failed); other requests go on.", {}),
    502: ("A remote model server failed.", {}),
    503: (
        "Unavailable: the engine's queue is full, the engine stopped, or a service this "
        "request needs is down.",
        _RETRY_AFTER,
    ),
}
#: Models the document names outside FastAPI's view of the routes: errors, stream chunks.
REFERENCED: tuple[type[BaseModel], ...] = (ErrorResponse, ChatCompletionChunk, CompletionChunk)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route: each status with the ``ErrorResponse`` JSON body."""
    return {status: _error(status) for status in statuses}


def event_stream(description: str, item_schema: dict[str, Any]) -> dict[str, Any]:
    """A 200 answer streamed as server-sent events, each event an object of ``event``,
    ``data`` (OpenAPI 3.2's ``itemSchema``, as FastAPI writes it)."""
    content = {"text/event-stream": {"itemSchema": item_schema}}
    return {"description": description, "content": content}


def named_events(*names: str) -> dict[str, Any]:
    """Events ``event: <name>`` (one of ``names``) whose ``data`` is a JSON object."""
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {"event": {"enum": list(names)}, "data": _json_text({"type": "object"})},
    }


def openai_events(chunk: type[BaseModel]) -> dict[str, Any]:
    """OpenAI's stream: ``data: <chunk>`` events, an error's ``data: <ErrorResponse>``, and
    ``data: [DONE]`` at the end."""
    payload = {"anyOf": [_ref(chunk), _ref(ErrorResponse)]}
    data = {"anyOf": [{"const": "[DONE]"}, _json_text(payload)]}
    return {"type": "object", "required": ["data"], "properties": {"data": data}}


def json_or_stream(
    model: type[BaseModel], chunk: type[BaseModel], description: str
) -> dict[str, Any]:
    """A 200 answer that is ``model`` as JSON, or with ``"stream": true`` OpenAI's stream of
    ``chunk``s (``description``; ``chunk`` must be in ``REFERENCED``)."""
    return {**event_stream(description, openai_events(chunk)), "model": model}


@dataclass(frozen=True)
class Described:
    """A route served outside FastAPI, as the document shows it: ``route`` (never mounted)
    lends its path, dependencies (the scope) and responses; ``body`` is the JSON it reads."""

    route: APIRoute
    body: type[BaseModel]


def described(
    path: str,
    endpoint: Callable[..., Any],
    body: type[BaseModel],
    *,
    dependencies: Sequence[Any],
    responses: dict[int | str, dict[str, Any]],
) -> Described:
    """A ``POST`` route taking ``body`` as JSON, for the document only."""
    request_body = {
        "required": True,
        "content": {"application/json": {"schema": _ref(body)}},
    }
    route = APIRoute(
        path,
        endpoint,
        methods=["POST"],
        response_model=None,
        dependencies=list(dependencies),
        responses=responses,
        openapi_extra={"requestBody": request_body},
    )
    return Described(route, body)


class DocumentedAPI(FastAPI):
    """A FastAPI app whose ``openapi()`` is the completed document, with the ``described``
    routes in it. Built on the first request for it, once the app is assembled."""

    def __init__(self, *, described: Sequence[Described] = (), **kwargs: Any) -> None:
        super().__init__(docs_url=None, redoc_url=None, **kwargs)
        self.described = list(described)
        self._document: dict[str, Any] | None = None

    def openapi(self) -> dict[str, Any]:
        if self._document is None:
            document = get_openapi(
                title=self.title,
                version=self.version,
                description=self.description,
                routes=[*self.routes, *(d.route for d in self.described)],
            )
            models = [*REFERENCED, *(d.body for d in self.described)]
            self._document = complete(document, models)
        return self._document


def complete(document: dict[str, Any], models: Sequence[type[BaseModel]]) -> dict[str, Any]:
    """``document`` with ``models`` among its schemas, the default error responses on every
    operation and no trace of FastAPI's validation error."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    _, definitions = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    for name, schema in definitions.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    for operation in operations(document):
        responses = operation.setdefault("responses", {})
        responses.pop("422", None)
        for status in _default_errors(operation):
            responses.setdefault(str(status), _error(status))
        for response in responses.values():
            stream = response.get("content", {}).get("text/event-stream", {})
            if "itemSchema" in stream:
                stream.pop("schema", None)  # FastAPI's "a string" for a streaming response
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    return document


def operations(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for item in document.get("paths", {}).values():
        yield from (item[method] for method in HTTP_METHODS if method in item)


def _default_errors(operation: dict[str, Any]) -> list[int]:
    takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
    statuses = [400] if takes_input else []
    if operation.get("security"):
        statuses += [401, 403]
    if operation.get("requestBody"):
        statuses.append(413)
    return statuses


def _error(status: int) -> dict[str, Any]:
    """One error response, always JSON (also on a route whose answer is a stream)."""
    description, headers = ERRORS[status]
    content = {"application/json": {"schema": _ref(ErrorResponse)}}
    response: dict[str, Any] = {"description": description, "content": content}
    if headers:
        response["headers"] = headers
    return response


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json_text(schema: dict[str, Any]) -> dict[str, Any]:
    """A string holding JSON that ``schema`` describes."""
    return {"type": "string", "contentMediaType": "application/json", "contentSchema": schema}
