"""One turn's request and state.

The steps of ``orchestrator`` read and write the ``TurnState``; it is the turn's
``Exchange`` for the stages around it (``stages.stage``): the guardrails and the response
cache every endpoint runs, and the grounding check. They see the customer's message before
routing (``guard_messages``), wrap the model's text, store the finished turn and may answer
a turn whose model failed.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, cast

from switchboard.assistant.conversation_records import PendingAction, StoredMessage
from switchboard.assistant.lookup import LookupResult
from switchboard.assistant.prompt_budget import BuiltPrompt, Citation, Role, SourceChunk, Turn
from switchboard.assistant.types import (
    OUT_OF_SCOPE,
    SMALL_TALK,
    AnswerPath,
    HandoffReason,
    Intent,
    Route,
    StageTime,
    ToolResultEvent,
)
from switchboard.order_ids import OrderIdFormat
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.types import CollectionRef, SearchHit, SearchMode
from switchboard.rag.window import chunk_window
from switchboard.stages.stage import Answer, Exchange


@dataclass(frozen=True)
class TurnRequest:
    customer_id: str
    message: str
    session_id: str | None = None
    tenant: str | None = None  # whose customer; None: the conversation store's default
    history: tuple[tuple[str, str], ...] | None = None
    """The conversation before, as the caller keeps it (an OpenAI chat request): a new
    session stores this turn only. None: the session's own history."""

    def __post_init__(self) -> None:
        if not self.message.strip():
            raise ValueError("message must not be empty")
        if self.history is not None and self.session_id is not None:
            raise ValueError("a turn has a session's history or its own, not both")
        for role, _ in self.history or ():
            if role not in ("user", "assistant"):
                raise ValueError(f"a past message is the user's or the assistant's, not {role!r}")


@dataclass
class TurnState(Exchange):
    """What the steps know about the turn so far."""

    request: TurnRequest
    session_id: str
    message: str  # the text the pipeline works on (an input hook may have redacted it)
    history: list[StoredMessage] = field(default_factory=list)
    route: Route | None = None
    lookup: LookupResult | None = None
    tool_results: list[ToolResultEvent] = field(default_factory=list)
    hits: list[SearchHit] = field(default_factory=list)
    relevance: float | None = None
    evidence: list[SourceChunk] = field(default_factory=list)  # what the prompt offers, best first
    prompt: BuiltPrompt | None = None
    sources: list[SourceChunk] = field(default_factory=list)  # given to the model, [1]..[n]
    grounding: AnswerPath | None = None  # what the grounding check made of the model's answer
    answer: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    handoff: HandoffReason | None = None
    pending: PendingAction | None = None  # the write proposed last turn, taken by this one
    acted: bool = False  # a write was proposed, performed or dropped
    usage: dict[str, int] = field(default_factory=dict)
    reply_source: str | None = None  # who answered instead of the pipeline ("cache:exact"...)
    stages: list[StageTime] = field(default_factory=list)  # each stage's span, in order

    def __post_init__(self) -> None:
        self.tenant = self.request.tenant or ""
        self.session_key = self.session_id  # the placeholders last the conversation

    def guard_messages(self) -> list[dict[str, Any]]:
        return [{"role": "user", "content": self.message}]

    def use_guarded(self, messages: list[dict[str, Any]]) -> None:
        self.message = str(messages[0]["content"])

    def known_text(self) -> str:
        """The customer's own message, the tools' answers about their records, and
        the sources the model was given (the help centre's own phone number or town is
        not a leak)."""
        parts = [self.request.message, self.placeholders.restore(self.message)]
        if self.lookup is not None:
            parts += self.lookup.prompt_blocks
        parts += [json.dumps(r.data, default=str) for r in self.tool_results if r.data is not None]
        parts += [hit.stored.chunk.text for hit in self.hits]
        if self.prompt is not None:
            parts += [str(m.get("content") or "") for m in self.prompt.messages]
        return "\n".join(parts)

    def took(self, stage: str, ms: float) -> None:
        """``stage`` just ended after ``ms``: its timing grows by it, and its span is kept."""
        self.timings_ms[stage] = self.timings_ms.get(stage, 0.0) + ms
        self.stages.append(StageTime(stage, time.time() - ms / 1000, ms))

    def masked(self, text: str) -> str:
        """``text`` with the customer's personal data, quoted back to them, masked again
        (for storing it, or sending it back to the model)."""
        return self.placeholders.mask(text)


@dataclass(frozen=True)
class Reply:
    """A whole answer given instead of the pipeline's: a cached answer, a blocked message."""

    text: str
    source: str  # "guard", "cache:exact", "cache:semantic", "cache:fallback"
    intent: Intent = SMALL_TALK
    citations: tuple[Citation, ...] = ()


def reply_of(answer: Answer) -> Reply:
    """A stage's answer as the turn's reply: a refusal is out of scope; a cached answer
    keeps the intent and citations it was stored with."""
    extra = answer.extra
    citations = tuple(Citation(**c) for c in extra.get("citations", ()))
    default = OUT_OF_SCOPE if answer.refused else SMALL_TALK
    intent = str(extra.get("intent", default))
    return Reply(answer.text, answer.source, intent, citations)


class Searcher(Protocol):
    def search(self, query: str) -> list[SearchHit]: ...


class KnowledgeSearcher:
    """The knowledge base's configured search (hybrid + re-rank) over one collection or
    several, merged into one ranked list (``merged_hits``); each hit names its collection."""

    def __init__(
        self,
        knowledge: KnowledgeBase,
        collections: CollectionRef | Sequence[CollectionRef],
        top_k: int,
    ) -> None:
        refs = (collections,) if isinstance(collections, CollectionRef) else tuple(collections)
        if not refs:
            raise ValueError("a searcher needs at least one collection")
        self._knowledge = knowledge
        self._collections = {ref.name: ref for ref in refs}
        self._first = refs[0].name
        self._top_k = top_k

    def search(self, query: str) -> list[SearchHit]:
        request = self._knowledge.request(query, top_k=self._top_k)
        rankings = [
            [
                replace(h, collection=name)
                for h in self._knowledge.retriever.search(ref, request).hits
            ]
            for name, ref in self._collections.items()
        ]
        return merged_hits(rankings, self._top_k)

    def window(self, hits: Sequence[SearchHit], width: int) -> list[SearchHit]:
        """The hits' chunks with up to ``width`` of their neighbours either side, each read
        from its hit's collection (one it does not search: its first); documents in the
        order the hits first name them."""
        hits = [h if h.collection in self._collections else replace(h, collection=self._first)
                for h in hits]  # fmt: skip
        windows: list[SearchHit] = []
        for name, ref in self._collections.items():
            own = [h for h in hits if h.collection == name]
            if own:
                found = chunk_window(self._knowledge.store, ref, own, width)
                windows += [replace(h, collection=name) for h in found]
        first: dict[tuple[str, str], int] = {}
        for index, h in enumerate(hits):
            first.setdefault((h.collection, h.stored.chunk.document_id), index)
        return sorted(windows, key=lambda h: first[h.collection, h.stored.chunk.document_id])

    def version(self) -> str:
        """Changes when what a search of any of its collections can return changes."""
        versions = {name: self._knowledge.version(ref) for name, ref in self._collections.items()}
        if len(versions) == 1:
            return next(iter(versions.values()))
        joined = "\x1e".join(f"{name}\x1f{version}" for name, version in versions.items())
        return hashlib.sha256(joined.encode()).hexdigest()[:16]


def merged_hits(rankings: Sequence[Sequence[SearchHit]], top_k: int) -> list[SearchHit]:
    """The first ``top_k`` of several collections' ranked hits: each collection's own order
    (its fusion and re-ranking) kept, and at each step the head with the higher dense
    (cosine) score taken, the one score that means the same in every collection (the
    relevance floor reads it); a tie goes to the collection named first."""
    merged = heapq.merge(*rankings, key=lambda h: -h.scores.get(SearchMode.DENSE.value, -1.0))
    return list(itertools.islice(merged, top_k))


def relevance(hits: Sequence[SearchHit]) -> float | None:
    """How well the best hit matches the query: its dense (cosine) score, which unlike
    fused or re-ranked scores means the same across queries; None without hits."""
    return max((h.scores.get(SearchMode.DENSE.value, -1.0) for h in hits), default=None)


FOLLOW_UP_WORDS = 12  # a message this short may lean on the previous one for its subject
_POINTS_BACK = re.compile(
    r"^\s*(and|also|what about|how about)\b|\b(it|its|that|this|they|them|those)\b",
    re.IGNORECASE,
)


def search_query(message: str, previous: str | None, order_ids: OrderIdFormat) -> str:
    """What to search for: a short follow-up that points back ("and to Paris?", "can I
    return it?") is searched together with the customer's previous message, which holds
    its subject; any other message on its own. Order numbers are left out: the Order API
    looks them up, and in the help centre they only match the article on what an order
    number looks like."""
    short = len(message.split()) <= FOLLOW_UP_WORDS
    if previous is not None and short and _POINTS_BACK.search(message):
        message = f"{previous} {message}"
    return order_ids.remove(message)


_MARKERS = re.compile(r" ?\[\d{1,3}(?:\s*,\s*\d{1,3})*\]")


def given_history(session_id: str, history: Sequence[tuple[str, str]]) -> list[StoredMessage]:
    """The caller's past messages as a session's history (kept for this turn only)."""
    now = datetime.now(UTC)
    return [
        StoredMessage(session_id, index, cast(Literal["user", "assistant"], role), text, now)
        for index, (role, text) in enumerate(history)
    ]


def latest_order_id(history: Sequence[StoredMessage], order_ids: OrderIdFormat) -> tuple[str, ...]:
    """The order number the conversation mentioned last, if any."""
    for message in reversed(history):
        ids = order_ids.find(message.content)
        if ids:
            return ids[:1]
    return ()


def prompt_turn(message: StoredMessage) -> Turn:
    """A past message for the prompt; an answer's ``[n]`` markers numbered that turn's
    sources, not this one's, so they are dropped."""
    return Turn(Role(message.role), _MARKERS.sub("", message.content))
