"""``/v1/completions`` (the local engine's text completions) and ``/v1/models``.

Chat completions go through the gateway (``gateway_routes``) to any provider."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from switchboard.api.deps import EngineDep, ServedModel, ServedModelDep
from switchboard.api.errors import stream_error_payload
from switchboard.api.generation import Admitted, admit, collect
from switchboard.api.openapi import error_responses, json_or_stream
from switchboard.api.sse import DONE, SSEResponse, sse_event
from switchboard.engine import RequestOutput
from switchboard.errors import (
    CLIENT_CLOSED_REQUEST,
    EngineDeadError,
    ModelNotFoundError,
    RequestError,
)
from switchboard.gateway.openai_requests import CompletionRequest, to_sampling_params
from switchboard.gateway.openai_responses import (
    ChatCompletionChunk,
    Completion,
    CompletionChoice,
    CompletionChunk,
    Timings,
    Usage,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1")


@dataclass(frozen=True)
class Reply:
    """Identity shared by every object of one response."""

    id: str
    created: int
    model: str


def _reply(prefix: str, model: str) -> tuple[str, Reply]:
    request_id = uuid.uuid4().hex
    return request_id, Reply(id=f"{prefix}-{request_id}", created=int(time.time()), model=model)


def _check_model(model: str, served: ServedModel) -> None:
    if model not in served.names:
        raise ModelNotFoundError(model)


def _usage(last: RequestOutput) -> Usage:
    return Usage.of(last.prompt_tokens, last.completion_tokens)


# -- streaming -------------------------------------------------------------------------------

ChunkOf = Callable[[RequestOutput], BaseModel | None]


async def _events(
    admitted: Admitted,
    head: list[BaseModel],
    chunk_of: ChunkOf,
    usage_chunk: Callable[[RequestOutput], BaseModel] | None,
) -> AsyncGenerator[bytes, None]:
    """SSE bytes of one stream: ``head``, one chunk per output, the usage chunk, [DONE].
    Closing this generator (client gone) closes the engine stream, aborting the request."""
    try:
        for event in head:
            yield sse_event(event)
        last = admitted.first
        chunk = chunk_of(last)
        if chunk is not None:
            yield sse_event(chunk)
        async for last in admitted.rest:
            chunk = chunk_of(last)
            if chunk is not None:
                yield sse_event(chunk)
        if usage_chunk is not None:
            yield sse_event(usage_chunk(last))
    except (RequestError, EngineDeadError) as exc:  # the status line is gone: report in-band
        yield sse_event(stream_error_payload(exc))
    except Exception as exc:
        log.exception("stream failed")
        yield sse_event(stream_error_payload(exc))
    finally:
        await admitted.rest.aclose()
    yield DONE


def _usage_chunk(
    kind: type[ChatCompletionChunk] | type[CompletionChunk], reply: Reply, last: RequestOutput
) -> ChatCompletionChunk | CompletionChunk:
    """The closing chunk of a stream with ``include_usage``: no choices, usage and timings."""
    return kind(
        id=reply.id,
        created=reply.created,
        model=reply.model,
        choices=[],
        usage=_usage(last),
        timings=Timings.of(last.timings),
    )


def _completion_chunk(reply: Reply, output: RequestOutput) -> CompletionChunk | None:
    if not output.text and not output.finished:
        return None
    choice = CompletionChoice(text=output.text, finish_reason=output.finish_reason)
    return CompletionChunk(id=reply.id, created=reply.created, model=reply.model, choices=[choice])


def _completion_stream(reply: Reply, admitted: Admitted, include_usage: bool) -> SSEResponse:
    usage = (lambda last: _usage_chunk(CompletionChunk, reply, last)) if include_usage else None
    events = _events(admitted, [], lambda out: _completion_chunk(reply, out), usage)
    return SSEResponse(events)


def _json(payload: BaseModel) -> Response:
    return Response(payload.model_dump_json(), media_type="application/json")


# -- routes ------------------------------------------------------------------------------------


COMPLETION_EVENTS = (
    'A text completion; with `"stream": true` server-sent events instead: one '
    "`data: {text_completion}` per piece of the text (the last with the `finish_reason`), "
    "with `stream_options.include_usage` a last one with no choices and the `usage`, then "
    "`data: [DONE]`. A failure after the stream began is sent as "
    '`data: {"error": {...}}` before `[DONE]`.'
)


@router.post(
    "/completions",
    response_model=None,
    responses={
        200: json_or_stream(Completion, CompletionChunk, COMPLETION_EVENTS),
        **error_responses(404, 500, 503),
    },
)
async def completions(
    body: CompletionRequest, http: Request, engine: EngineDep, served: ServedModelDep
) -> Response:
    _check_model(body.model, served)
    text = body.prompt_text
    if text is None:
        prompt = body.prompt_token_ids
    else:
        prompt = await run_in_threadpool(engine.encode_prompt, text)
    request_id, reply = _reply("cmpl", engine.name)
    admitted = await admit(
        http, engine, prompt, to_sampling_params(body), request_id=request_id,
        prompt_param="prompt", retry_after_s=served.retry_after_s,
    )  # fmt: skip
    if admitted is None:
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    if body.stream:
        return _completion_stream(reply, admitted, body.include_usage)
    outputs = await collect(http, admitted)
    if outputs is None:
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    last = outputs[-1]
    choice = CompletionChoice(
        text="".join(o.text for o in outputs), finish_reason=last.finish_reason
    )
    return _json(
        Completion(
            id=reply.id,
            created=reply.created,
            model=reply.model,
            choices=[choice],
            usage=_usage(last),
            timings=Timings.of(last.timings),
        )
    )
