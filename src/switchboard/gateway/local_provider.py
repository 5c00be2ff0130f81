"""The local engine as a gateway provider: chat requests in, ``chat.completion.chunk`` out.

The engine's refusals keep their meaning: a bad parameter or an over-long prompt is the
client's 400, a full queue a 503 with ``Retry-After``, a dead engine ``engine_dead``. It is
also the gateway's ``PromptCounter`` for the engine's window: a bound from the text's
bytes (no token is longer than the vocabulary's longest), then the exact count.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, Protocol

from pydantic import TypeAdapter, ValidationError

from switchboard.engine import AsyncEngine, RequestOutput
from switchboard.errors import ContextLengthError, InvalidRequestError
from switchboard.gateway.messages import text_of
from switchboard.gateway.openai_requests import (
    ChatCompletionRequest,
    ChatMessage,
    to_sampling_params,
)
from switchboard.gateway.openai_responses import (
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatDelta,
    Timings,
)
from switchboard.gateway.openai_responses import Usage as UsageBody
from switchboard.gateway.types import ProviderCall, StreamChunk, Usage
from switchboard.request_body import describe_validation_error


class ChatEngine(Protocol):
    """The slice of ``LocalEngine`` a provider serves chats with (so the gateway never
    imports llama.cpp, and tests serve the engine over a fake runner)."""

    @property
    def name(self) -> str: ...

    @property
    def max_model_len(self) -> int: ...

    @property
    def max_token_bytes(self) -> int:
        """The longest token of the vocabulary, in bytes (special tokens as text)."""
        ...

    @property
    def async_engine(self) -> AsyncEngine: ...

    def encode_chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[int]: ...


_MESSAGES = TypeAdapter(list[ChatMessage])


def _template_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    try:
        validated = _MESSAGES.validate_python(messages)
    except ValidationError as exc:
        error = exc.errors()[0]
        message, param = describe_validation_error({**error, "loc": ("messages", *error["loc"])})
        raise InvalidRequestError(message, param=param) from exc
    return [message.to_template() for message in validated]


def _validated(call: ProviderCall) -> ChatCompletionRequest:
    try:
        return ChatCompletionRequest.model_validate(dict(call.body))
    except ValidationError as exc:
        message, param = describe_validation_error(exc.errors()[0])
        raise InvalidRequestError(message, param=param) from exc


async def _prepend(
    first: RequestOutput, rest: AsyncGenerator[RequestOutput, None]
) -> AsyncGenerator[RequestOutput, None]:
    yield first
    async for output in rest:
        yield output


class LocalProvider:
    """Serves ``call.model`` with this process's engine (the route decides which names)."""

    name = "local"

    def __init__(self, engine: ChatEngine) -> None:
        self.engine = engine

    async def stream(self, call: ProviderCall) -> AsyncGenerator[StreamChunk, None]:
        request = _validated(call)
        messages = [message.to_template() for message in request.messages]
        prompt = await asyncio.to_thread(self.engine.encode_chat, messages)
        params = to_sampling_params(request)
        outputs = self.engine.async_engine.generate(prompt, params, request_id=call.request_id)
        chunk_of = _Chunks(f"chatcmpl-{call.request_id}", self.engine.name)
        try:
            try:
                first = await anext(outputs)
            except ContextLengthError as exc:
                exc.param = "messages"
                raise
            yield StreamChunk(chunk_of.role(), tokens=False)
            last = first
            async for last in _prepend(first, outputs):
                chunk = chunk_of.output(last)
                if chunk is not None:
                    yield chunk
            yield chunk_of.usage(last)
        finally:
            await outputs.aclose()

    async def aclose(self) -> None:
        return None

    # -- PromptCounter ---------------------------------------------------------------------
    @property
    def max_model_len(self) -> int:
        return self.engine.max_model_len

    def lower_bound(self, messages: Sequence[Mapping[str, Any]]) -> int:
        size = sum(len(text_of(m).encode("utf-8", "surrogatepass")) for m in messages)
        return size // self.engine.max_token_bytes

    def count(self, messages: Sequence[Mapping[str, Any]]) -> int:
        return len(self.engine.encode_chat(_template_messages(messages)))


class _Chunks:
    """The chunks of one response, sharing its id, creation time and model name."""

    def __init__(self, chunk_id: str, model: str) -> None:
        self.id = chunk_id
        self.created = int(time.time())
        self.model = model

    def _chunk(self, choices: list[ChatChunkChoice], **extra: object) -> bytes:
        chunk = ChatCompletionChunk(
            id=self.id, created=self.created, model=self.model, choices=choices, **extra
        )
        return chunk.model_dump_json().encode()

    def role(self) -> bytes:
        return self._chunk([ChatChunkChoice(delta=ChatDelta(role="assistant", content=""))])

    def output(self, output: RequestOutput) -> StreamChunk | None:
        if not output.text and not output.finished:
            return None  # held back (incomplete UTF-8 or a possible stop string)
        delta = ChatDelta(content=output.text or None)
        choice = ChatChunkChoice(delta=delta, finish_reason=output.finish_reason)
        return StreamChunk(self._chunk([choice]), tokens=bool(output.text))

    def usage(self, last: RequestOutput) -> StreamChunk:
        usage = Usage(last.prompt_tokens, last.completion_tokens)
        data = self._chunk(
            [],
            usage=UsageBody.of(last.prompt_tokens, last.completion_tokens),
            timings=Timings.of(last.timings),
        )
        return StreamChunk(data, tokens=False, usage=usage, queue_wait_s=last.timings.queue_wait_s)
