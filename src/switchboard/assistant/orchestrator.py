"""One chat turn of the support assistant, as an explicit pipeline of stages.

    session → input hooks → route → order tool → retrieve → prompt → generate → persist

Each stage reads and writes the ``TurnState`` and is timed; the turn yields ``TurnEvent``s
as it goes (tool results before the answer's tokens, citations as they are cited, ``done``
last). What each intent does:

- ``human_handoff``: a ticket is created (or the session's open one reused); no model call.
- ``out_of_scope`` (confident): a fixed refusal; no model call.
- ``small_talk`` (confident): a short model reply with no sources.
- ``order_status`` (confident): the Order API's facts rendered as the answer (the model
  never states an order status); the API down → say so and offer a handoff.
- everything else (the policy intents, and any unconfident route): order numbers in the
  message are looked up first and their status said; then the knowledge base is searched,
  and below the relevance floor the assistant says it is not sure and offers a handoff
  instead of guessing; otherwise the model answers from the retrieved articles, citing
  them as ``[n]``.

Input hooks run before routing and may rewrite the message or answer the turn themselves
(where the cache and input guardrails plug in); output hooks wrap the model's text stream
(where output guardrails plug in).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from switchboard.assistant.citations import CitationScanner
from switchboard.assistant.conversations import (
    AssistantRecord,
    ConversationStore,
    StoredMessage,
)
from switchboard.assistant.order_tool import OrderLookup, OrderSource, look_up_orders
from switchboard.assistant.prompt_budget import (
    BuiltPrompt,
    Citation,
    PromptBudget,
    PromptInputs,
    Role,
    SourceChunk,
    Turn,
    build_prompt,
)
from switchboard.assistant.replies import (
    GROUNDED_SYSTEM,
    NOT_SURE,
    OUT_OF_SCOPE,
    SMALL_TALK_SYSTEM,
    ticket_created,
)
from switchboard.assistant.router import SemanticRouter, extract_order_ids
from switchboard.assistant.types import (
    ChatModel,
    CitationEvent,
    DoneEvent,
    HandoffEvent,
    HandoffReason,
    Intent,
    Route,
    TokenEvent,
    ToolResultEvent,
    TurnEvent,
)
from switchboard.config import AssistantSettings
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.types import CollectionRef, SearchHit

SMALL_TALK_MAX_TOKENS = 48
FOLLOW_UP_WORDS = 12  # a message this short may lean on the previous one for its subject
_T = TypeVar("_T")


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


class Orchestrator:
    def __init__(
        self,
        settings: AssistantSettings,
        *,
        router: SemanticRouter,
        model: ChatModel,
        searcher: Searcher,
        orders: OrderSource,
        conversations: ConversationStore,
        hooks: Hooks | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.settings = settings
        self.router = router
        self.model = model
        self.searcher = searcher
        self.orders = orders
        self.conversations = conversations
        self.hooks = hooks or Hooks()
        self._clock = clock

    async def turn(self, request: TurnRequest) -> AsyncGenerator[TurnEvent, None]:
        """Run one turn; raises before the first event for a bad session or model refusal."""
        start = self._clock()
        state = await self._open_session(request)
        reply = None
        for hook in self.hooks.input:
            reply = await hook.on_input(state)
            if reply is not None:
                break
        if reply is not None:
            state.route = Route(Intent.SMALL_TALK, 1.0, True)
            async for event in self._say(state, reply):
                yield event
        else:
            async for event in self._answer(state):
                yield event
        assert state.route is not None
        cited = tuple(dict.fromkeys(c.article_id for c in state.citations))
        state.timings_ms["total"] = self._ms(start)
        state.timings_ms["overhead"] = state.timings_ms["total"] - state.timings_ms.get(
            "model", 0.0
        )
        record = AssistantRecord(
            content="".join(state.answer),
            intent=state.route.intent,
            confidence=state.route.confidence,
            model=self.model.name if "model" in state.timings_ms else "",
            cited_article_ids=cited,
            tool_results=state.lookup.events if state.lookup else (),
            handoff_reason=state.handoff,
            timings_ms=dict(state.timings_ms),
            usage=dict(state.usage),
        )
        turn_id = await asyncio.to_thread(
            self.conversations.add_exchange, state.session_id, state.message, record
        )
        yield DoneEvent(
            session_id=state.session_id,
            turn_id=turn_id,
            intent=state.route.intent,
            confidence=state.route.confidence,
            cited_article_ids=cited,
            timings_ms=dict(state.timings_ms),
            usage=dict(state.usage),
            model=record.model,
        )

    # -- stages ------------------------------------------------------------------------------

    async def _open_session(self, request: TurnRequest) -> TurnState:
        def load() -> tuple[str, list[StoredMessage]]:
            if request.session_id is None:
                return self.conversations.create_session(request.customer_id).id, []
            session = self.conversations.get_session(request.session_id, request.customer_id)
            return session.id, self.conversations.history(
                session.id, self.settings.history_messages
            )

        session_id, history = await asyncio.to_thread(load)
        return TurnState(request, session_id, request.message, history)

    async def _answer(self, state: TurnState) -> AsyncIterator[TurnEvent]:
        route = await self._timed(
            state, "route", asyncio.to_thread(self.router.route, state.message)
        )
        state.route = route
        if route.confident and route.intent is Intent.HUMAN_HANDOFF:
            async for event in self._hand_off(state):
                yield event
            return
        if route.confident and route.intent is Intent.OUT_OF_SCOPE:
            async for event in self._say(state, OUT_OF_SCOPE):
                yield event
            return
        if route.confident and route.intent is Intent.SMALL_TALK:
            async for event in self._small_talk(state):
                yield event
            return
        async for event in self._look_up_orders(state):
            yield event
        if route.confident and route.intent is Intent.ORDER_STATUS:
            return
        async for event in self._grounded(state):
            yield event

    async def _look_up_orders(self, state: TurnState) -> AsyncIterator[TurnEvent]:
        """Order numbers of this message, or for an order question the latest one of the
        conversation, or for an order question without any the customer's recent orders."""
        route = state.route
        assert route is not None
        named = route.order_ids
        order_question = route.confident and route.intent is Intent.ORDER_STATUS
        earlier = () if named else _latest_order_id(state.history)
        if not (named or earlier or order_question):
            return
        lookup = await self._timed(
            state,
            "tools",
            look_up_orders(self.orders, state.request.customer_id, named or earlier),
        )
        state.lookup = lookup
        for result in lookup.events:
            yield result
        if named or order_question:  # an earlier order is context, not this turn's answer
            async for event in self._say(state, lookup.answer):
                yield event
            if lookup.unavailable:
                yield self._offer_handoff(state, HandoffReason.ORDER_SERVICE_DOWN)

    async def _grounded(self, state: TurnState) -> AsyncIterator[TurnEvent]:
        query = _search_query(state.message, state.history)
        hits = await self._timed(state, "retrieve", asyncio.to_thread(self.searcher.search, query))
        state.hits = hits
        state.relevance = max((h.scores.get("dense", -1.0) for h in hits), default=None)
        if state.relevance is None or state.relevance < self.settings.relevance_floor:
            if not state.answer:  # nothing said yet (an order's status would be an answer)
                async for event in self._unsure(state):
                    yield event
            return
        tools = state.lookup.prompt_blocks if state.lookup else ()
        inputs = PromptInputs(
            system=GROUNDED_SYSTEM,
            user_message=state.message,
            tool_results=tools,
            chunks=[_source(hit) for hit in hits],
            history=[_turn(m) for m in state.history],
        )
        budget = PromptBudget(self.model.max_model_len, self.settings.max_tokens)
        begin = self._clock()
        prompt = await asyncio.to_thread(build_prompt, inputs, budget, self.model.count_messages)
        state.timings_ms["prompt"] = self._ms(begin)
        state.prompt = prompt
        scanner = CitationScanner(prompt.citations)
        async for event in self._generate(
            state, prompt.messages, self.settings.max_tokens, scanner
        ):
            yield event
        if not scanner.cited and prompt.citations:
            # The model named no source: cite the best one the answer was grounded in.
            async for event in self._emit_text(state, " [1]", scanner):
                yield event
        state.citations = scanner.cited

    async def _unsure(self, state: TurnState) -> AsyncIterator[TurnEvent]:
        """Nothing in the articles: the best intent, though unconfident, picks the reply."""
        assert state.route is not None
        if state.route.intent is Intent.SMALL_TALK:
            async for event in self._small_talk(state):
                yield event
        elif state.route.intent is Intent.OUT_OF_SCOPE:
            async for event in self._say(state, OUT_OF_SCOPE):
                yield event
        else:
            async for event in self._say(state, NOT_SURE):
                yield event
            yield self._offer_handoff(state, HandoffReason.NOT_SURE)

    async def _small_talk(self, state: TurnState) -> AsyncIterator[TurnEvent]:
        messages = [
            {"role": "system", "content": SMALL_TALK_SYSTEM},
            {"role": "user", "content": state.message},
        ]
        async for event in self._generate(state, messages, SMALL_TALK_MAX_TOKENS):
            yield event

    async def _generate(
        self,
        state: TurnState,
        messages: list[dict[str, str]],
        max_tokens: int,
        scanner: CitationScanner | None = None,
    ) -> AsyncIterator[TurnEvent]:
        begin = self._clock()
        first: float | None = None
        text = self._model_text(state, messages, max_tokens)
        for hook in self.hooks.output:
            text = hook.on_output(state, text)
        if state.answer:
            yield TokenEvent("\n\n")
            state.answer.append("\n\n")
        async for piece in text:
            if first is None:
                first = self._clock()
                state.timings_ms["ttft"] = (first - begin) * 1000
            async for event in self._emit_text(state, piece, scanner):
                yield event
        state.timings_ms["model"] = self._ms(begin)

    async def _model_text(
        self, state: TurnState, messages: list[dict[str, str]], max_tokens: int
    ) -> AsyncIterator[str]:
        stream = self.model.stream(
            messages,
            max_tokens=max_tokens,
            temperature=self.settings.temperature,
            stop=self.settings.stop,
        )
        async for delta in stream:
            if delta.prompt_tokens is not None:
                state.usage["prompt_tokens"] = delta.prompt_tokens
            if delta.completion_tokens is not None:
                state.usage["completion_tokens"] = delta.completion_tokens
            if delta.text:
                yield delta.text

    async def _emit_text(
        self, state: TurnState, text: str, scanner: CitationScanner | None
    ) -> AsyncIterator[TurnEvent]:
        state.answer.append(text)
        yield TokenEvent(text)
        for citation in scanner.feed(text) if scanner else ():
            yield CitationEvent(citation.number, citation.article_id, citation.title, citation.url)

    async def _say(self, state: TurnState, text: str) -> AsyncIterator[TurnEvent]:
        """A fixed reply, as one token event (after a blank line if something was said)."""
        if state.answer:
            text = "\n\n" + text
        async for event in self._emit_text(state, text, None):
            yield event

    async def _hand_off(self, state: TurnState) -> AsyncIterator[TurnEvent]:
        ticket = await asyncio.to_thread(
            self.conversations.create_ticket,
            state.session_id,
            state.request.customer_id,
            HandoffReason.CUSTOMER_REQUEST,
            state.message,
        )
        state.handoff = HandoffReason.CUSTOMER_REQUEST
        text = ticket_created(ticket.id)
        async for event in self._say(state, text):
            yield event
        yield HandoffEvent(HandoffReason.CUSTOMER_REQUEST, text, ticket.id)

    def _offer_handoff(self, state: TurnState, reason: HandoffReason) -> HandoffEvent:
        state.handoff = reason
        return HandoffEvent(reason, "Would you like me to connect you with a colleague?")

    async def _timed(self, state: TurnState, stage: str, work: Awaitable[_T]) -> _T:
        begin = self._clock()
        try:
            return await work
        finally:
            state.timings_ms[stage] = state.timings_ms.get(stage, 0.0) + self._ms(begin)

    def _ms(self, since: float) -> float:
        return (self._clock() - since) * 1000


class KnowledgeSearcher:
    """The knowledge base's configured search (hybrid + re-rank) over one collection."""

    def __init__(self, knowledge: KnowledgeBase, collection: CollectionRef, top_k: int) -> None:
        self._knowledge = knowledge
        self._collection = collection
        self._top_k = top_k

    def search(self, query: str) -> list[SearchHit]:
        request = self._knowledge.request(query, top_k=self._top_k)
        return self._knowledge.retriever.search(self._collection, request).hits


def _search_query(message: str, history: Sequence[StoredMessage]) -> str:
    """A short follow-up ("and to Paris?") is searched together with the customer's
    previous message, which holds its subject."""
    if len(message.split()) > FOLLOW_UP_WORDS:
        return message
    previous = next((m.content for m in reversed(history) if m.role == "user"), None)
    return message if previous is None else f"{previous} {message}"


def _latest_order_id(history: Sequence[StoredMessage]) -> tuple[str, ...]:
    for message in reversed(history):
        ids = extract_order_ids(message.content)
        if ids:
            return ids[:1]
    return ()


def _source(hit: SearchHit) -> SourceChunk:
    url = hit.stored.metadata.get("url", "")
    return SourceChunk(
        article_id=hit.stored.chunk.document_id,
        title=hit.stored.title,
        url=url if isinstance(url, str) else "",
        text=hit.stored.chunk.text,
    )


def _turn(message: StoredMessage) -> Turn:
    return Turn(Role(message.role), message.content)


__all__ = [
    "Hooks",
    "InputHook",
    "KnowledgeSearcher",
    "Orchestrator",
    "OutputHook",
    "Searcher",
    "ToolResultEvent",
    "TurnRequest",
    "TurnState",
]
