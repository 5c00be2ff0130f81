"""One interface for the stages around a request, on every endpoint.

An endpoint's request is an ``Exchange`` (what the stages know of it: its tenant, the
placeholders of its personal data, what the guardrails found, what the cache answered),
and its stages run as a ``Pipeline``, in order on the way in and in reverse on the way out,
like middleware:

    prepare     every stage, before any runs: background work (embed the question)
    on_input    in order, until one answers instead of the endpoint (a refusal, a hit)
    on_output   the answer's text, wrapped so that the first stage sees it last
    on_done     the answer was delivered in full (the cache stores it)
    on_failure  the endpoint's model failed before saying anything: an answer, or None

The endpoint says what its request means to a stage: the messages the input guard checks,
the text its answer may repeat, and (to the cache, through its ``CacheKeys``) how it is
looked up and stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from switchboard.cache.types import CacheHit
from switchboard.guard.placeholders import Placeholders


@dataclass(frozen=True)
class Answer:
    """A whole answer given instead of the endpoint's own: the input guard's refusal, a
    cached answer (``extra``: what was stored with it)."""

    text: str
    source: str  # "guard", "cache:exact", "cache:semantic", "cache:fallback"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        return self.source == "guard"


@dataclass(kw_only=True)
class Exchange:
    """What the stages know of one request; each endpoint's own state extends it."""

    tenant: str = ""
    session_key: str | None = None  # a conversation whose placeholders outlive the request
    placeholders: Placeholders = field(default_factory=Placeholders)
    guard_events: list[str] = field(default_factory=list)  # "direction:category:type:action"
    guard_changed: bool = False  # a guardrail redacted or blocked something of it
    cut_off: bool = False  # the output guard replaced the rest of the answer
    personal: bool = False  # the request carries personal data (an answer not to share)
    cache: str | None = None  # the lookup: "exact", "semantic", "fallback", "miss"; None: none
    cached: CacheHit | None = None  # the answer comes from the cache
    timings_ms: dict[str, float] = field(default_factory=dict)

    def guard_messages(self) -> list[dict[str, Any]]:
        """The messages the input guard checks (the user's get every check)."""
        return []

    def use_guarded(self, messages: list[dict[str, Any]]) -> None:
        """The checked messages, personal data replaced by placeholders."""

    def instructions(self) -> Sequence[str]:
        """The request's own instructions (system prompts), which the answer must not leak."""
        return ()

    def known_text(self) -> str:
        """What the answer may repeat without leaking anything (the client's own data)."""
        return ""

    def took(self, stage: str, ms: float) -> None:
        self.timings_ms[stage] = self.timings_ms.get(stage, 0.0) + ms


E = TypeVar("E", bound=Exchange)
E_contra = TypeVar("E_contra", bound=Exchange, contravariant=True)


class Stage(Generic[E_contra]):
    """A stage does nothing at a point it does not override."""

    def prepare(self, exchange: E_contra) -> None:
        """Start work this stage will need, in the background, before the stages run."""

    async def on_input(self, exchange: E_contra) -> Answer | None:
        """An answer instead of the endpoint's (the rest is skipped), or None to go on."""
        return None

    def on_output(self, exchange: E_contra, text: AsyncIterator[str]) -> AsyncIterator[str]:
        """The answer's text as the client should see it."""
        return text

    async def on_done(self, exchange: E_contra) -> None:
        """The answer was delivered in full."""

    async def on_failure(self, exchange: E_contra, error: BaseException) -> Answer | None:
        """An answer for a request whose model failed before saying anything, or None."""
        return None

    async def drain(self) -> None:
        """Wait for the background work still running (before closing)."""


@dataclass(frozen=True)
class Pipeline(Generic[E]):
    stages: Sequence[Stage[E]] = ()

    async def admit(self, exchange: E) -> Answer | None:
        for stage in self.stages:
            stage.prepare(exchange)
        for stage in self.stages:
            answer = await stage.on_input(exchange)
            if answer is not None:
                return answer
        return None

    def output(self, exchange: E, text: AsyncIterator[str]) -> AsyncIterator[str]:
        for stage in reversed(self.stages):
            text = stage.on_output(exchange, text)
        return text

    async def done(self, exchange: E) -> None:
        for stage in self.stages:
            await stage.on_done(exchange)

    async def failed(self, exchange: E, error: BaseException) -> Answer | None:
        for stage in self.stages:
            answer = await stage.on_failure(exchange, error)
            if answer is not None:
                return answer
        return None

    async def drain(self) -> None:
        for stage in self.stages:
            await stage.drain()
