"""Types shared by the gateway's parts (keys, limits, budgets, providers, routing, logging).

A leaf module: it imports nothing from the rest of the gateway, so every part can depend
on it and none on each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Scope(StrEnum):
    """What an API key may call."""

    CHAT = "chat"  # /v1/chat/completions, /v1/completions, /v1/models
    EMBEDDINGS = "embeddings"  # /v1/embeddings
    SEARCH = "search"  # /v1/search, /v1/collections...
    ASSISTANT = "assistant"  # /v1/assistant/...
    ADMIN = "admin"  # /v1/admin/... (keys, tenants, spend, request log)


ALL_SCOPES = frozenset(Scope)


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key's identity and limits, or the anonymous local caller.

    ``rpm``/``tpm``/``budget_usd`` of ``None`` mean unlimited.
    """

    key_id: str  # "anonymous" when authentication is off
    tenant: str
    scopes: frozenset[Scope]
    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None  # per budget period, for this key
    tenant_budget_usd: float | None = None  # per budget period, for the whole tenant
    expires_at: float | None = None  # the key's expiry (unix seconds)

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes or Scope.ADMIN in self.scopes


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class StreamChunk:
    """One ``chat.completion.chunk`` from a provider.

    ``data`` is the chunk's JSON exactly as it goes to the client (no re-serialising on
    the hot path); ``tokens`` says whether it carries generated output (content or a tool
    call fragment): the first such chunk is the *first token* of TTFT. ``usage`` is set
    on the provider's closing usage chunk (which has no choices).
    """

    data: bytes
    tokens: bool
    usage: Usage | None = None
    queue_wait_s: float | None = None  # set by providers that know it (the local engine)


@dataclass(frozen=True)
class ProviderCall:
    """One attempt at one provider: the client's chat request re-addressed to ``model``.

    ``body`` is the OpenAI request JSON (``stream`` forced on, ``stream_options.
    include_usage`` on, ``model`` replaced); providers must not mutate it.
    """

    request_id: str
    model: str
    body: Mapping[str, Any]
    prompt_tokens: int  # the gateway's estimate, used for reservations


class Provider(Protocol):
    """A model server the gateway can send chat requests to.

    ``stream`` raises a ``RequestError`` (``UpstreamError`` for a failing server, any
    other ``RequestError`` for a refusal that no other provider would accept either)
    before its first chunk, or ``UpstreamError`` mid-stream. Closing the iterator
    cancels the upstream request.
    """

    @property
    def name(self) -> str: ...

    def stream(self, call: ProviderCall) -> AsyncIterator[StreamChunk]: ...

    async def aclose(self) -> None: ...


class PromptCounter(Protocol):
    """A chat prompt's tokens as one provider's model counts them (the local engine's
    chat template and tokenizer), to refuse a prompt over its window before other work."""

    @property
    def max_model_len(self) -> int: ...

    def lower_bound(self, messages: Sequence[Mapping[str, Any]]) -> int:
        """Cheap (no tokenizer) and never above ``count``."""
        ...

    def count(self, messages: Sequence[Mapping[str, Any]]) -> int:
        """The exact count; ``InvalidRequestError`` for messages the model cannot take."""
        ...


@dataclass(frozen=True)
class Attempt:
    """One provider tried for one request, in order; ``error`` is ``None`` for the one served."""

    provider: str
    model: str
    error: str | None = None
    latency_ms: float | None = None
    started_at: float | None = None  # unix seconds; None when it was skipped (breaker open)


def failure_kind(error: str) -> str:
    """A bounded label (for metrics and spans) of an attempt's error text."""
    if error.startswith("HTTP "):
        return "http_" + error.removeprefix("HTTP ").split()[0]
    for prefix, kind in _FAILURE_KINDS:
        if error.startswith(prefix):
            return kind
    return "error"


_FAILURE_KINDS = (("no first token", "ttft_deadline"), ("circuit open", "circuit_open"))


@dataclass
class RequestRecord:
    """Everything the request log keeps about one request (filled as it runs)."""

    request_id: str
    started_at: float  # unix seconds
    key_id: str
    tenant: str
    endpoint: str
    model: str  # as the client asked
    status: int = 0  # HTTP status, or the status of the in-band error for broken streams
    error_code: str | None = None
    provider: str | None = None  # the provider that served it
    served_model: str | None = None
    attempts: list[Attempt] = field(default_factory=list)  # the fallback path
    stream: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    queue_wait_ms: float | None = None
    ttft_ms: float | None = None
    itl_mean_ms: float | None = None
    itl_p99_ms: float | None = None
    total_ms: float | None = None
    cache_hit: bool = False
    guard_events: list[str] = field(default_factory=list)
    input_text: str | None = None  # only when the log is configured to keep text
    output_text: str | None = None

    @property
    def failed(self) -> bool:
        return self.error_code is not None or self.status >= 400
