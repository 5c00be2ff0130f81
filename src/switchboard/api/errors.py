"""Every error leaves the server as OpenAI's error JSON:
``{"error": {"message", "type", "param", "code"}}`` with a matching status code."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from switchboard.errors import AuthenticationError, EngineDeadError, RequestError, StorageError
from switchboard.gateway.openai_responses import ErrorDetail, ErrorResponse
from switchboard.request_body import describe_validation_error

log = logging.getLogger(__name__)


def error_response(
    status_code: int,
    message: str,
    error_type: str,
    *,
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(
        error=ErrorDetail(message=message, type=error_type, param=param, code=code)
    )
    return JSONResponse(body.model_dump(), status_code=status_code, headers=headers)


def request_error_payload(exc: RequestError) -> ErrorResponse:
    """The error JSON of a refused request (also sent as an SSE event mid-stream)."""
    detail = ErrorDetail(message=exc.message, type=exc.error_type, param=exc.param, code=exc.code)
    return ErrorResponse(error=detail)


def auth_error_headers(exc: RequestError) -> dict[str, str]:
    """``Retry-After`` and ``WWW-Authenticate``, where they apply."""
    headers = {}
    if exc.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    if isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
    return headers


async def handle_request_error(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestError):
        raise exc
    if isinstance(exc, StorageError):  # the operator's to fix: the message says how
        log.error("%s", exc.message)
    return JSONResponse(
        request_error_payload(exc).model_dump(),
        status_code=exc.status_code,
        headers=auth_error_headers(exc) or None,
    )


def engine_dead_payload(exc: EngineDeadError) -> ErrorResponse:
    return ErrorResponse(error=ErrorDetail(message=str(exc), type="server_error", code=exc.code))


def stream_error_payload(exc: BaseException) -> ErrorResponse:
    """The error JSON sent in-band when a stream fails after its status line went out."""
    if isinstance(exc, RequestError):
        return request_error_payload(exc)
    if isinstance(exc, EngineDeadError):
        return engine_dead_payload(exc)
    detail = ErrorDetail(
        message="internal server error", type="server_error", code="internal_error"
    )
    return ErrorResponse(error=detail)


async def handle_engine_dead(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, EngineDeadError):
        raise exc
    return JSONResponse(engine_dead_payload(exc).model_dump(), status_code=exc.status_code)


async def handle_validation_error(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        raise exc
    described = [describe_validation_error(error) for error in exc.errors()] or [
        ("invalid request", None)
    ]
    message = "; ".join(text for text, _ in described)
    return error_response(400, message, "invalid_request_error", param=described[0][1])


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route of ``app`` answers at ``path``, sorted. Starlette's 405 names
    only the first route matching the path, so a path served by two routes (``GET`` and
    ``DELETE`` of one key) would hide one of them."""
    methods: set[str] = set()
    for route in iter_route_contexts(app.routes):
        if route.methods and route.path and compile_path(route.path)[0].match(path):
            methods |= route.methods
    return sorted(methods)


async def handle_http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, HTTPException):
        raise exc
    code = "not_found" if exc.status_code == 404 else None
    headers = exc.headers
    if exc.status_code == 405:
        path = request.scope["path"].removeprefix(request.scope.get("root_path", ""))
        allowed = allowed_methods(request.app, path)
        headers = {**(headers or {}), "Allow": ", ".join(allowed)}
    return error_response(
        exc.status_code, str(exc.detail), "invalid_request_error", code=code, headers=headers
    )


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal server error", "server_error", code="internal_error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestError, handle_request_error)
    app.add_exception_handler(EngineDeadError, handle_engine_dead)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(HTTPException, handle_http_error)
    app.add_exception_handler(Exception, handle_unexpected)
