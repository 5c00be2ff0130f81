"""The local engine as a gateway provider: chat requests in, ``chat.completion.chunk`` out.

The engine's refusals keep their meaning: a bad parameter or an over-long prompt is the
client's 400, a full queue a 503 with ``Retry-After``, a dead engine ``engine_dead``. It is
also the gateway's ``PromptCounter`` for the engine's window: a bound from the text's
bytes (no token is longer than the vocabulary's longest), then the exact count.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from switchboard.api.deps import ServedEngine
from switchboard.api.errors import describe_validation_error
from switchboard.api.schemas import (
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatDelta,
    ChatMessage,
    Timings,
    to_sampling_params,
)
from switchboard.api.schemas import Usage as UsageBody
from switchboard.engine import RequestOutput
from switchboard.errors import ContextLengthError, InvalidRequestError
from switchboard.gateway.messages import text_of
from switchboard.gateway.types import ProviderCall, StreamChunk, Usage

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

    def __init__(self, engine: ServedEngine) -> None:
        self.engine = engine

    async def stream(self, call: ProviderCall) -> AsyncGenerator[StreamChunk, None]:
        request = _validated(call)
        messages = [message.to_template() for message in request.messages]
        prompt = await run_in_threadpool(self.engine.encode_chat, messages)
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
