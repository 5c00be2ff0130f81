"""Value types of the assistant shared by its stages, its API and its evaluation.

A leaf module: it imports nothing of ``switchboard`` but other leaves. One chat turn yields
a stream of ``TurnEvent``s, which the API sends as server-sent events (``event: <kind>``,
``data: <json>``) and the evaluation reads directly.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

Message = dict[str, Any]  # an OpenAI chat message: role, content, and maybe tool_calls


Intent = str
"""An intent's name, as its assistant's definition declares it."""

QUESTION = "question"
"""The intent of every message to an assistant that declares none: a question for its
documents."""
OUT_OF_SCOPE = "out_of_scope"
"""The intent of a message the assistant does not answer (another language)."""
SMALL_TALK = "small_talk"
"""The intent a cached answer stored without one gets back."""


class Action(enum.StrEnum):
    """What an assistant does with a message of an intent."""

    ANSWER = "answer"  # from its documents (the default)
    LOOKUP = "lookup"  # the end user's records (the shop's orders), looked up and stated
    HANDOFF = "handoff"  # a ticket for a colleague
    REFUSE = "refuse"  # the fixed refusal
    SMALL_TALK = "small_talk"  # a short reply that states no facts


@dataclass(frozen=True)
class Route:
    """The router's decision for one message.

    ``intent`` is the best-scoring intent and ``action`` what its definition does with it;
    ``confident`` is whether its score reached the router's threshold. ``order_ids`` are
    the order numbers found in the message, in order of appearance, without duplicates.
    ``scores`` has every intent's score.
    """

    intent: Intent
    confidence: float
    confident: bool
    order_ids: tuple[str, ...] = ()
    scores: Mapping[str, float] = field(default_factory=dict)
    action: Action = Action.ANSWER


class HandoffReason(enum.StrEnum):
    CUSTOMER_REQUEST = "customer_request"  # the human-handoff intent: a ticket is created
    SERVICE_DOWN = "service_unavailable"  # offered: a tool's API did not answer
    NOT_SURE = "no_relevant_sources"  # offered: retrieval below the relevance floor
    LANGUAGE = "language"  # offered: the message is in a language the assistant does not answer

    @classmethod
    def _missing_(cls, value: object) -> HandoffReason | None:
        """Tickets stored before tools were generic say ``order_service_unavailable``."""
        return cls.SERVICE_DOWN if value == "order_service_unavailable" else None


class AnswerPath(enum.StrEnum):
    """How a turn's answer was made: by the model (as generated, repaired by the grounding
    check, or its supporting quote), or without it."""

    GENERATED = "generated"  # the model's answer, every checked claim supported
    REPAIRED = "generated+repaired"  # sentences with unsupported claims left out
    QUOTED = "quoted"  # the evidence sentence that answers the question, quoted
    LOOKUP = "lookup"  # the end user's records (or their API's outage), stated by the lookup
    ACTION = "action"  # a write tool proposed, performed once confirmed, or dropped
    CACHE = "cache"  # a cached answer
    NOT_SURE = "not_sure"  # nothing relevant in the help centre: a handoff offered
    HANDOFF = "handoff"  # a ticket for a colleague
    LANGUAGE = "language"  # another language: a colleague offered, in that language
    REFUSAL = "refusal"  # out of scope
    BLOCKED = "blocked"  # a guardrail blocked the message or the answer

    @classmethod
    def _missing_(cls, value: object) -> AnswerPath | None:
        """Turns recorded before lookups were generic say ``order_status``."""
        return cls.LOOKUP if value == "order_status" else None


# -- events of one turn ---------------------------------------------------------------------


@dataclass(frozen=True)
class TokenEvent:
    text: str
    kind: Literal["token"] = "token"


@dataclass(frozen=True)
class CitationEvent:
    """``[number]`` in the answer refers to this article; sent when first cited. ``quote``
    is the passage cited, at ``start:end`` (characters) of the article, under ``heading``."""

    number: int
    article_id: str
    title: str
    url: str
    heading: str = ""
    quote: str = ""
    start: int | None = None
    end: int | None = None
    collection: str = ""  # the knowledge-base collection of the article
    kind: Literal["citation"] = "citation"


@dataclass(frozen=True)
class ToolResultEvent:
    """A tool's outcome. ``ok`` false with ``error`` (a code) when the tool failed;
    ``data`` is the tool's JSON result (an order, a list of orders, or ``None``)."""

    tool: str
    arguments: Mapping[str, Any]
    ok: bool
    data: Any = None
    error: str | None = None
    kind: Literal["tool_result"] = "tool_result"


@dataclass(frozen=True)
class HandoffEvent:
    """A human handoff: ``ticket_id`` set when a ticket was created, ``None`` when offered."""

    reason: HandoffReason
    message: str
    ticket_id: str | None = None
    kind: Literal["handoff"] = "handoff"


@dataclass(frozen=True)
class StageTime:
    """One stage of a turn: its name, when it started (unix seconds) and how long it ran."""

    name: str
    started_at: float
    duration_ms: float


@dataclass(frozen=True)
class DoneEvent:
    session_id: str
    turn_id: int
    intent: Intent
    confidence: float
    cited_article_ids: tuple[str, ...]
    timings_ms: Mapping[str, float]
    usage: Mapping[str, int]
    model: str
    cache: str | None = None  # "exact", "semantic", "fallback" (a hit), "miss"; None: not looked up
    guard_events: tuple[str, ...] = ()  # "direction:category:type:action" per finding
    answer_path: AnswerPath = AnswerPath.GENERATED
    routed_intent: Intent = ""  # the router's best, confident or not; ``intent`` is the
    # turn's (``question`` when an untrusted route was answered from the documents)
    stages: tuple[StageTime, ...] = ()  # for the turn's trace; not part of the event's JSON
    kind: Literal["done"] = "done"


TurnEvent = TokenEvent | CitationEvent | ToolResultEvent | HandoffEvent | DoneEvent


def event_json(event: TurnEvent) -> dict[str, Any]:
    """The event's SSE ``data`` payload (``kind`` is the SSE event name, not repeated)."""
    data = asdict(event)
    del data["kind"]
    data.pop("stages", None)
    return data


# -- the model the assistant generates with --------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


@dataclass(frozen=True)
class Delta:
    """A piece of a streamed completion: text, or (at the end) the tool calls it asked for."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None
    prompt_tokens: int | None = None  # set on the last delta when known
    completion_tokens: int | None = None


class ChatModel(Protocol):
    """A chat model the orchestrator can budget prompts for and stream from."""

    @property
    def name(self) -> str: ...

    @property
    def max_model_len(self) -> int:
        """The context window, prompt and output together."""
        ...

    @property
    def supports_tools(self) -> bool:
        """Whether the model does OpenAI-style function calling."""
        ...

    def count_messages(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] | None = None
    ) -> int:
        """The exact prompt tokens of ``messages`` (and ``tools``) under the model's own
        chat template and tokenizer; called once per candidate prompt, so it must be local."""
        ...

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str] = (),
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> AsyncIterator[Delta]: ...
