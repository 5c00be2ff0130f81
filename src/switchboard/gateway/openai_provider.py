"""The gateway's provider for any OpenAI-compatible HTTP server (vLLM, llama-server, Ollama).

``OpenAIProvider.stream`` POSTs the chat request to ``{base_url}/chat/completions`` and
yields one ``StreamChunk`` per SSE ``data:`` event as soon as it arrives, its bytes passed
through unchanged. Every failure is an ``UpstreamError`` naming the provider (with the HTTP
status when there was one) — except a refusal that is the client's fault (400/413/422),
raised as ``InvalidRequestError`` so no other provider is tried. ``retryable`` says which
failures are worth another try on the same provider.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from switchboard.config import ProviderSettings
from switchboard.errors import InvalidRequestError, UpstreamError
from switchboard.gateway.sse_lines import SSEDecoder
from switchboard.gateway.types import ProviderCall, StreamChunk, Usage

_DONE = b"[DONE]"
_MAX_ERROR_BODY = 4096  # bytes of an error response read for its message
_MAX_MESSAGE = 300  # characters of an upstream message kept in ours
#: Chunks that may carry usage or an error are parsed; the others (nearly all) are only
#: searched for a non-empty content, tool call or function call: JSON parsing each chunk
#: was the gateway's largest cost per streamed token.
_PLAIN = re.compile(rb'"(?:usage|error)"\s*:\s*[{"]')
_TOKENS = re.compile(rb'"(?:content|tool_calls|function_call)"\s*:\s*(?:"[^"]|[\[{])')
CLIENT_FAULT_STATUSES = frozenset({400, 413, 422})
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})


def retryable(exc: UpstreamError) -> bool:
    """Worth another try on the same provider: no status (refused, reset, timed out, cut
    short), a transient status, or a server error. 401/403/404 are not: only the next
    provider may help."""
    status = exc.upstream_status
    return status is None or status in RETRYABLE_STATUSES or status >= 500


class OpenAIProvider:
    """One OpenAI-compatible server, with its own pool of keep-alive HTTP/1.1 connections.

    aiohttp rather than httpx: on the gateway's hot path its C parser costs a fraction of
    the CPU per streamed chunk (measured with ``switchboard bench gateway``).
    """

    def __init__(self, settings: ProviderSettings) -> None:
        if not settings.base_url:
            raise ValueError(f"provider {settings.name!r} needs base_url")
        self._name = settings.name
        self._url = settings.base_url.rstrip("/") + "/chat/completions"
        self._headers = {"accept": "text/event-stream", "content-type": "application/json"}
        if settings.api_key is not None:
            self._headers["authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        self._read_timeout_s = settings.read_timeout_s
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            connect=settings.connect_timeout_s,  # includes waiting for a pooled connection
            sock_connect=settings.connect_timeout_s,
            sock_read=settings.read_timeout_s,  # the longest gap between two chunks
        )
        self._max_connections = settings.max_connections
        self._session: aiohttp.ClientSession | None = None

    @property
    def name(self) -> str:
        return self._name

    def _client(self) -> aiohttp.ClientSession:
        """The session, made on first use inside the serving event loop."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, limit_per_host=self._max_connections
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, auto_decompress=False
            )
        return self._session

    async def stream(self, call: ProviderCall) -> AsyncIterator[StreamChunk]:
        """The chunks of ``call``'s completion; closing this early drops the connection,
        which cancels the upstream request."""
        content = json.dumps(call.body, separators=(",", ":")).encode()
        response: aiohttp.ClientResponse | None = None
        finished = False
        try:
            response = await self._client().post(self._url, data=content, headers=self._headers)
            if response.status >= 300:
                raise await self._refusal(response)
            async for chunk in self._chunks(response):
                yield chunk
            finished = True
        except aiohttp.ConnectionTimeoutError as exc:
            raise UpstreamError(f"provider {self._name!r} timed out connecting") from exc
        except TimeoutError as exc:
            raise UpstreamError(
                f"provider {self._name!r} sent nothing for {self._read_timeout_s:g} s"
            ) from exc
        except aiohttp.ClientError as exc:  # refused, reset, or cut off mid-body
            what = (
                "could not connect"
                if isinstance(exc, aiohttp.ClientConnectorError)
                else ("broke off")
            )
            raise UpstreamError(
                f"connection to provider {self._name!r} {what} ({type(exc).__name__})"
            ) from exc
        finally:
            if response is not None:
                if finished:
                    response.release()  # back to the pool
                else:
                    response.close()  # the upstream sees the connection go

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _chunks(self, response: aiohttp.ClientResponse) -> AsyncIterator[StreamChunk]:
        decoder = SSEDecoder()
        async for piece in response.content.iter_any():
            for data in decoder.feed(piece):
                if data == _DONE:
                    return
                yield self._chunk(data)
        for data in decoder.close():
            if data == _DONE:
                return
            yield self._chunk(data)
        raise UpstreamError(f"the stream from provider {self._name!r} ended without [DONE]")

    def _chunk(self, data: bytes) -> StreamChunk:
        if data[:1] == b"{" and data.rstrip()[-1:] == b"}" and _PLAIN.search(data) is None:
            return StreamChunk(data=data, tokens=_TOKENS.search(data) is not None)
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise UpstreamError(f"provider {self._name!r} sent a malformed chunk: {_clip(data)}")
        if parsed.get("error") is not None:
            raise UpstreamError(
                f"provider {self._name!r} failed mid-stream: {_error_message(parsed)}"
            )
        return StreamChunk(data=data, tokens=_has_tokens(parsed), usage=_usage(parsed))

    async def _refusal(self, response: aiohttp.ClientResponse) -> Exception:
        body = await response.content.read(_MAX_ERROR_BODY)
        parsed = _loads(body)
        message = _error_message(parsed) if parsed is not None else _clip(body)
        status = response.status
        if status in CLIENT_FAULT_STATUSES:
            return InvalidRequestError(message or f"HTTP {status}", param=_error_param(parsed))
        return UpstreamError(
            f"provider {self._name!r} answered HTTP {status}: {message}", upstream_status=status
        )


def _has_tokens(chunk: Mapping[str, Any]) -> bool:
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        return False
    for choice in choices:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if isinstance(delta, dict) and (
            delta.get("content") or delta.get("tool_calls") or delta.get("function_call")
        ):
            return True
    return False


def _usage(chunk: Mapping[str, Any]) -> Usage | None:
    usage = chunk.get("usage")
    if not isinstance(usage, dict):
        return None
    try:
        return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
    except (TypeError, ValueError):
        return None


def _loads(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _error_message(body: Any) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        error = error.get("message", error)
    if error is None and isinstance(body, dict):
        error = body.get("message") or body.get("detail") or body
    return _clip(error if isinstance(error, str) else json.dumps(error))


def _error_param(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    param = error.get("param") if isinstance(error, dict) else None
    return param if isinstance(param, str) else None


def _clip(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"
