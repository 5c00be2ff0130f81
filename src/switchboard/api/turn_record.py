"""An assistant turn's request record, whichever endpoint served it (``/v1/assistant/chat``
or a chat completion of ``assistant:<name>``): opened when the turn is admitted, its model
calls metered into it by the gateway, closed like any request (metrics, trace, log)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

from starlette.requests import Request

from switchboard.api.gateway_model import Caller, bind_caller
from switchboard.api.generation import until_disconnected
from switchboard.assistant.definition import MODEL_PREFIX
from switchboard.assistant.orchestrator import TurnRequest
from switchboard.assistant.service import Assistant
from switchboard.assistant.types import DoneEvent, TurnEvent
from switchboard.errors import outcome
from switchboard.gateway.types import Principal
from switchboard.observability.record import RequestRecord, TurnSummary


@dataclass
class OpenTurn:
    """A turn admitted and started: its record, its first event and the rest."""

    record: RequestRecord
    first: TurnEvent
    rest: AsyncGenerator[TurnEvent, None]


async def open_turn(
    request: Request, assistant: Assistant, turn: TurnRequest, *, endpoint: str, stream: bool
) -> OpenTurn | None:
    """Start the turn with its request record (its model calls metered into it) and wait
    for its first event; None when the client left first (recorded as such, the turn and
    its model call cancelled). A refusal before the first event is recorded and raised."""
    record = new_turn_record(request, assistant.name, endpoint=endpoint, stream=stream)
    bind_caller(Caller(principal_of(request), record))
    events = assistant.orchestrator.turn(turn)
    try:
        first = await until_disconnected(request.receive, anext(events))
    except BaseException as exc:
        await events.aclose()
        finish_turn_record(request, record, error=exc)
        raise
    if first is None:
        await events.aclose()
        finish_turn_record(request, record)
        return None
    return OpenTurn(record, first, events)


def principal_of(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal if principal is not None else request.app.state.auth.anonymous


def new_turn_record(
    request: Request, assistant: str, *, endpoint: str, stream: bool
) -> RequestRecord:
    principal = principal_of(request)
    return RequestRecord(
        request_id=uuid.uuid4().hex,
        started_at=time.time(),
        key_id=principal.key_id,
        tenant=principal.tenant,
        endpoint=endpoint,
        model=f"{MODEL_PREFIX}{assistant}",
        stream=stream,
    )


def finish_turn_record(
    request: Request,
    record: RequestRecord,
    done: DoneEvent | None = None,
    error: BaseException | None = None,
    tools: Sequence[str] = (),
) -> None:
    """The turn in the request log and the metrics, like a gateway request: tokens,
    latency, the cache's answer and every guardrail decision (never the text), and what the
    turn did: its intent, answer path, cited articles and tool calls."""
    record.total_ms = (time.time() - record.started_at) * 1000
    if done is not None:
        record.turn = TurnSummary(
            intent=done.intent,
            answer_path=done.answer_path.value,
            cited_article_ids=list(done.cited_article_ids),
            tools=list(tools),
            cache=done.cache,
        )
        if record.provider is None:  # not metered by the gateway: the model's own count
            record.served_model = done.model or None
            record.prompt_tokens = done.usage.get("prompt_tokens", 0)
            record.completion_tokens = done.usage.get("completion_tokens", 0)
        record.ttft_ms = done.timings_ms.get("ttft")
        record.cache_hit = done.cache in ("exact", "semantic", "fallback")
        record.guard_events = list(done.guard_events)
    if error is None and done is None:  # the stream ended before its done event
        error = asyncio.CancelledError()
    record.status, record.error_code = outcome(error)
    gateway = request.app.state.gateway
    gateway.tracing.turn_spans(record, done.stages if done else ())
    gateway.recorder.close(record, surface="assistant", cache=done.cache if done else None)
