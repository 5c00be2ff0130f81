"""One turn's request and state, and the hooks that plug into the pipeline.

The stages of ``orchestrator`` read and write the ``TurnState``; input hooks see it before
routing and output hooks wrap the model's text, which is where the response cache and the
guardrails plug in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from switchboard.assistant.conversations import StoredMessage
from switchboard.assistant.order_tool import OrderLookup
from switchboard.assistant.prompt_budget import BuiltPrompt, Citation
from switchboard.assistant.types import HandoffReason, Route, ToolResultEvent
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.types import CollectionRef, SearchHit, SearchMode


@dataclass(frozen=True)
class TurnRequest:
    customer_id: str
    message: str
    session_id: str | None = None

    def __post_init__(self) -> None:
        if not self.message.strip():
            raise ValueError("message must not be empty")


@dataclass
class TurnState:
    """What the stages know about the turn so far."""

    request: TurnRequest
    session_id: str
    message: str  # the text the pipeline works on (an input hook may have redacted it)
    history: list[StoredMessage] = field(default_factory=list)
    route: Route | None = None
    lookup: OrderLookup | None = None
    tool_results: list[ToolResultEvent] = field(default_factory=list)
    hits: list[SearchHit] = field(default_factory=list)
    relevance: float | None = None
    prompt: BuiltPrompt | None = None
    answer: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    handoff: HandoffReason | None = None
    usage: dict[str, int] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)


class InputHook(Protocol):
    async def on_input(self, state: TurnState) -> str | None:
        """A reply that answers the turn without the rest of the pipeline (a cache hit, a
        blocked message), or None to go on; may rewrite ``state.message``."""
        ...


class OutputHook(Protocol):
    def on_output(self, state: TurnState, text: AsyncIterator[str]) -> AsyncIterator[str]:
        """The model's text as the customer should see it."""
        ...


@dataclass(frozen=True)
class Hooks:
    input: Sequence[InputHook] = ()
    output: Sequence[OutputHook] = ()


class Searcher(Protocol):
    def search(self, query: str) -> list[SearchHit]: ...


class KnowledgeSearcher:
    """The knowledge base's configured search (hybrid + re-rank) over one collection."""

    def __init__(self, knowledge: KnowledgeBase, collection: CollectionRef, top_k: int) -> None:
        self._knowledge = knowledge
        self._collection = collection
        self._top_k = top_k

    def search(self, query: str) -> list[SearchHit]:
        request = self._knowledge.request(query, top_k=self._top_k)
        return self._knowledge.retriever.search(self._collection, request).hits


def relevance(hits: Sequence[SearchHit]) -> float | None:
    """How well the best hit matches the query: its dense (cosine) score, which unlike
    fused or re-ranked scores means the same across queries; None without hits."""
    return max((h.scores.get(SearchMode.DENSE.value, -1.0) for h in hits), default=None)
