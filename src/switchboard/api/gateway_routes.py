"""``POST /v1/chat/completions`` through the gateway: every model, local or remote.

The request is admitted (limits, budget, a first token from some provider) before the
response starts, so refusals keep their status codes even with ``stream=true``. After
that the provider's chunks are passed on as they arrive; a provider failing mid-stream
ends the stream with an error event and ``[DONE]`` at once.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncGenerator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.background import BackgroundTask
from starlette.routing import Route

from switchboard.api.assistant_completions import assistant_completion
from switchboard.api.auth import require
from switchboard.api.errors import stream_error_payload
from switchboard.api.generation import until_disconnected
from switchboard.api.openapi import described, error_responses, json_or_stream
from switchboard.api.sse import DONE, SSEResponse, data_event, sse_event
from switchboard.assistant.definition import assistant_named
from switchboard.errors import (
    CLIENT_CLOSED_REQUEST,
    EngineDeadError,
    InvalidRequestError,
    RequestError,
    UpstreamError,
)
from switchboard.gateway.assemble import assemble_completion
from switchboard.gateway.openai_requests import ChatCompletionRequest
from switchboard.gateway.openai_responses import (
    ChatCompletion,
    ChatCompletionChunk,
    ModelCard,
    ModelList,
)
from switchboard.gateway.service import Gateway, GatewayCall
from switchboard.gateway.types import Scope
from switchboard.request_body import describe_validation_error, invalid_text_at

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1")


class StreamOptionsBody(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    include_usage: bool = False


class ChatBody(BaseModel):
    """What the gateway itself reads; every other field goes to the provider untouched."""

    model_config = ConfigDict(extra="allow", strict=True)

    model: str
    messages: list[dict[str, Any]] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptionsBody | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    n: int = 1

    @field_validator("n")
    @classmethod
    def _single_choice(cls, n: int) -> int:
        if n != 1:
            raise ValueError("only n=1 is supported")
        return n

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


async def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


#: The closing usage chunk has no choices; a provider that puts usage on its last real
#: chunk (with the finish reason) gets that chunk passed on.
_NO_CHOICES = re.compile(rb'"choices"\s*:\s*\[\s*\]')


def _error_event(exc: BaseException) -> bytes:
    return sse_event(stream_error_payload(exc))


async def _sse(gateway: Gateway, call: GatewayCall, include_usage: bool) -> AsyncGenerator[bytes]:
    chunks = gateway.chunks(call)
    try:
        async for chunk in chunks:
            if chunk.usage is not None and not include_usage and _NO_CHOICES.search(chunk.data):
                continue  # the usage-only chunk, asked for accounting, not by the client
            yield data_event(chunk.data)
    except (RequestError, EngineDeadError) as exc:  # the status line is gone: report in-band
        yield _error_event(exc)
    except Exception as exc:
        log.exception("stream %s failed", call.record.request_id)
        yield _error_event(exc)
    finally:
        await chunks.aclose()
    yield DONE


async def _collect(gateway: Gateway, call: GatewayCall) -> list[bytes]:
    chunks = gateway.chunks(call)
    try:
        return [chunk.data async for chunk in chunks]
    finally:
        await chunks.aclose()


async def chat_completions(http: Request) -> Response:
    """``POST /v1/chat/completions``. A plain Starlette endpoint rather than a FastAPI route:
    on the gateway's hot path FastAPI's dependency and body machinery cost more than the
    work itself, so the body is validated here in one pydantic call (errors are the same
    OpenAI-shaped 400s) and the principal comes from the same ``require`` dependency."""
    principal = await _require_chat(http)
    body = _parse(await http.body())
    assistant = assistant_named(body.model)
    if assistant is not None:  # one turn of that assistant, as a completion
        await _require_assistant(http)
        user = (body.model_extra or {}).get("user")
        return await assistant_completion(
            http,
            assistant,
            body.messages,
            stream=body.stream,
            usage=body.include_usage,
            user=user if isinstance(user, str) else None,
        )
    gateway: Gateway = http.app.state.gateway
    # the messages as parsed (plain dicts, never mutated downstream): no deep copy of them
    payload = {
        **body.model_dump(exclude_unset=True, exclude={"messages"}),
        "messages": body.messages,
    }
    work = gateway.open(principal, payload, endpoint="chat")
    call = await until_disconnected(http.receive, work)
    if call is None:
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    finish = BackgroundTask(gateway.finish, call)  # bookkeeping after the last byte
    if body.stream:
        events = _sse(gateway, call, body.include_usage)
        return SSEResponse(events, headers=call.headers, background=finish)
    chunks = await until_disconnected(http.receive, _collect(gateway, call))
    if chunks is None:
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    try:
        completion = assemble_completion(chunks)
    except UpstreamError as exc:  # a malformed chunk: the log must say what the client saw
        await gateway.finish(call, exc)
        raise
    content = json.dumps(completion, ensure_ascii=False)
    return Response(content, media_type="application/json", headers=call.headers, background=finish)


_require_chat = require(Scope.CHAT)
_require_assistant = require(Scope.ASSISTANT)


def _parse(raw: bytes) -> ChatBody:
    try:
        return ChatBody.model_validate_json(raw or b"null")
    except ValidationError as exc:
        param = _lone_surrogate(raw) if exc.errors()[0]["type"] == "json_invalid" else None
        if param:
            raise InvalidRequestError(
                f"invalid value for '{param}': not valid Unicode text (a lone surrogate)",
                param=param,
            ) from exc
        described = [describe_validation_error(error) for error in exc.errors()]
        message = "; ".join(text for text, _ in described) or "invalid request"
        raise InvalidRequestError(message, param=described[0][1] if described else None) from exc


def _lone_surrogate(raw: bytes) -> str | None:
    """Where a body that is JSON only to a lenient parser holds a lone surrogate escape
    (which pydantic's parser refuses without saying where), or ``None``."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return invalid_text_at(value)


#: Mounted next to ``router`` (``app.routes.append``), behind the same error handlers.
chat_route = Route("/v1/chat/completions", chat_completions, methods=["POST"])
CHAT_EVENTS = (
    'A chat completion; with `"stream": true` server-sent events instead: one '
    "`data: {chat.completion.chunk}` per piece of the answer (the first carries the role, "
    "the last the `finish_reason`), with `stream_options.include_usage` a last chunk with "
    "no choices and the `usage`, then `data: [DONE]`. A failure after the stream began is "
    'sent as `data: {"error": {...}}` before `[DONE]`.'
)
#: ``chat_route`` in the OpenAPI document.
chat_description = described(
    chat_route.path,
    chat_completions,
    ChatCompletionRequest,
    dependencies=[Depends(_require_chat)],
    responses={
        200: json_or_stream(ChatCompletion, ChatCompletionChunk, CHAT_EVENTS),
        **error_responses(404, 429, 500, 502, 503),
    },
)


@router.get("/models")
async def list_models(request: Request, gateway: GatewayDep) -> ModelList:
    """The gateway's model names (served locally or routed), and the embedding model."""
    created = gateway.created
    cards = [ModelCard(id=alias, created=created) for alias in gateway.router.aliases]
    knowledge = getattr(request.app.state, "knowledge", None)
    if knowledge is not None:
        cards.append(ModelCard(id=knowledge.embedder.model_id, created=created))
    return ModelList(data=cards)
