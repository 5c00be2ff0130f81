"""``/v1/assistant``: the assistants' chat (server-sent events), their sessions, and
``/v1/assistants``, the list of what is served.

A chat turn streams typed events, each ``event: <kind>`` then ``data: <json>``: ``token``,
``citation``, ``tool_result``, ``handoff``, then ``done`` (or ``error``). The turn is
admitted before the response starts: a bad request or an unknown session gets its HTTP
status and OpenAI-shaped error JSON, not a 200 with an error event. A client that goes
away closes the turn's event stream, which aborts the model's request.

A chat names its assistant (``assistant``; default: the server's default). Who the turn
is for is ``customer_auth``'s answer: for an assistant whose end user is a customer, with
authentication on, the customer a signed ``x-customer-token`` proves (``customer_id`` in
the body or query is then optional and must match it), with it off the body's
``customer_id`` as well; for an assistant whose end user is none, the API key. Sessions,
their history and tickets are read and written in the API key's tenant, for that customer
(or key) only, and belong to the assistant that made them: a session or ticket of another
assistant is not found (404), like an unknown one. The same end user rates an answer of
their session (``turns/{turn_id}/feedback``, ``turn_id`` the ``done`` event's): one rating
per answer, a second replacing the first.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from switchboard.api.customer_auth import (
    ActingCustomer,
    CustomerTokenHeader,
    customer_tokens,
    end_user,
)
from switchboard.api.errors import stream_error_payload
from switchboard.api.openapi import error_responses, event_stream, named_events
from switchboard.api.sse import SSEResponse, named_event
from switchboard.api.turn_record import finish_turn_record, open_turn
from switchboard.assistant.conversation_records import StoredMessage
from switchboard.assistant.feedback import MAX_COMMENT_CHARS, Feedback, Rating
from switchboard.assistant.orchestrator import TurnRequest
from switchboard.assistant.service import Assistant, Assistants
from switchboard.assistant.types import DoneEvent, ToolResultEvent, TurnEvent, event_json
from switchboard.errors import (
    CLIENT_CLOSED_REQUEST,
    DependencyUnavailableError,
    EngineDeadError,
    InvalidRequestError,
    OrderServiceAuthError,
    OrderServiceUnavailable,
    RequestError,
)
from switchboard.gateway.customer_tokens import CUSTOMER_ID
from switchboard.observability.record import RequestRecord
from switchboard.request_body import MAX_INT64, RequestBody

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/assistant")
list_router = APIRouter(prefix="/v1/assistants")
demo_router = APIRouter(prefix="/v1/assistant")  # mounted in demo mode (assistant.demo)


async def get_assistants(request: Request) -> Assistants:
    assistants: Assistants = request.app.state.assistants
    return assistants


AssistantsDep = Annotated[Assistants, Depends(get_assistants)]
CustomerQuery = Annotated[
    str | None,
    Query(pattern=CUSTOMER_ID, description="Optional with a customer token; must match it."),
]
AssistantName = Field(
    None,
    max_length=64,
    description="The assistant to ask (GET /v1/assistants lists them; default: the server's). "
    "A session_id must be one of its sessions: another assistant's is not found (404).",
)
AssistantQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description="The assistant whose sessions and tickets these are (default: the "
        "server's); another assistant's are not found.",
    ),
]


@list_router.get("")
async def list_assistants(assistants: AssistantsDep) -> dict[str, Any]:
    """The served assistants: name, title, description, whom they act for and their
    widget's look."""
    return {
        "default": assistants.default,
        "data": [_assistant_json(a) for a in assistants.by_name.values()],
    }


def _assistant_json(assistant: Assistant) -> dict[str, Any]:
    definition = assistant.definition
    return {
        "name": definition.name,
        "title": definition.title,
        "description": definition.description,
        "end_user": definition.end_user,
        "widget": {
            "title": definition.widget.title or definition.title,
            "accent": definition.widget.accent,
            "greeting": definition.widget.greeting,
        },
    }


def _reader(
    request: Request,
    assistants: Assistants,
    name: str | None,
    token: str | None,
    named: str | None,
) -> tuple[ActingCustomer, dict[str, str | None]]:
    """Whose sessions are read: the end user, and the store's owner (tenant, assistant)."""
    assistant = assistants.get(name)
    customer = end_user(request, assistant.definition.end_user, token, named)
    return customer, {"tenant": customer.tenant, "assistant": assistant.name}


class ChatBody(RequestBody):
    customer_id: str | None = Field(
        None,
        pattern=CUSTOMER_ID,
        description="Optional with a customer token (x-customer-token); must match it.",
    )
    message: str = Field(min_length=1)  # at most assistant.max_message_chars
    session_id: str | None = Field(None, max_length=64)
    assistant: str | None = AssistantName


@demo_router.get("/customers", responses=error_responses(503))
async def list_customers(assistants: AssistantsDep) -> dict[str, Any]:
    """The demo customers and their orders, from the Order API (for the chat widget)."""
    if assistants.orders is None:
        return {"data": []}
    try:
        return {"data": await assistants.orders.list_customers()}
    except (OrderServiceUnavailable, OrderServiceAuthError) as exc:
        raise DependencyUnavailableError(str(exc)) from exc


class DemoTokenBody(RequestBody):
    customer_id: str = Field(pattern=CUSTOMER_ID)


@demo_router.post("/demo/token")
async def demo_token(body: DemoTokenBody, request: Request) -> dict[str, Any]:
    """A customer token for the demo page's picked customer, in the caller's tenant."""
    tenant = request.state.principal.tenant
    minted = await run_in_threadpool(customer_tokens(request).mint, tenant, body.customer_id)
    return {"token": minted.token, "customer_id": body.customer_id, "expires_at": minted.expires_at}


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
    "`order_status`, `action` (a write tool proposed, performed after the user's yes, or "
    "dropped), `cache`, `not_sure`, `handoff`, `language` (another language: a "
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
        **error_responses(401, 403, 404, 500, 503),
    },
)
async def chat(
    body: ChatBody,
    assistants: AssistantsDep,
    request: Request,
    customer_token: CustomerTokenHeader = None,
) -> Response:
    assistant = assistants.get(body.assistant)
    customer = end_user(request, assistant.definition.end_user, customer_token, body.customer_id)
    if not body.message.strip():
        raise InvalidRequestError("message must not be blank", param="message")
    limit: int = request.app.state.max_message_chars
    if len(body.message) > limit:
        raise InvalidRequestError(
            f"message is over the limit of {limit} characters", param="message"
        )
    turn = TurnRequest(customer.customer_id, body.message, body.session_id, customer.tenant)
    opened = await open_turn(request, assistant, turn, endpoint="assistant", stream=True)
    if opened is None:
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    return SSEResponse(_stream(opened.first, opened.rest, request, opened.record))


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
    tools = [first.tool] if isinstance(first, ToolResultEvent) else []
    try:
        yield named_event(first.kind, event_json(first))
        async with contextlib.aclosing(rest):
            async for event in rest:
                if isinstance(event, DoneEvent):
                    done = event
                elif isinstance(event, ToolResultEvent):
                    tools.append(event.tool)
                yield named_event(event.kind, event_json(event))
    except (RequestError, EngineDeadError) as exc:
        error = exc
        yield named_event("error", stream_error_payload(exc).model_dump())
    except Exception as exc:
        error = exc
        log.exception("assistant turn failed mid-stream")
        yield named_event("error", stream_error_payload(exc).model_dump())
    except BaseException as exc:  # the client left
        error = exc
        raise
    finally:
        finish_turn_record(request, record, done, error, tools)


@router.get("/sessions", responses=error_responses(401, 403, 404))
async def list_sessions(
    assistants: AssistantsDep,
    request: Request,
    customer_id: CustomerQuery = None,
    limit: int = Query(20, ge=1, le=200),
    customer_token: CustomerTokenHeader = None,
    assistant: AssistantQuery = None,
) -> dict[str, Any]:
    customer, owner = _reader(request, assistants, assistant, customer_token, customer_id)
    sessions = await run_in_threadpool(
        lambda: assistants.conversations.list_sessions(customer.customer_id, limit, **owner)
    )
    return {
        "data": [
            {
                "session_id": s.id,
                "customer_id": s.customer_id,
                "assistant": s.assistant,
                "created_at": s.created_at.isoformat(),
                "updated_at": s.updated_at.isoformat(),
            }
            for s in sessions
        ]
    }


@router.get("/sessions/{session_id}", responses=error_responses(401, 403, 404))
async def get_session(
    session_id: str,
    assistants: AssistantsDep,
    request: Request,
    customer_id: CustomerQuery = None,
    limit: int = Query(200, ge=1, le=1000),
    customer_token: CustomerTokenHeader = None,
    assistant: AssistantQuery = None,
) -> dict[str, Any]:
    customer, owner = _reader(request, assistants, assistant, customer_token, customer_id)

    def load() -> tuple[list[StoredMessage], dict[int, Feedback]]:
        conversations = assistants.conversations
        session = conversations.get_session(session_id, customer.customer_id, **owner)
        return conversations.history(session.id, limit), conversations.ratings(session.id)

    messages, ratings = await run_in_threadpool(load)
    return {
        "session_id": session_id,
        "customer_id": customer.customer_id,
        "messages": [_message_json(m, ratings.get(m.index)) for m in messages],
    }


@router.get("/tickets", responses=error_responses(401, 403, 404))
async def list_tickets(
    assistants: AssistantsDep,
    request: Request,
    customer_id: CustomerQuery = None,
    customer_token: CustomerTokenHeader = None,
    assistant: AssistantQuery = None,
) -> dict[str, Any]:
    """The customer's handoff tickets with this assistant, newest first."""
    customer, owner = _reader(request, assistants, assistant, customer_token, customer_id)
    tickets = await run_in_threadpool(
        lambda: assistants.conversations.tickets(customer.customer_id, **owner)
    )
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


class FeedbackBody(RequestBody):
    rating: Literal["up", "down"] = Field(
        description="`up` or `down`; a second rating replaces the first."
    )
    comment: str = Field("", max_length=MAX_COMMENT_CHARS, description="What was wrong.")
    customer_id: str | None = Field(
        None,
        pattern=CUSTOMER_ID,
        description="Optional with a customer token (x-customer-token); must match it.",
    )
    assistant: str | None = AssistantName


@router.post(
    "/sessions/{session_id}/turns/{turn_id}/feedback",
    responses=error_responses(401, 403, 404),
)
async def rate_answer(
    session_id: Annotated[str, Path(max_length=64)],
    turn_id: Annotated[int, Path(ge=0, le=MAX_INT64, description="The `done` event's.")],
    body: FeedbackBody,
    assistants: AssistantsDep,
    request: Request,
    customer_token: CustomerTokenHeader = None,
) -> dict[str, Any]:
    """The end user's thumbs up or down (and comment) on one answer of their session."""
    customer, owner = _reader(request, assistants, body.assistant, customer_token,
                              body.customer_id)  # fmt: skip
    rated = await run_in_threadpool(
        lambda: assistants.conversations.rate(
            session_id, turn_id, customer.customer_id, Rating(body.rating), body.comment, **owner
        )
    )
    return {
        "session_id": rated.session_id,
        "turn_id": rated.turn_id,
        "rating": rated.rating.value,
        "comment": rated.comment,
        "created_at": rated.created_at.isoformat(),
    }


def _message_json(message: StoredMessage, rated: Feedback | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "index": message.index,
        "role": message.role,
        "content": message.content,
        "created_at": message.created_at.isoformat(),
    }
    record = message.assistant
    if record is not None:
        body |= {
            "intent": record.intent,
            "confidence": record.confidence,
            "cited_article_ids": list(record.cited_article_ids),
            "tool_results": [event_json(e) for e in record.tool_results],
            "handoff_reason": record.handoff_reason and record.handoff_reason.value,
            "timings_ms": dict(record.timings_ms),
            "usage": dict(record.usage),
            "model": record.model,
            "answer_path": record.answer_path and record.answer_path.value,
            "feedback": rated and {"rating": rated.rating.value, "comment": rated.comment},
        }
    return body
