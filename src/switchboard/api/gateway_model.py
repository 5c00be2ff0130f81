"""The assistant's model calls through the gateway, as the caller of the turn.

An assistant turn is one request of its caller's API key. Its model calls go through the
same gateway as a chat completion: the key's token limit and budget are reserved and
settled, the price is counted, the route's fallback chain and its time-to-first-token
deadline apply, and what the calls used is added to the turn's request record (two calls
of a function-calling turn: their sum). The turn counts its request once, on its route,
and screens and caches the conversation itself, so its model calls skip the gateway's
guard and cache.

The caller is not an argument of the assistant's ``ChatModel``: the chat route names it
for the turn in a context variable (``bind_caller``) that the turn's tasks inherit.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from switchboard.assistant.remote_model import chunk_deltas
from switchboard.assistant.types import ChatModel, Delta, Message
from switchboard.gateway.service import Gateway
from switchboard.gateway.types import Principal
from switchboard.observability.record import RequestRecord

#: The endpoint a turn's model calls carry in the gateway (their use goes to the turn's record).
MODEL_ENDPOINT = "assistant.model"


@dataclass(frozen=True)
class Caller:
    """Who a turn acts for, and the record its model calls are metered into."""

    principal: Principal
    record: RequestRecord


_CALLER: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "assistant_caller", default=None
)


def bind_caller(caller: Caller) -> None:
    """Model calls made in the rest of the current task (and in tasks it starts) act for
    ``caller``: a streamed turn outlives the route function that starts it, in its task."""
    _CALLER.set(caller)


class GatewayChatModel:
    """``model``'s prompts are counted by ``model`` itself; its calls go to the gateway's
    ``route`` (a served model's name or a route alias with fallbacks)."""

    def __init__(self, gateway: Gateway, route: str, model: ChatModel) -> None:
        self._gateway = gateway
        self._model = model
        self.route = route

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def max_model_len(self) -> int:
        return self._model.max_model_len

    @property
    def supports_tools(self) -> bool:
        return self._model.supports_tools

    def count_messages(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] | None = None
    ) -> int:
        return self._model.count_messages(messages, tools)

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str] = (),
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> AsyncIterator[Delta]:
        caller = _CALLER.get()
        if caller is None:
            raise RuntimeError("an assistant model call outside a turn: no caller to meter")
        body: dict[str, Any] = {
            "model": self.route,
            "messages": list(messages),
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
        }
        if stop:
            body["stop"] = list(stop)
        if tools:
            body["tools"] = list(tools)
        gateway = self._gateway
        call = await gateway.open(
            caller.principal, body, endpoint=MODEL_ENDPOINT, turn=caller.record
        )

        source = gateway.chunks(call)

        async def chunks() -> AsyncIterator[Mapping[str, Any]]:
            async for chunk in source:
                yield json.loads(chunk.data)

        error: BaseException | None = None
        try:
            async for delta in chunk_deltas(chunks()):
                yield delta
        except BaseException as exc:
            error = exc
            raise
        finally:  # closed early (the client left): the provider's stream is aborted at once
            await source.aclose()
            if call.routed is not None:
                await call.routed.aclose()
            await gateway.finish(call, error)

    async def aclose(self) -> None:
        close = getattr(self._model, "aclose", None)
        if close is not None:
            await close()
