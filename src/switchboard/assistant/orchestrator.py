"""One chat turn of the support assistant, as an explicit pipeline of stages.

    session → stages in → route → order tool → retrieve → evidence
    → quote | (prompt → generate → stages out) → persist → stages done

Each stage reads and writes the ``TurnState`` and is timed; the turn yields ``TurnEvent``s
as it goes (tool results before the answer's tokens, citations as they are cited, ``done``
last). What each intent does:

- a message clearly in another language (``language``): not routed; a colleague is
  offered in that language (the router and the help centre are English), and writing on
  in it after the offer creates a ticket.
- ``human_handoff``: a ticket is created (or the session's open one reused); no model call.
- ``out_of_scope`` (confident): a fixed refusal; no model call.
- ``small_talk`` (confident): a short model reply with no sources.
- ``order_status`` (confident): the Order API's facts rendered as the answer (the model
  never states an order status); the API down → say so and offer a handoff. A message that
  also asks what an article answers ("... what now?", ``order_question``) gets the article
  too, as does one whose best chunk reaches ``order_question_relevance``.
- everything else (the policy intents, and any unconfident route): order numbers in the
  message are looked up first and their status said; then the knowledge base is searched,
  and below the relevance floor, or when the evidence found does not speak about the
  question's key terms (``answerability``), the assistant says it is not sure and offers a
  handoff instead of guessing; otherwise the best sentences of the evidence are quoted,
  cited (``quoting``, with a ``quoter``), or the model answers from the retrieved chunks
  (or their best sentences, ``evidence``), citing them as ``[n]``.
- with a model that calls tools itself (a remote vLLM/OpenAI backend): after handoff,
  refusal and small talk, the model is offered the Order API and the help-centre search as
  functions (``tool_calling``) and answers from their results.

The stages around the turn (``stages.stage``: the guardrails and the response cache, as
on ``/v1/chat/completions``, and the grounding check) run before routing, where they may
redact the message or answer the turn themselves (a refusal, a cached answer); they wrap
the model's text; they see the finished turn (the cache stores it); and they may answer a
turn whose model failed (the cache's fallback).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from switchboard.assistant.answer_path import answer_path, reported_intent
from switchboard.assistant.answerability import AnswerabilityCheck
from switchboard.assistant.citations import (
    CitationScanner,
    attribute,
    citation_event,
    known_markers_only,
)
from switchboard.assistant.confirmation import Tools, WriteActions, confirms, declines
from switchboard.assistant.conversations import (
    AssistantRecord,
    ConversationStore,
    PendingAction,
    StoredMessage,
)
from switchboard.assistant.definition import AssistantDefinition, WriteProposal
from switchboard.assistant.evidence import EvidenceSelector, source_chunk
from switchboard.assistant.focus import QueryFocus, with_order_ids
from switchboard.assistant.language import ENGLISH, detect_language, offered_language
from switchboard.assistant.order_question import asks_beyond_status
from switchboard.assistant.order_tool import OrderSource, look_up_orders
from switchboard.assistant.prompt_budget import (
    Citation,
    PromptBudget,
    PromptInputs,
    SourceChunk,
    build_prompt,
    citations_of,
)
from switchboard.assistant.quoting import Quoter
from switchboard.assistant.router import SemanticRouter
from switchboard.assistant.tool_calling import (
    MAX_ROUNDS,
    TOOL_SPECS,
    ToolBox,
    assistant_tool_calls,
    fit_tool_message,
)
from switchboard.assistant.turn import (
    Reply,
    Searcher,
    TurnRequest,
    TurnState,
    given_history,
    latest_order_id,
    prompt_turn,
    relevance,
    reply_of,
    search_query,
)
from switchboard.assistant.types import (
    OUT_OF_SCOPE,
    QUESTION,
    Action,
    AnswerPath,
    ChatModel,
    DoneEvent,
    HandoffEvent,
    HandoffReason,
    Message,
    Route,
    TokenEvent,
    ToolCall,
    TurnEvent,
)
from switchboard.config import AssistantSettings
from switchboard.errors import (
    CircuitOpenError,
    DependencyUnavailableError,
    EngineDeadError,
    QueueFullError,
    UpstreamError,
)
from switchboard.order_ids import OrderIdFormat
from switchboard.stages.stage import Pipeline

SMALL_TALK_MAX_TOKENS = 48
_T = TypeVar("_T")
# The model could not answer: a stage (the cache) may still have an answer.
MODEL_FAILURES = (
    UpstreamError,
    QueueFullError,
    CircuitOpenError,
    DependencyUnavailableError,  # through the gateway: every provider's circuit is open
    EngineDeadError,
)


class Orchestrator:
    def __init__(
        self,
        settings: AssistantSettings,
        *,
        definition: AssistantDefinition,
        router: SemanticRouter | None,
        model: ChatModel,
        searcher: Searcher,
        orders: OrderSource | None,
        conversations: ConversationStore,
        order_ids: OrderIdFormat | None = None,
        stages: Pipeline[TurnState] | None = None,
        evidence: EvidenceSelector | None = None,
        answerability: AnswerabilityCheck | None = None,
        quoter: Quoter | None = None,
        tools: Tools | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.settings = settings
        self.definition = definition
        self.router = router  # None: every message is a question for the documents
        self.model = model
        self.searcher = searcher
        self.orders = orders  # None: no order lookups
        if order_ids is None:
            order_ids = router.order_ids if router is not None else OrderIdFormat.none()
        self.order_ids = order_ids
        self.conversations = conversations
        self.stages = stages or Pipeline()
        self.evidence = evidence  # None: whole chunks go into the prompt
        self.answerability = answerability  # None: the relevance floor alone decides
        self.quoter = quoter  # None: the model writes the answer
        # the definition's write tools, behind a confirmation turn; None: no proposals
        self.writes = WriteActions(definition, tools, conversations) if tools else None
        self._clock = clock
        self.focus = QueryFocus(settings.query_focus, min_words=settings.focus_min_words)

    async def turn(self, request: TurnRequest) -> AsyncGenerator[TurnEvent, None]:
        """Run one turn. A bad session raises before the first event; a model that refuses
        (queue full, prompt too long) or fails raises wherever it happens, possibly after
        tool results were sent."""
        start = self._clock()
        state = await self._open_session(request)
        state.pending = await self.writes.take(state) if self.writes is not None else None
        answer = await self.stages.admit(state)
        reply = reply_of(answer) if answer is not None else None
        if reply is not None:
            async for event in self._reply(state, reply):
                yield event
        else:
            try:
                async for event in self._answer(state):
                    yield event
            except MODEL_FAILURES as exc:
                reply = await self._fallback(state, exc)
                if reply is None:
                    raise
                async for event in self._reply(state, reply):
                    yield event
        assert state.route is not None
        cited = tuple(dict.fromkeys(c.article_id for c in state.citations))
        state.timings_ms["total"] = self._ms(start)
        state.timings_ms["overhead"] = state.timings_ms["total"] - state.timings_ms.get(
            "model", 0.0
        )
        path = answer_path(state)
        intent = reported_intent(state, path)
        record = AssistantRecord(
            content=state.masked("".join(state.answer)),
            intent=intent,
            confidence=state.route.confidence,
            model=self.model.name if "model" in state.timings_ms else "",
            cited_article_ids=cited,
            tool_results=tuple(state.tool_results),
            handoff_reason=state.handoff,
            timings_ms=dict(state.timings_ms),
            usage=dict(state.usage),
            answer_path=path,
        )
        turn_id = await asyncio.to_thread(
            self.conversations.add_exchange, state.session_id, state.message, record
        )
        await self.stages.done(state)
        yield DoneEvent(
            session_id=state.session_id,
            turn_id=turn_id,
            intent=intent,
            confidence=state.route.confidence,
            cited_article_ids=cited,
            timings_ms=dict(state.timings_ms),
            usage=dict(state.usage),
            model=record.model,
            cache=state.cache,
            guard_events=tuple(state.guard_events),
            answer_path=path,
            routed_intent=state.route.intent,
            stages=tuple(state.stages),
        )

    # -- stages ------------------------------------------------------------------------------

    async def _open_session(self, request: TurnRequest) -> TurnState:
        def load() -> tuple[str, list[StoredMessage]]:
            if request.session_id is None:
                session = self.conversations.create_session(
                    request.customer_id, tenant=request.tenant
                )
                return session.id, given_history(session.id, request.history or ())
            session = self.conversations.get_session(
                request.session_id, request.customer_id, tenant=request.tenant
            )
            return session.id, self.conversations.history(
                session.id, self.settings.history_messages
            )

        session_id, history = await asyncio.to_thread(load)
        return TurnState(request, session_id, request.message, history)

    async def _answer(self, state: TurnState) -> AsyncIterator[TurnEvent]:
        pending = state.pending
        if pending is not None and (confirms(state.message) or declines(state.message)):
            async for event in self._settle(state, pending):
                yield event
            return
        language = detect_language(state.message) if self.settings.language_handoff else ENGLISH
        if language in self.definition.replies.other_language:  # it answers in English
            async for event in self._other_language(state, language):
                yield event
            return
        route = await self._route(state)
        state.route = route
        if route.confident and route.action is Action.HANDOFF:
            async for event in self._hand_off(state):
                yield event
            return
        if route.confident and route.action is Action.REFUSE:
            async for event in self._say(state, self.definition.replies.out_of_scope):
                yield event
            return
        if route.confident and route.action is Action.SMALL_TALK:
            async for event in self._small_talk(state):
                yield event
            return
        if self.model.supports_tools and self.orders is not None:
            async for event in self._with_tools(state):
                yield event
            return
        async for event in self._look_up_orders(state):
            yield event
        proposal = self.writes.proposal(state) if self.writes is not None else None
        if proposal is not None:
            async for event in self._propose(state, proposal):
                yield event
            return
        floor = self.settings.relevance_floor
        if route.confident and route.action is Action.LOOKUP:
            # The status answers it, unless the message also asks what an article answers.
            also = self.settings.order_question_relevance
            if also is None:
                return
            if not asks_beyond_status(state.message, self.order_ids):
                floor = max(floor, also)
        async for event in self._grounded(state, floor):
            yield event

    async def _route(self, state: TurnState) -> Route:
        """The message's intent; without a router, a question for the documents."""
        if self.router is None:
            route = Route(QUESTION, 0.0, False, action=Action.ANSWER)
        else:
            focused = self.focus(state.message)  # a long message: the sentences that ask
            route = await self._timed(state, "route", asyncio.to_thread(self.router.route, focused))
        return with_order_ids(route, state.message, self.order_ids)

    async def _look_up_orders(self, state: TurnState) -> AsyncIterator[TurnEvent]:
        """Order numbers of this message, or for an order question the latest one of the
        conversation, or for an order question without any the customer's recent orders."""
        route = state.route
        assert route is not None
        if self.orders is None:
            return
        named = route.order_ids
        order_question = route.confident and route.action is Action.LOOKUP
        earlier = () if named else latest_order_id(state.history, self.order_ids)
        if not (named or earlier or order_question):
            return
        lookup = await self._timed(
            state,
            "tools",
            look_up_orders(self.orders, state.request.customer_id, named or earlier),
        )
        state.lookup = lookup
        if not (named or order_question):  # an earlier order: context for the model only
            return
        for result in lookup.events:
            state.tool_results.append(result)
            yield result
        async for event in self._say(state, lookup.answer):
            yield event
        if lookup.unavailable:
            for offer in self._offer_handoff(state, HandoffReason.ORDER_SERVICE_DOWN):
                yield offer

    async def _propose(self, state: TurnState, proposal: WriteProposal) -> AsyncIterator[TurnEvent]:
        """Say what the write would do; the session remembers it for the confirmation."""
        assert self.writes is not None
        text = await self.writes.propose(state, proposal)
        async for event in self._say(state, text):
            yield event

    async def _settle(self, state: TurnState, action: PendingAction) -> AsyncIterator[TurnEvent]:
        """The answer to last turn's proposal: on "yes" the write, confirmed; on "no" none."""
        assert self.writes is not None
        text, result = await self._timed(state, "tools", self.writes.settle(state, action))
        if result is not None:
            state.tool_results.append(result)
            yield result
        async for event in self._say(state, text):
            yield event

    async def _grounded(self, state: TurnState, floor: float) -> AsyncIterator[TurnEvent]:
        """The answer from the articles, if the best hit's relevance reaches ``floor``."""
        previous = next((m.content for m in reversed(state.history) if m.role == "user"), None)
        query = search_query(self.focus(state.message), previous, self.order_ids)
        hits = await self._timed(state, "retrieve", asyncio.to_thread(self.searcher.search, query))
        state.hits = hits
        state.relevance = relevance(hits)
        if state.relevance is None or state.relevance < floor:
            async for event in self._decline(state):
                yield event
            return
        state.evidence = await self._select_evidence(state, query)
        if not await self._answerable(state, query):
            async for event in self._decline(state):
                yield event
            return
        if self.quoter is not None:
            async for event in self._quote(state, query):
                yield event
            return
        tools = state.lookup.prompt_blocks if state.lookup else ()
        inputs = PromptInputs(
            system=self.definition.prompts.grounded,
            user_message=state.message,
            tool_results=tools,
            chunks=state.evidence,
            history=[prompt_turn(m) for m in state.history],
        )
        budget = PromptBudget(self.model.max_model_len, self.settings.max_tokens)
        begin = self._clock()
        prompt = await asyncio.to_thread(build_prompt, inputs, budget, self.model.count_messages)
        state.took("prompt", self._ms(begin))
        state.prompt = prompt
        state.sources = list(prompt.included_chunks)
        scanner = CitationScanner(prompt.citations)
        said = len(state.answer)
        async for event in self._generate(
            state, prompt.messages, self.settings.max_tokens, scanner
        ):
            yield event
        if not scanner.cited and prompt.citations and not state.cut_off:
            # The model cited nothing: cite the source its answer took its facts from.
            text = "".join(state.answer[said:])
            number = attribute(text, state.message, prompt.included_chunks)
            if number is not None:
                async for event in self._emit_text(state, f" [{number}]", scanner):
                    yield event
        state.citations = scanner.cited

    async def _quote(self, state: TurnState, query: str) -> AsyncIterator[TurnEvent]:
        """The best evidence sentences, quoted and cited: the answer without the model."""
        assert self.quoter is not None
        select = asyncio.to_thread(self.quoter.answer, query, state.hits)
        quoted = await self._timed(state, "quote", select)
        if quoted is None:
            async for event in self._decline(state):
                yield event
            return
        state.grounding = AnswerPath.QUOTED
        async for event in self._say_cited(state, quoted.text, quoted.citations):
            yield event

    async def _select_evidence(self, state: TurnState, query: str) -> list[SourceChunk]:
        """The sentences of the hits that answer ``query``, or the whole chunks."""
        if self.evidence is None:
            return [source_chunk(hit) for hit in state.hits]
        select = asyncio.to_thread(self.evidence.select, query, state.hits)
        return await self._timed(state, "evidence", select)

    async def _answerable(self, state: TurnState, query: str) -> bool:
        """Whether the evidence speaks about the question's key terms (always, unchecked)."""
        if self.answerability is None:
            return True
        relevance = state.relevance if state.relevance is not None else -1.0
        judge = asyncio.to_thread(self.answerability.judge, query, state.evidence, relevance)
        verdict = await self._timed(state, "answerable", judge)
        return verdict.answerable

    async def _decline(self, state: TurnState) -> AsyncIterator[TurnEvent]:
        """No article answers: not sure, unless something was said (an order's status)."""
        if not state.answer:
            async for event in self._unsure(state):
                yield event

    async def _unsure(self, state: TurnState) -> AsyncIterator[TurnEvent]:
        """Nothing in the articles: the best intent, though unconfident, picks the reply
        (a handoff only if its score reaches ``unsure_handoff_floor``); else "not sure"."""
        assert state.route is not None
        route = state.route
        action = route.action
        floor = self.settings.unsure_handoff_floor
        if action is Action.HANDOFF and not route.confident and route.confidence < floor:
            action = Action.ANSWER  # a ticket only for what resembles asking for one
        if action is Action.SMALL_TALK:
            async for event in self._small_talk(state):
                yield event
        elif action is Action.HANDOFF:
            async for event in self._hand_off(state):
                yield event
        elif action is Action.REFUSE:
            async for event in self._say(state, self.definition.replies.out_of_scope):
                yield event
        else:
            async for event in self._say(state, self.definition.replies.not_sure):
                yield event
            for offer in self._offer_handoff(state, HandoffReason.NOT_SURE):
                yield offer

    async def _small_talk(self, state: TurnState) -> AsyncIterator[TurnEvent]:
        inputs = PromptInputs(system=self.definition.prompts.small_talk, user_message=state.message)
        budget = PromptBudget(self.model.max_model_len, SMALL_TALK_MAX_TOKENS)
        prompt = await asyncio.to_thread(build_prompt, inputs, budget, self.model.count_messages)
        async for event in self._generate(state, prompt.messages, SMALL_TALK_MAX_TOKENS):
            yield event

    async def _with_tools(self, state: TurnState) -> AsyncIterator[TurnEvent]:
        """The model picks the tools (function calling): each round it may call tools, whose
        results are fitted into the budget, until it answers or the rounds run out."""
        assert self.orders is not None  # offered only to an assistant that looks orders up
        limit = self.model.max_model_len - self.settings.max_tokens
        begin = self._clock()
        inputs = PromptInputs(
            system=self.definition.prompts.tools or self.definition.prompts.grounded,
            user_message=state.message,
            history=[prompt_turn(m) for m in state.history],
        )
        budget = PromptBudget(self.model.max_model_len, self.settings.max_tokens)

        def count(messages: list[Message]) -> int:
            return self.model.count_messages(messages, TOOL_SPECS)

        prompt = await asyncio.to_thread(build_prompt, inputs, budget, count)
        state.took("prompt", self._ms(begin))
        messages: list[Message] = list(prompt.messages)
        toolbox = ToolBox(
            state.request.customer_id,
            self.orders,
            self.searcher.search,
            self.settings.relevance_floor,
        )
        sources: list[SourceChunk] = []
        state.sources = sources  # grown in place as the tools find articles
        scanner = CitationScanner([])
        unsure = False
        for round_ in range(MAX_ROUNDS):
            calls: list[ToolCall] = []
            said = len(state.answer)
            tools = TOOL_SPECS if round_ < MAX_ROUNDS - 1 else None
            async for event in self._generate(
                state, messages, self.settings.max_tokens, scanner, tools=tools, calls=calls
            ):
                yield event
            if not calls or state.cut_off:
                break
            said_now = "".join(state.answer[said:])  # back to the model: masked again
            messages.append(assistant_tool_calls(state.masked(said_now), calls))
            for call in calls:
                outcome = await self._timed(state, "tools", toolbox.call(call, len(sources) + 1))
                for result in outcome.events:
                    state.tool_results.append(result)
                    yield result
                message, kept = fit_tool_message(
                    messages, call.id, outcome, lambda m: count(m) <= limit
                )
                messages.append(message)
                sources += kept
                scanner.extend(citations_of(sources))
                unsure = unsure or outcome.unsure
                if outcome.unavailable:
                    for offer in self._offer_handoff(state, HandoffReason.ORDER_SERVICE_DOWN):
                        yield offer
        state.citations = scanner.cited
        if unsure and not sources and state.handoff is None:
            for offer in self._offer_handoff(state, HandoffReason.NOT_SURE):
                yield offer

    async def _generate(
        self,
        state: TurnState,
        messages: list[Message],
        max_tokens: int,
        scanner: CitationScanner | None = None,
        *,
        tools: list[dict[str, Any]] | None = None,
        calls: list[ToolCall] | None = None,
    ) -> AsyncIterator[TurnEvent]:
        """Stream the model's answer through the stages; the tool calls it asks for (when
        offered ``tools``) are appended to ``calls``."""
        begin = self._clock()
        first: float | None = None
        text = self._model_text(state, messages, max_tokens, tools, calls)
        if scanner is not None:
            text = known_markers_only(text, scanner.numbers)
        text = self.stages.output(state, text)
        async for piece in text:
            if first is None:
                first = self._clock()
                state.timings_ms.setdefault("ttft", (first - begin) * 1000)
                if state.answer:  # something was said before: a new paragraph
                    piece = "\n\n" + piece.lstrip()
            async for event in self._emit_text(state, piece, scanner):
                yield event
        state.took("model", self._ms(begin))

    async def _model_text(
        self,
        state: TurnState,
        messages: list[Message],
        max_tokens: int,
        tools: list[dict[str, Any]] | None = None,
        calls: list[ToolCall] | None = None,
    ) -> AsyncIterator[str]:
        stream = self.model.stream(
            messages,
            max_tokens=max_tokens,
            temperature=self.settings.temperature,
            stop=() if tools else self.settings.stop,
            tools=tools,
        )
        async for delta in stream:
            for key, value in (
                ("prompt_tokens", delta.prompt_tokens),
                ("completion_tokens", delta.completion_tokens),
            ):
                if value is not None:
                    state.usage[key] = state.usage.get(key, 0) + value
            if delta.tool_calls and calls is not None:
                calls.extend(delta.tool_calls)
            if delta.text:
                yield delta.text

    async def _emit_text(
        self, state: TurnState, text: str, scanner: CitationScanner | None
    ) -> AsyncIterator[TurnEvent]:
        state.answer.append(text)
        yield TokenEvent(text)
        for citation in scanner.feed(text) if scanner else ():
            yield citation_event(citation)

    async def _say(self, state: TurnState, text: str) -> AsyncIterator[TurnEvent]:
        """A fixed reply, as one token event (after a blank line if something was said)."""
        if state.answer:
            text = "\n\n" + text
        async for event in self._emit_text(state, text, None):
            yield event

    async def _reply(self, state: TurnState, reply: Reply) -> AsyncIterator[TurnEvent]:
        """A stage's whole answer (a cached answer with its citations, a refusal)."""
        state.route = state.route or Route(reply.intent, 1.0, True)
        state.reply_source = reply.source
        async for event in self._say_cited(state, reply.text, reply.citations):
            yield event

    async def _say_cited(
        self, state: TurnState, text: str, citations: Sequence[Citation]
    ) -> AsyncIterator[TurnEvent]:
        """A whole answer, then the citations its ``[n]`` markers refer to."""
        async for event in self._say(state, text):
            yield event
        for citation in citations:
            yield citation_event(citation)
        state.citations = list(citations)

    async def _fallback(self, state: TurnState, error: Exception) -> Reply | None:
        """A stage's answer when the model failed before saying anything."""
        if state.answer:
            return None
        answer = await self.stages.failed(state, error)
        return reply_of(answer) if answer is not None else None

    async def _hand_off(
        self, state: TurnState, reason: HandoffReason = HandoffReason.CUSTOMER_REQUEST
    ) -> AsyncIterator[TurnEvent]:
        ticket = await asyncio.to_thread(
            self.conversations.create_ticket,
            state.session_id,
            state.request.customer_id,
            reason,
            state.message,
            tenant=state.request.tenant,
        )
        state.handoff = reason
        text = self.definition.replies.ticket(ticket.id)
        async for event in self._say(state, text):
            yield event
        yield HandoffEvent(reason, text, ticket.id)

    async def _other_language(self, state: TurnState, language: str) -> AsyncIterator[TurnEvent]:
        """A message in another language, not routed: a colleague offered, in it; writing
        on in it after the offer takes the offer up (a ticket)."""
        order_ids = self.order_ids.find(state.message)
        state.route = Route(OUT_OF_SCOPE, 0.0, False, order_ids, action=Action.REFUSE)
        if offered_language(state.history):
            async for event in self._hand_off(state, HandoffReason.LANGUAGE):
                yield event
            return
        replies = self.definition.replies
        offer = replies.other_language[language]
        english = f"(I can only answer in English here. {replies.handoff_offer})"
        async for event in self._say(state, f"{offer}\n\n{english}"):
            yield event
        for event in self._offer_handoff(state, HandoffReason.LANGUAGE, offer):
            yield event

    def _offer_handoff(
        self, state: TurnState, reason: HandoffReason, offer: str | None = None
    ) -> tuple[HandoffEvent, ...]:
        """The offer of a colleague, if this assistant hands off at all."""
        if not self.definition.handoff:
            return ()
        state.handoff = reason
        return (HandoffEvent(reason, offer or self.definition.replies.handoff_offer),)

    async def _timed(self, state: TurnState, stage: str, work: Awaitable[_T]) -> _T:
        begin = self._clock()
        try:
            return await work
        finally:
            state.took(stage, self._ms(begin))

    def _ms(self, since: float) -> float:
        return (self._clock() - since) * 1000


__all__ = [
    "Orchestrator",
    "Reply",
    "Searcher",
    "TurnRequest",
    "TurnState",
]
