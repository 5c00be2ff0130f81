"""``model: "assistant:<name>"`` in ``POST /v1/chat/completions``: one turn of that
assistant as an OpenAI chat completion, so any OpenAI SDK or chat UI can use it.

The request's last message is the question (a user message with text); the user and
assistant messages before it are the conversation so far (the caller keeps it: each call
stores only its own turn, in a new session). The assistant answers with its own prompts,
so a system message of the request is not used. Sampling parameters do not apply: the
assistant's definition sets them.

The answer streams as ``chat.completion.chunk``s (or comes as one ``chat.completion``).
Two extension fields, on the last chunk and on the completion, carry what plain text
cannot: ``citations`` (what each ``[n]`` of the answer refers to: ``number``,
``article_id``, ``title``, ``url``, ``heading``, ``quote``, ``collection``) and
``switchboard`` (the turn's ``session_id``, ``turn_id`` to rate the answer with,
``intent``, ``answer_path``, and ``handoff`` when a colleague was offered or a ticket
created). An assistant whose end user is a customer acts for the customer its token in
``x-customer-token`` proves, as on ``/v1/assistant/chat``; OpenAI's ``user`` field is then
optional and must match it (with authentication off, ``user`` names the customer). The
key needs the ``chat`` and ``assistant`` scopes.

A write tool is confirmed the way the caller keeps the conversation: a "yes" right after
the assistant's proposal, both replayed, performs it (``confirmation.WriteActions.replayed``
re-checks the proposal). The replay is trusted that far because the caller is an
authenticated key acting for a verified customer, and the write is always for that
customer (the tool injects them; the messages never name them): a forged history only lets
the customer confirm an action on their own account that they could ask for directly.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from switchboard.api.customer_auth import end_user
from switchboard.api.errors import stream_error_payload
from switchboard.api.sse import DONE, SSEResponse, data_event, sse_event
from switchboard.api.turn_record import finish_turn_record, open_turn
from switchboard.assistant.definition import MODEL_PREFIX
from switchboard.assistant.orchestrator import TurnRequest
from switchboard.assistant.service import Assistants
from switchboard.assistant.transcript import Transcript
from switchboard.assistant.types import (
    TurnEvent,
)
from switchboard.errors import (
    CLIENT_CLOSED_REQUEST,
    AssistantNotFoundError,
    EngineDeadError,
    InvalidRequestError,
    RequestError,
)
from switchboard.gateway.customer_tokens import CUSTOMER_ID
from switchboard.gateway.messages import is_text_only, text_of

log = logging.getLogger(__name__)


def turn_request(messages: Sequence[Mapping[str, Any]], max_chars: int) -> tuple[str, tuple]:
    """The question (the last message) and the conversation before it; a request that has
    no user question last is refused as the client's error."""
    if not messages or messages[-1].get("role") != "user":
        raise InvalidRequestError("the last message must be the user's question", param="messages")
    history = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            continue  # the assistant's own prompts apply
        if role not in ("user", "assistant") or not is_text_only(message):
            raise InvalidRequestError(
                f"messages[{index}]: an assistant takes user and assistant text messages",
                param=f"messages[{index}]",
            )
        history.append((str(role), text_of(message)))
    question = history.pop()[1]
    if not question.strip():
        raise InvalidRequestError("the user's question is empty", param="messages")
    if len(question) > max_chars:
        raise InvalidRequestError(f"the question is over {max_chars} characters", param="messages")
    return question, tuple(history)


async def assistant_completion(
    http: Request,
    name: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    stream: bool,
    usage: bool,
    user: str | None = None,
) -> Response:
    assistants: Assistants | None = getattr(http.app.state, "assistants", None)
    if assistants is None:
        raise AssistantNotFoundError(name, (), param="model")
    if name not in assistants.by_name:
        raise AssistantNotFoundError(name, sorted(assistants.by_name), param="model")
    assistant = assistants.get(name)
    token = http.headers.get("x-customer-token")
    identity = assistant.definition.end_user
    if identity == "customer" and user is not None and not re.fullmatch(CUSTOMER_ID, user):
        raise InvalidRequestError("user is no customer id", param="user")
    customer = end_user(http, identity, token, user)
    question, history = turn_request(messages, http.app.state.max_message_chars)
    turn = TurnRequest(customer.customer_id, question, None, customer.tenant, history)
    opened = await open_turn(http, assistant, turn, endpoint="chat", stream=stream)
    if opened is None:
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    record, first, events = opened.record, opened.first, opened.rest
    reply = CompletionReply(f"{MODEL_PREFIX}{name}", record.request_id)
    headers = {"x-request-id": record.request_id}
    if stream:
        chunks = _stream(reply, first, events, http, record, usage)
        return SSEResponse(chunks, headers=headers)
    body = await _complete(reply, first, events, http, record)
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/json",
                    headers=headers)  # fmt: skip


class CompletionReply(Transcript):
    """One answer's OpenAI objects (its id, model and creation time) over the transcript
    of its turn."""

    def __init__(self, model: str, request_id: str) -> None:
        super().__init__()
        self.model = model
        self.id = f"chatcmpl-{request_id}"
        self.created = int(time.time())

    @property
    def tool_names(self) -> list[str]:
        return [result.tool for result in self.tools]

    def extensions(self) -> dict[str, Any]:
        done, handoff = self.done, self.handoff
        turn: dict[str, Any] = {
            "handoff": {"reason": handoff.reason.value, "ticket_id": handoff.ticket_id}
            if handoff is not None
            else None
        }
        if done is not None:
            turn |= {
                "session_id": done.session_id,
                "turn_id": done.turn_id,
                "intent": done.intent,
                "answer_path": done.answer_path.value,
            }
        return {"citations": self.citations_json(), "switchboard": turn}

    def usage(self) -> dict[str, int]:
        used = dict(self.done.usage) if self.done else {}
        prompt, completion = used.get("prompt_tokens", 0), used.get("completion_tokens", 0)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        body = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return data_event(json.dumps(body, ensure_ascii=False).encode())


async def _events(
    first: TurnEvent, rest: AsyncGenerator[TurnEvent, None]
) -> AsyncIterator[TurnEvent]:
    yield first
    async with contextlib.aclosing(rest):
        async for event in rest:
            yield event


async def _stream(
    reply: CompletionReply,
    first: TurnEvent,
    rest: AsyncGenerator[TurnEvent, None],
    http: Request,
    record: Any,
    include_usage: bool,
) -> AsyncGenerator[bytes, None]:
    error: BaseException | None = None
    try:
        yield reply.chunk({"role": "assistant", "content": ""})
        async for event in _events(first, rest):
            text = reply.see(event)
            if text:
                yield reply.chunk({"content": text})
        yield reply.chunk({}, "stop", **reply.extensions())
        if include_usage:
            body = {"id": reply.id, "object": "chat.completion.chunk", "created": reply.created,
                    "model": reply.model, "choices": [], "usage": reply.usage()}  # fmt: skip
            yield data_event(json.dumps(body).encode())
    except (RequestError, EngineDeadError) as exc:  # the status line is gone: in-band
        error = exc
        yield sse_event(stream_error_payload(exc))
    except Exception as exc:
        error = exc
        log.exception("assistant completion %s failed mid-stream", reply.id)
        yield sse_event(stream_error_payload(exc))
    except BaseException as exc:  # the client left
        error = exc
        raise
    finally:
        finish_turn_record(http, record, reply.done, error, reply.tool_names)
    yield DONE


async def _complete(
    reply: CompletionReply,
    first: TurnEvent,
    rest: AsyncGenerator[TurnEvent, None],
    http: Request,
    record: Any,
) -> dict[str, Any]:
    error: BaseException | None = None
    try:
        async for event in _events(first, rest):
            reply.see(event)
    except BaseException as exc:
        error = exc
        raise
    finally:
        finish_turn_record(http, record, reply.done, error, reply.tool_names)
    return {
        "id": reply.id,
        "object": "chat.completion",
        "created": reply.created,
        "model": reply.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.answer},
                "finish_reason": "stop",
            }
        ],
        "usage": reply.usage(),
        **reply.extensions(),
    }
