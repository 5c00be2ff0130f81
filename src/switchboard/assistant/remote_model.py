"""A ``ChatModel`` served by a remote OpenAI-compatible server: vLLM, llama.cpp's
llama-server, Ollama or OpenAI itself.

Generation streams from ``POST /v1/chat/completions`` as server-sent events, one JSON
chunk per ``data:`` line and ``data: [DONE]`` last. Text arrives in
``choices[0].delta.content``. A tool call arrives in fragments keyed by ``index``: the
first carries ``id`` and ``function.name``, the rest carry pieces of
``function.arguments``; they are joined and handed over in the final ``Delta``, with the
``finish_reason`` and, when the server reports it (``stream_options.include_usage``, a last
chunk with no choices), the token usage.

Prompt counting cannot ask the server once per candidate prompt, so it is local: a
``PromptCounter``, normally ``GGUFPromptCounter`` over the served model's own GGUF
(vocabulary and chat template only, no weights).

Every failure of the server — a non-2xx answer, no connection, a stream that stalls longer
than ``timeout_s`` between chunks, breaks off, is malformed or ends unfinished — raises
``UpstreamError``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from switchboard.assistant.types import Delta, Message, ToolCall
from switchboard.config import RemoteModelSettings
from switchboard.engine.prompt_counter import GGUFPromptCounter
from switchboard.errors import UpstreamError

Tools = Sequence[Mapping[str, Any]]
CHAT_PATH = "/v1/chat/completions"
DONE = "[DONE]"
MAX_ERROR_CHARS = 500


class PromptCounter(Protocol):
    def count(self, messages: Sequence[Message], tools: Tools | None = None) -> int:
        """The prompt tokens of ``messages`` and ``tools`` under the served model's template."""
        ...


class RemoteChatModel:
    """Async; call ``aclose()`` when done. Safe to share between tasks."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        max_model_len: int,
        tokenizer: PromptCounter,
        supports_tools: bool = True,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        owns_tokenizer: bool = False,
    ) -> None:
        if max_model_len <= 0 or timeout_s <= 0 or connect_timeout_s <= 0:
            raise ValueError("max_model_len, timeout_s and connect_timeout_s must be positive")
        self.name = model
        self.max_model_len = max_model_len
        self.supports_tools = supports_tools
        self.tokenizer = tokenizer
        self.timeout_s = timeout_s
        self._owns_tokenizer = owns_tokenizer
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),  # read: between chunks
            transport=transport,
        )

    def count_messages(self, messages: Sequence[Message], tools: Tools | None = None) -> int:
        return self.tokenizer.count(messages, tools)

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str] = (),
        tools: Tools | None = None,
    ) -> AsyncIterator[Delta]:
        if tools and not self.supports_tools:
            raise ValueError(f"the model {self.name!r} is configured without tool calling")
        body = self._request_body(messages, max_tokens, temperature, tools)
        if stop:
            body["stop"] = list(stop)
        try:
            async with self._http.stream("POST", CHAT_PATH, json=body) as response:
                await _raise_for_status(response)
                async for delta in _deltas(response.aiter_lines()):
                    yield delta
        except httpx.TimeoutException as exc:
            raise UpstreamError(f"the model server timed out: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:  # refused, reset, or cut off mid-body
            raise UpstreamError(f"the model server connection failed: {exc!r}") from exc

    async def aclose(self) -> None:
        """Close the HTTP client, and the tokenizer if this model owns it."""
        await self._http.aclose()
        close = getattr(self.tokenizer, "close", None)
        if self._owns_tokenizer and close is not None:
            close()

    def _request_body(
        self, messages: Sequence[Message], max_tokens: int, temperature: float, tools: Tools | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.name,
            "messages": list(messages),
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            body["tools"] = list(tools)
        return body


# -- the stream, parsed: pure helpers over its lines -----------------------------------------


async def _deltas(lines: AsyncIterator[str]) -> AsyncIterator[Delta]:
    """One text ``Delta`` per content chunk, then one final ``Delta`` (tool calls, finish,
    usage) once the stream says ``[DONE]`` or ends after a finish reason."""

    async def chunks() -> AsyncIterator[Mapping[str, Any]]:
        async for event, data in _sse_events(lines):
            if event == "error":
                raise UpstreamError(f"the model server failed mid-stream: {_clip(data)}")
            if data.strip() == DONE:
                return
            yield _chunk(data)

    async for delta in chunk_deltas(chunks()):
        yield delta


async def chunk_deltas(chunks: AsyncIterator[Mapping[str, Any]]) -> AsyncIterator[Delta]:
    """OpenAI's streamed chat completion chunks as ``Delta``s: one per chunk with text,
    then one with the tool calls, the finish reason and the usage."""
    completion = _Completion()
    async for chunk in chunks:
        text = completion.add(chunk)
        if text:
            yield Delta(text=text)
    yield completion.final()


async def _sse_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str]]:
    """``(event, data)`` per server-sent event; ``event`` is ``"message"`` unless named.

    Also takes llama-server's non-standard ``error: {...}`` line as an ``error`` event.
    """
    event, data = "message", list[str]()
    async for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", list[str]()
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "error":
            yield "error", value
    if data:  # a last event without its blank line
        yield event, "\n".join(data)


def _chunk(data: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except ValueError as exc:
        raise UpstreamError(f"the model server sent a malformed chunk: {_clip(data)}") from exc
    if not isinstance(chunk, dict):
        raise UpstreamError(f"the model server sent a malformed chunk: {_clip(data)}")
    return chunk


@dataclass
class _ToolCallParts:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def add(self, fragment: Mapping[str, Any]) -> None:
        function = fragment.get("function") or {}
        self.id = self.id or fragment.get("id") or ""
        self.name = self.name or function.get("name") or ""
        self.arguments.append(function.get("arguments") or "")

    def call(self, index: int) -> ToolCall:
        if not self.name:
            raise UpstreamError(f"the model server streamed tool call {index} without a name")
        return ToolCall(self.id or f"call_{index}", self.name, "".join(self.arguments))


class _Completion:
    """What the stream said besides its text: tool calls, finish reason and usage."""

    def __init__(self) -> None:
        self.calls: dict[int, _ToolCallParts] = {}
        self.finish_reason: str | None = None
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None

    def add(self, chunk: Mapping[str, Any]) -> str:
        """Take one chunk in; return its text."""
        try:
            return self._add(chunk)
        except (AttributeError, TypeError, ValueError) as exc:  # a chunk of the wrong shape
            raise UpstreamError(f"the model server sent a malformed chunk: {exc}") from exc

    def final(self) -> Delta:
        if self.finish_reason is None:
            raise UpstreamError("the model server's stream ended before the completion finished")
        calls = tuple(parts.call(i) for i, parts in sorted(self.calls.items()))
        return Delta(
            tool_calls=calls,
            finish_reason=self.finish_reason,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
        )

    def _add(self, chunk: Mapping[str, Any]) -> str:
        if "error" in chunk or chunk.get("object") == "error":  # vLLM's error mid-stream
            raise UpstreamError(f"the model server failed mid-stream: {_error_text(chunk)}")
        if usage := chunk.get("usage"):
            self.prompt_tokens = usage.get("prompt_tokens")
            self.completion_tokens = usage.get("completion_tokens")
        text: list[str] = []
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            text.append(delta.get("content") or "")
            for fragment in delta.get("tool_calls") or ():
                self._add_tool_fragment(fragment)
            self.finish_reason = choice.get("finish_reason") or self.finish_reason
        return "".join(text)

    def _add_tool_fragment(self, fragment: Mapping[str, Any]) -> None:
        index = fragment.get("index")
        if index is None:  # a server that sends each call whole, unindexed
            is_new = not self.calls or fragment.get("id") not in (None, self._last().id)
            index = len(self.calls) if is_new else max(self.calls)
        self.calls.setdefault(int(index), _ToolCallParts()).add(fragment)

    def _last(self) -> _ToolCallParts:
        return self.calls[max(self.calls)]


# -- errors -----------------------------------------------------------------------------------


async def _raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    await response.aread()
    status = response.status_code
    raise UpstreamError(
        f"the model server answered HTTP {status}: {_error_text(_json_or_text(response))}",
        upstream_status=status,
    )


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _error_text(body: Any) -> str:
    """The message of an OpenAI (``{"error": {"message"}}``), Ollama (``{"error": "..."}``)
    or vLLM (``{"object": "error", "message"}``) error body, else the body itself."""
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return _clip(error["message"])
        if isinstance(error, str):
            return _clip(error)
        return _clip(json.dumps(body))
    return _clip(str(body))


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + "…"


def open_remote_model(settings: RemoteModelSettings, tokenizer_gguf: Path) -> RemoteChatModel:
    """The configured remote model, counting with ``tokenizer_gguf``'s vocabulary."""
    template = settings.chat_template.read_text() if settings.chat_template else None
    counter = GGUFPromptCounter(tokenizer_gguf, chat_template=template)
    key = settings.api_key.get_secret_value() if settings.api_key else None
    return RemoteChatModel(
        settings.base_url,
        settings.model,
        api_key=key,
        max_model_len=settings.max_model_len,
        tokenizer=counter,
        supports_tools=settings.supports_tools,
        timeout_s=settings.timeout_s,
        owns_tokenizer=True,
    )
