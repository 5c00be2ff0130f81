"""``/v1/assistant``: the support assistant's chat (server-sent events) and its sessions.

A chat turn streams typed events, each ``event: <kind>`` then ``data: <json>``: ``token``,
``citation``, ``tool_result``, ``handoff``, then ``done`` (or ``error``). The turn is
admitted before the response starts: a bad request or an unknown session gets its HTTP
status and OpenAI-shaped error JSON, not a 200 with an error event. A client that goes
away closes the turn's event stream, which aborts the model's request.

The customer's identity is taken from the request body: in a real deployment the shop's
backend, having logged the customer in, makes this call (behind the gateway's API keys).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from switchboard.api.errors import engine_dead_payload, request_error_payload
from switchboard.api.generation import until_disconnected
from switchboard.api.openapi import error_responses, event_stream, named_events
from switchboard.api.schemas import ErrorDetail, ErrorResponse, RequestBody
from switchboard.api.sse import SSEResponse
from switchboard.assistant.conversations import StoredMessage
from switchboard.assistant.orchestrator import TurnRequest
from switchboard.assistant.service import Assistant
from switchboard.assistant.types import DoneEvent, TurnEvent, event_json
from switchboard.errors import (
    DependencyUnavailableError,
    EngineDeadError,
    InvalidRequestError,
    OrderServiceAuthError,
    OrderServiceUnavailable,
    RequestError,
)
from switchboard.gateway.service import CLIENT_CLOSED_REQUEST
from switchboard.gateway.types import RequestRecord

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/assistant")
demo_router = APIRouter(prefix="/v1/assistant")  # mounted when assistant.demo_directory

CUSTOMER_ID = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"


async def get_assistant(request: Request) -> Assistant:
    assistant: Assistant = request.app.state.assistant
    return assistant


AssistantDep = Annotated[Assistant, Depends(get_assistant)]
CustomerQuery = Annotated[str, Query(pattern=CUSTOMER_ID)]


class ChatBody(RequestBody):
    customer_id: str = Field(pattern=CUSTOMER_ID)
    message: str = Field(min_length=1)  # at most assistant.max_message_chars
    session_id: str | None = Field(None, max_length=64)


@demo_router.get("/customers", responses=error_responses(503))
async def list_customers(assistant: AssistantDep) -> dict[str, Any]:
    """The demo customers and their orders, from the Order API (for the chat widget)."""
    try:
        return {"data": await assistant.orders.list_customers()}
    except (OrderServiceUnavailable, OrderServiceAuthError) as exc:
        raise DependencyUnavailableError(str(exc)) from exc


TURN_EVENTS = (
    "The turn as server-sent events, each `event: <kind>` then `data: <json>`: `token` "
    "(`text`), `citation` (`number`, `article_id`, `title`, `url`, and the passage cited: "
    "`heading`, `quote`, its character offsets `start` and `end` in the article, null where "
    "unknown), `tool_result` (`tool`, "
    "`arguments`, `ok`, `data`, `error`), `handoff` (`reason`, `message`, `ticket_id`), then "
    "`done` (`session_id`, `turn_id`, `intent`, `confidence`, `cited_article_ids`, "
    "`timings_ms`, `usage`, `model`, `cache`, `guard_events`, `answer_path`: `generated`, "
    "`generated+repaired` (sentences with claims the sources do not state left out), "
    "`quoted` (the source sentence that answers the question), or without the model "
    "`order_status`, `cache`, `not_sure`, `handoff`, `language` (another language: a "
    "colleague offered in it), `refusal`, `blocked`); a failure "
    "after the stream began is an `error` event with OpenAI's error JSON."
)

TURN_EVENT_NAMES = named_events("token", "citation", "tool_result", "handoff", "done", "error")


@router.post(
    "/chat",
    status_code=200,
    response_class=SSEResponse,
    responses={
        200: event_stream(TURN_EVENTS, TURN_EVENT_NAMES),
        **error_responses(404, 500, 503),
    },
)
async def chat(body: ChatBody, assistant: AssistantDep, request: Request) -> Response:
    if not body.message.strip():
        raise InvalidRequestError("message must not be blank", param="message")
    limit: int = request.app.state.max_message_chars
    if len(body.message) > limit:
        raise InvalidRequestError(
            f"message is over the limit of {limit} characters", param="message"
        )
    turn = TurnRequest(body.customer_id, body.message, body.session_id)
    record = _new_record(request)
    events = assistant.orchestrator.turn(turn)
    try:  # a client leaving before the first event cancels the turn (and its model call)
        first = await until_disconnected(request.receive, anext(events))
    except BaseException as exc:
        await events.aclose()
        _finish(request, record, error=exc)
        raise
    if first is None:
        await events.aclose()
        _finish(request, record)
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    return SSEResponse(_stream(first, events, request, record))


async def _stream(
    first: TurnEvent,
    rest: AsyncGenerator[TurnEvent, None],
    request: Request,
    record: RequestRecord,
) -> AsyncGenerator[bytes, None]:
    """The turn's events as SSE; closing this stream closes the turn at once (a client that
    left aborts the model's request), not when the garbage collector gets to it."""
    error: BaseException | None = None
    done: DoneEvent | None = first if isinstance(first, DoneEvent) else None
    try:
        yield _sse(first.kind, event_json(first))
        async with contextlib.aclosing(rest):
            async for event in rest:
                if isinstance(event, DoneEvent):
                    done = event
                yield _sse(event.kind, event_json(event))
    except RequestError as exc:
        error = exc
        yield _sse("error", request_error_payload(exc).model_dump())
    except EngineDeadError as exc:
        error = exc
        yield _sse("error", engine_dead_payload(exc).model_dump())
    except Exception as exc:
        error = exc
        log.exception("assistant turn failed mid-stream")
        detail = ErrorDetail(
            message="internal server error", type="server_error", code="internal_error"
        )
        yield _sse("error", ErrorResponse(error=detail).model_dump())
    except BaseException as exc:  # the client left
        error = exc
        raise
    finally:
        _finish(request, record, done, error)


def _new_record(request: Request) -> RequestRecord:
    principal = getattr(request.state, "principal", None)
    return RequestRecord(
        request_id=uuid.uuid4().hex,
        started_at=time.time(),
        key_id=principal.key_id if principal else "anonymous",
        tenant=principal.tenant if principal else "default",
        endpoint="assistant",
        model="assistant",
        stream=True,
    )


def _finish(
    request: Request,
    record: RequestRecord,
    done: DoneEvent | None = None,
    error: BaseException | None = None,
) -> None:
    """The turn in the request log and the metrics, like a gateway request: tokens,
    latency, the cache's answer and every guardrail decision (never the text)."""
    record.total_ms = (time.time() - record.started_at) * 1000
    if done is not None:
        record.served_model = done.model or None
        record.prompt_tokens = done.usage.get("prompt_tokens", 0)
        record.completion_tokens = done.usage.get("completion_tokens", 0)
        record.ttft_ms = done.timings_ms.get("ttft")
        record.cache_hit = done.cache in ("exact", "semantic", "fallback")
        record.guard_events = list(done.guard_events)
    if isinstance(error, RequestError | EngineDeadError):
        record.status, record.error_code = error.status_code, error.code
    elif error is not None and not isinstance(error, GeneratorExit | asyncio.CancelledError):
        record.status, record.error_code = 500, "internal_error"
    elif done is None:
        record.status, record.error_code = 499, "client_closed_request"
    else:
        record.status = 200
    metrics = request.app.state.metrics
    metrics.observe(record)
    metrics.guarded("assistant", record.guard_events)
    if done is not None and done.cache is not None:
        metrics.cache_lookup("assistant", done.cache)
    if done is not None:
        metrics.answer_path(done.answer_path.value)
    request_log = request.app.state.request_log
    if request_log is not None:
        request_log.submit(record)


def _sse(kind: str, data: Any) -> bytes:
    payload = json.dumps(data, ensure_ascii=False, default=str)
    return f"event: {kind}\ndata: {payload}\n\n".encode()


@router.get("/sessions")
async def list_sessions(
    assistant: AssistantDep, customer_id: CustomerQuery, limit: int = Query(20, ge=1, le=200)
) -> dict[str, Any]:
    sessions = await run_in_threadpool(assistant.conversations.list_sessions, customer_id, limit)
    return {
        "data": [
            {
                "session_id": s.id,
                "customer_id": s.customer_id,
                "created_at": s.created_at.isoformat(),
                "updated_at": s.updated_at.isoformat(),
            }
            for s in sessions
        ]
    }


@router.get("/sessions/{session_id}", responses=error_responses(404))
async def get_session(
    session_id: str,
    assistant: AssistantDep,
    customer_id: CustomerQuery,
    limit: int = Query(200, ge=1, le=1000),
) -> dict[str, Any]:
    def load() -> list[StoredMessage]:
        session = assistant.conversations.get_session(session_id, customer_id)
        return assistant.conversations.history(session.id, limit)

    messages = await run_in_threadpool(load)
    return {
        "session_id": session_id,
        "customer_id": customer_id,
        "messages": [_message_json(m) for m in messages],
    }


@router.get("/tickets")
async def list_tickets(assistant: AssistantDep, customer_id: CustomerQuery) -> dict[str, Any]:
    """The customer's handoff tickets, newest first."""
    tickets = await run_in_threadpool(assistant.conversations.tickets, customer_id)
    return {
        "data": [
            {
                "ticket_id": t.id,
                "session_id": t.session_id,
                "customer_id": t.customer_id,
                "reason": t.reason.value,
                "summary": t.summary,
                "status": t.status.value,
                "created_at": t.created_at.isoformat(),
            }
            for t in tickets
        ]
    }


def _message_json(message: StoredMessage) -> dict[str, Any]:
    body: dict[str, Any] = {
        "index": message.index,
        "role": message.role,
        "content": message.content,
        "created_at": message.created_at.isoformat(),
    }
    record = message.assistant
    if record is not None:
        body |= {
            "intent": record.intent.value,
            "confidence": record.confidence,
            "cited_article_ids": list(record.cited_article_ids),
            "tool_results": [event_json(e) for e in record.tool_results],
            "handoff_reason": record.handoff_reason and record.handoff_reason.value,
            "timings_ms": dict(record.timings_ms),
            "usage": dict(record.usage),
            "model": record.model,
            "answer_path": record.answer_path and record.answer_path.value,
        }
    return body
