"""The conversation store's records (``conversations``): sessions, their messages with
the assistant's record of each answer, handoff tickets and pending write actions, and how
each is read back from its row."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from switchboard.assistant.types import AnswerPath, HandoffReason, Intent, ToolResultEvent

Role = Literal["user", "assistant"]


class TicketStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # by the support desk, outside this store


@dataclass(frozen=True)
class Session:
    id: str
    customer_id: str
    created_at: datetime
    updated_at: datetime
    tenant: str
    assistant: str


@dataclass(frozen=True)
class AssistantRecord:
    """An assistant answer and how it was made."""

    content: str
    intent: Intent
    confidence: float
    model: str
    cited_article_ids: tuple[str, ...] = ()
    tool_results: tuple[ToolResultEvent, ...] = ()
    handoff_reason: HandoffReason | None = None
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    usage: Mapping[str, int] = field(default_factory=dict)
    answer_path: AnswerPath | None = None  # None: answered before paths were recorded


@dataclass(frozen=True)
class StoredMessage:
    """One message of a session; ``assistant`` is set for (and only for) assistant turns."""

    session_id: str
    index: int
    role: Role
    content: str
    created_at: datetime
    assistant: AssistantRecord | None = None


@dataclass(frozen=True)
class Ticket:
    id: str
    session_id: str
    customer_id: str
    reason: HandoffReason
    summary: str
    status: TicketStatus
    created_at: datetime


@dataclass(frozen=True)
class PendingAction:
    """A write tool call proposed to the customer, performed only once they confirm."""

    customer_id: str
    intent: Intent
    tool: str
    arguments: Mapping[str, Any]


def session_of(row: tuple[Any, ...]) -> Session:
    session_id, customer_id, created_at, updated_at, tenant, assistant = row
    return Session(
        session_id,
        customer_id,
        datetime.fromisoformat(created_at),
        datetime.fromisoformat(updated_at),
        tenant,
        assistant,
    )


def ticket_of(row: tuple[Any, ...]) -> Ticket:
    ticket_id, session_id, customer_id, reason, summary, status, created_at = row
    return Ticket(
        ticket_id,
        session_id,
        customer_id,
        HandoffReason(reason),
        summary,
        TicketStatus(status),
        datetime.fromisoformat(created_at),
    )


def message_of(row: tuple[Any, ...]) -> StoredMessage:
    session_id, index, role, content, created_at = row[:5]
    return StoredMessage(
        session_id,
        index,
        role,
        content,
        datetime.fromisoformat(created_at),
        None if role == "user" else assistant_record_of(content, row[5:]),
    )


def assistant_record_of(content: str, columns: tuple[Any, ...]) -> AssistantRecord:
    intent, confidence, cited, tools, handoff, timings, usage, model, path = columns
    return AssistantRecord(
        content=content,
        intent=intent,
        confidence=confidence,
        model=model,
        cited_article_ids=tuple(json.loads(cited)),
        tool_results=tuple(ToolResultEvent(**result) for result in json.loads(tools)),
        handoff_reason=None if handoff is None else HandoffReason(handoff),
        timings_ms=json.loads(timings),
        usage=json.loads(usage),
        answer_path=None if path is None else AnswerPath(path),
    )
