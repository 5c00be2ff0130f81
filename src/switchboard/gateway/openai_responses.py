"""Pydantic models of the OpenAI-compatible answers: completions, their stream chunks,
the model list and the error JSON (``{"error": {"message", "type", "param", "code"}}``).

``Timings`` is an extension: where the request's time went, in milliseconds.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, cast

from pydantic import (
    BaseModel,
    GetJsonSchemaHandler,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from switchboard.engine.request import RequestTimings


class _OmitNone(BaseModel):
    """Serializes without the fields in ``omit_if_none`` while they are ``None``. Its JSON
    schema is the fields' (not the serializer's bare ``dict``), optional ones not required."""

    omit_if_none: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _omit(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if not (k in self.omit_if_none and v is None)}

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        fields = {k: v for k, v in core_schema.items() if k != "serialization"}
        return handler(cast(CoreSchema, fields))


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, prompt_tokens: int, completion_tokens: int) -> Usage:
        return cls(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)


class Timings(BaseModel):
    """Non-standard: where the request's time went, in milliseconds."""

    queue_ms: float | None
    ttft_ms: float | None
    total_ms: float | None
    mean_itl_ms: float | None

    @classmethod
    def of(cls, timings: RequestTimings) -> Timings:
        itl = timings.inter_token_s
        return cls(
            queue_ms=_ms(timings.queue_wait_s),
            ttft_ms=_ms(timings.ttft_s),
            total_ms=_ms(timings.total_s),
            mean_itl_ms=_ms(sum(itl) / len(itl)) if itl else None,
        )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: str | None
    logprobs: None = None


class ChatCompletion(_OmitNone):
    omit_if_none: ClassVar[frozenset[str]] = frozenset({"timings"})

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    timings: Timings | None = None


class ChatDelta(_OmitNone):
    omit_if_none: ClassVar[frozenset[str]] = frozenset({"role", "content"})

    role: Literal["assistant"] | None = None
    content: str | None = None


class ChatChunkChoice(BaseModel):
    index: int = 0
    delta: ChatDelta
    finish_reason: str | None = None
    logprobs: None = None


class ChatCompletionChunk(_OmitNone):
    omit_if_none: ClassVar[frozenset[str]] = frozenset({"usage", "timings"})

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: Usage | None = None
    timings: Timings | None = None


class CompletionChoice(BaseModel):
    index: int = 0
    text: str
    finish_reason: str | None = None
    logprobs: None = None


class Completion(_OmitNone):
    omit_if_none: ClassVar[frozenset[str]] = frozenset({"timings"})

    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage
    timings: Timings | None = None


class CompletionChunk(_OmitNone):
    omit_if_none: ClassVar[frozenset[str]] = frozenset({"usage", "timings"})

    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
    timings: Timings | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "switchboard"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
