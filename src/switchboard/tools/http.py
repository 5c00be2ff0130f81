"""Calling an HTTP tool: arguments checked, end user filled in, and every failure an outcome.

    call(arguments, end_user=..., confirmed=...)
      parse and check the arguments against the schema ─ invalid_arguments
      drop the model's own end-user argument (flagged), fill the verified one ─ no_end_user
      a write tool without confirmed=True ─ needs_confirmation (nothing is sent)
      build the URL (path segments quoted); its host must be allowed ─ host_not_allowed
      the host's circuit breaker admits the call ─ unavailable
      send; reads retry timeouts, connection errors, 429 and 5xx with backoff ─ unavailable
      read the answer streamed, up to the size cap ─ bad_response
      2xx: ok, the JSON (or text) as data; a redirect or another 4xx ─ refused

Nothing raises to the caller: the model or the orchestrator reads ``ToolOutcome.error``
("get_order is unavailable: ..."), never a traceback. Redirects are not followed. A write
tool is logged with its status; its arguments and the secret header never are.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from switchboard.backoff import backoff_delay
from switchboard.circuit_breaker import CircuitBreaker
from switchboard.errors import CircuitOpenError
from switchboard.tools.schema import schema_errors
from switchboard.tools.spec import PLACEHOLDER, HttpToolSpec

log = logging.getLogger(__name__)
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class ToolFailure(StrEnum):
    INVALID_ARGUMENTS = "invalid_arguments"  # the model's arguments do not fit the schema
    NO_END_USER = "no_end_user"  # the tool acts for an end user and none is verified
    NEEDS_CONFIRMATION = "needs_confirmation"  # a write tool, not confirmed: nothing sent
    HOST_NOT_ALLOWED = "host_not_allowed"
    UNAVAILABLE = "unavailable"  # timeout, connection error, 429/5xx, or the breaker is open
    REFUSED = "refused"  # the API answered 4xx, or a redirect (not followed)
    BAD_RESPONSE = "bad_response"  # over the size cap, or JSON that does not parse


@dataclass(frozen=True)
class ToolOutcome:
    ok: bool
    status: int | None = None  # the HTTP status, None when no answer came
    data: Any = None  # the parsed JSON or the text of the answer; for needs_confirmation,
    # the checked arguments (without the end user) to put to the user before the call
    error: str | None = None  # one line for the model or the orchestrator
    failure: ToolFailure | None = None
    elapsed_s: float = 0.0
    flags: tuple[str, ...] = ()  # what was ignored, e.g. a model-supplied end-user id


@dataclass(frozen=True)
class RetryTiming:
    base_s: float = 0.2
    cap_s: float = 2.0


class _Failed(Exception):
    def __init__(
        self, failure: ToolFailure, message: str, status: int | None = None, data: Any = None
    ) -> None:
        super().__init__(message)
        self.failure = failure
        self.status = status
        self.data = data


@dataclass
class HttpTool:
    """One tool, ready to call; built by ``ToolRegistry`` (which owns the client)."""

    spec: HttpToolSpec
    client: httpx.AsyncClient
    breaker: CircuitBreaker
    allowed_hosts: frozenset[str]
    headers: Mapping[str, str] = field(repr=False, default_factory=dict)
    timing: RetryTiming = field(default_factory=RetryTiming)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rand: Callable[[], float] = random.random
    clock: Callable[[], float] = time.monotonic

    async def call(
        self, arguments: Mapping[str, Any] | str, *, end_user: str | None, confirmed: bool = False
    ) -> ToolOutcome:
        started = self.clock()
        flags: list[str] = []
        try:
            request = self._request(self._arguments(arguments, end_user, flags), confirmed)
            status, data = await self._send(request)
            outcome = ToolOutcome(ok=True, status=status, data=data)
        except _Failed as failed:
            error = f"{self.spec.name}: {failed}"
            outcome = ToolOutcome(
                ok=False,
                status=failed.status,
                data=failed.data,
                error=error,
                failure=failed.failure,
            )
        if self.spec.write and confirmed:
            log.info(
                "write tool called: %s", outcome.error or f"{self.spec.name}: HTTP {outcome.status}"
            )
        return replace(outcome, elapsed_s=self.clock() - started, flags=tuple(flags))

    def _arguments(
        self, arguments: Mapping[str, Any] | str, end_user: str | None, flags: list[str]
    ) -> dict[str, Any]:
        values = _parsed(arguments)
        name = self.spec.end_user
        if name is not None:
            if name in values:
                flags.append(f"ignored the model's {name!r}: the server fills it")
                log.warning("tool %s: the model passed %r; ignored", self.spec.name, name)
                del values[name]
            if not end_user:
                raise _Failed(ToolFailure.NO_END_USER, "no verified end user for this tool")
            values[name] = end_user
        schema = {"additionalProperties": False, **self.spec.parameters}
        errors = schema_errors(schema, values)
        if errors:
            raise _Failed(ToolFailure.INVALID_ARGUMENTS, "; ".join(errors))
        return values

    def _request(self, values: dict[str, Any], confirmed: bool) -> httpx.Request:
        if self.spec.write and not confirmed:
            raise _Failed(
                ToolFailure.NEEDS_CONFIRMATION,
                "this changes something: ask the user to confirm, then call it again",
                data={k: v for k, v in values.items() if k != self.spec.end_user},
            )
        url = PLACEHOLDER.sub(lambda m: _segment(m[1], values), self.spec.url)
        if not host_allowed(url, self.allowed_hosts):
            raise _Failed(ToolFailure.HOST_NOT_ALLOWED, f"host {urlsplit(url).netloc} not allowed")
        in_path = self.spec.path_arguments
        in_body = self.spec.body_arguments
        query = {k: _query_value(v) for k, v in values.items() if k not in in_path + in_body}
        body = {k: values[k] for k in in_body if k in values}
        return self.client.build_request(
            self.spec.method.value,
            url,
            params=query or None,
            json=body if self.spec.method.has_body else None,
            headers=dict(self.headers),
            timeout=self.spec.timeout_s,
        )

    async def _send(self, request: httpx.Request) -> tuple[int, Any]:
        try:
            self.breaker.before_call()
        except CircuitOpenError as exc:
            raise _Failed(ToolFailure.UNAVAILABLE, f"unavailable ({exc})") from None
        try:
            status, content, media = await self._attempts(request)
        except _Failed as failed:
            if failed.failure is ToolFailure.UNAVAILABLE:
                self.breaker.record_failure()
            else:
                self.breaker.record_success()  # it answered
            raise
        self.breaker.record_success()
        return _answer(status, content, media)

    async def _attempts(self, request: httpx.Request) -> tuple[int, bytes, str]:
        attempts = 1 + (0 if self.spec.write else self.spec.retries)
        failure = ""
        for attempt in range(attempts):
            if attempt:
                delay = backoff_delay(
                    attempt - 1, self.timing.base_s, self.timing.cap_s, self.rand()
                )
                await self.sleep(delay)
            try:
                async with asyncio.timeout(self.spec.timeout_s):
                    status, content, media = await self._attempt(request)
            except httpx.DecodingError as exc:
                reason = f"the answer could not be decoded ({type(exc).__name__})"
                raise _Failed(ToolFailure.BAD_RESPONSE, reason) from None
            except (httpx.HTTPError, TimeoutError) as exc:  # connection errors, timeouts...
                failure = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
                continue
            if status not in RETRYABLE_STATUS:
                return status, content, media
            failure = f"HTTP {status}"
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        doubt = "; the change may or may not have been made" if self.spec.write else ""
        raise _Failed(ToolFailure.UNAVAILABLE, f"unavailable ({failure}{tries}){doubt}")

    async def _attempt(self, request: httpx.Request) -> tuple[int, bytes, str]:
        cap = self.spec.max_response_bytes
        response = await self.client.send(request, stream=True, follow_redirects=False)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                raise _too_large(cap, response.status_code)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise _too_large(cap, response.status_code)
                chunks.append(chunk)
        finally:
            await response.aclose()
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        return response.status_code, b"".join(chunks), media


def host_allowed(url: str, allowed_hosts: frozenset[str]) -> bool:
    """Whether the URL's host (or ``host:port``) is in the allow-list (lower case)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return host in allowed_hosts or f"{host}:{parts.port}" in allowed_hosts


def _parsed(arguments: Mapping[str, Any] | str) -> dict[str, Any]:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except json.JSONDecodeError as exc:
            raise _Failed(ToolFailure.INVALID_ARGUMENTS, f"arguments are not JSON: {exc}") from None
    if not isinstance(arguments, Mapping):
        raise _Failed(ToolFailure.INVALID_ARGUMENTS, "arguments must be a JSON object")
    return dict(arguments)


def _segment(name: str, values: Mapping[str, Any]) -> str:
    if name not in values:
        raise _Failed(ToolFailure.INVALID_ARGUMENTS, f"arguments.{name} is required")
    value = _query_value(values[name])
    if not isinstance(value, str) or value in ("", ".", "..") or "/" in value or "\\" in value:
        raise _Failed(ToolFailure.INVALID_ARGUMENTS, f"arguments.{name} is no path segment")
    return quote(value, safe="")


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list) and not (
        isinstance(value, list) and all(isinstance(v, str | int | float) for v in value)
    ):
        return json.dumps(value, separators=(",", ":"))
    return value if isinstance(value, list) else str(value)


def _too_large(cap: int, status: int) -> _Failed:
    return _Failed(ToolFailure.BAD_RESPONSE, f"the answer is over {cap} bytes", status)


def _answer(status: int, content: bytes, media: str) -> tuple[int, Any]:
    """The data of a 2xx answer; a redirect or 4xx raises ``_Failed`` with the API's reason."""
    is_json = media == "application/json" or media.endswith("+json")
    text = content.decode("utf-8", errors="replace")
    if 300 <= status < 400:
        raise _Failed(ToolFailure.REFUSED, f"HTTP {status} redirect not followed", status)
    if status >= 400:
        raise _Failed(ToolFailure.REFUSED, f"HTTP {status}: {_reason(text, is_json)}", status)
    if not is_json:
        return status, text
    try:
        return status, json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        raise _Failed(ToolFailure.BAD_RESPONSE, "the answer is not valid JSON", status) from None


def _reason(text: str, is_json: bool) -> str:
    """The message of an OpenAI-shaped (or FastAPI ``detail``) error, else the text's start."""
    if is_json:
        try:
            body = json.loads(text)
        except json.JSONDecodeError:
            body = None
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, dict) and isinstance(error.get("message"), str):
                return str(error["message"])
            if isinstance(body.get("detail"), str):
                return str(body["detail"])
    return " ".join(text.split())[:200] or "no reason given"
