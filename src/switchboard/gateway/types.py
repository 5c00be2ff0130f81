"""Types shared by the gateway's parts (keys, limits, budgets, providers, routing).

A leaf module: it imports nothing from the rest of the gateway, so every part can depend
on it and none on each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
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
