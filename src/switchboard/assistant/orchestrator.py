"""One chat turn of an assistant, as an explicit pipeline of stages.

    session → stages in → route → lookup → retrieve → evidence
    → quote | (prompt → generate → stages out) → persist → stages done

Each stage reads and writes the ``TurnState`` and is timed; the turn yields ``TurnEvent``s
as it goes (tool results before the answer's tokens, citations as they are cited, ``done``
last). What each intent's action (its definition's) does:

- a message clearly in another language (``language``): not routed; a colleague is
  offered in that language, and writing on in it after the offer creates a ticket.
- ``handoff``: a ticket is created (or the session's open one reused); no model call.
- ``refuse`` (confident): the definition's refusal; no model call.
- ``small_talk`` (confident): a short model reply with no sources.
- ``lookup`` (confident): the end user's records fetched with the definition's tools and
  stated with its templates (``lookup``; the model never states them); the API down → say
  so and offer a handoff. A message that also asks what an article answers ("... what
  now?", ``lookup_question``) gets the article too, as does one whose best chunk reaches
  ``order_question_relevance``.
- ``answer``, and any unconfident route: record numbers in the message are looked up
  first and stated; then the knowledge base is searched, and below the relevance floor, or
  when the evidence found does not speak about the question's key terms
  (``answerability``), the assistant says it is not sure and offers a handoff instead of
  guessing; otherwise the best sentences of the evidence are quoted, cited (``quoting``,
  with a ``quoter``), or the model answers from the retrieved chunks (or their best
  sentences, ``evidence``), citing them as ``[n]``. A message of an intent that proposes a
  write tool, naming one record, proposes it (``confirmation``).
- with a model that calls tools itself (a remote vLLM/OpenAI backend): after handoff,
  refusal and small talk, the model is offered the read tools and the document search as
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
from collections.abc import AsyncGenerator, AsyncIterator, Callable

from switchboard.assistant.answer_path import answer_path, reported_intent
from switchboard.assistant.answerability import AnswerabilityCheck
from switchboard.assistant.citations import (
    CitationScanner,
    attribute,
)
from switchboard.assistant.confirmation import WriteActions, confirms, declines
from switchboard.assistant.conversation_records import AssistantRecord, PendingAction, StoredMessage
from switchboard.assistant.conversations import ConversationStore
from switchboard.assistant.definition import AssistantDefinition
from switchboard.assistant.definition_parts import WriteProposal
from switchboard.assistant.evidence import EvidenceSelector, source_chunk
from switchboard.assistant.focus import QueryFocus, with_order_ids
from switchboard.assistant.handoff import Handoffs
from switchboard.assistant.language import ENGLISH, detect_language
from switchboard.assistant.lookup import Lookup, Tools
from switchboard.assistant.lookup_question import asks_beyond_status
from switchboard.assistant.prompt_budget import (
    PromptBudget,
    PromptInputs,
    SourceChunk,
    build_prompt,
)
from switchboard.assistant.quoting import Quoter
from switchboard.assistant.router import SemanticRouter
from switchboard.assistant.tool_calling import ToolTurn
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
    QUESTION,
    Action,
    AnswerPath,
    ChatModel,
    DoneEvent,
    HandoffReason,
    Route,
    TurnEvent,
)
from switchboard.assistant.voice import Voice
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
        conversations: ConversationStore,
        lookup: Lookup | None = None,
        stages: Pipeline[TurnState] | None = None,
        evidence: EvidenceSelector | None = None,
        answerability: AnswerabilityCheck | None = None,
        quoter: Quoter | None = None,
        tools: Tools | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.definition = definition
        self.router = router  # None: every message is a question for the documents
        self.searcher = searcher
        self.lookup = lookup  # None: no records looked up
        self.order_ids = lookup.ids if lookup is not None else OrderIdFormat.none()
        self.tools = tools
        self.conversations = conversations
        self.stages = stages or Pipeline()
        self.evidence = evidence  # None: whole chunks go into the prompt
        self.answerability = answerability  # None: the relevance floor alone decides
        self.quoter = quoter  # None: the model writes the answer
        self.voice = Voice(model, settings, self.stages, clock)
        self.handoffs = Handoffs(definition, conversations, self.voice)
        # the definition's write tools, behind a confirmation turn; None: no proposals
        self.writes = WriteActions(definition, tools, conversations) if tools else None
        # a model that calls tools itself is offered the read tools
        self.tool_turn = (
            ToolTurn(definition, self.voice, self.handoffs, tools, lookup, searcher)
            if tools is not None
            else None
        )
        self.focus = QueryFocus(settings.query_focus, min_words=settings.focus_min_words)

    @property
    def model(self) -> ChatModel:
        return self.voice.model

    @model.setter
    def model(self, model: ChatModel) -> None:
        """Another model for every later turn (the server routes it through the gateway)."""
        self.voice.model = model

    @property
    def settings(self) -> AssistantSettings:
        return self.voice.settings

    @settings.setter
    def settings(self, settings: AssistantSettings) -> None:
        self.voice.settings = settings

    async def turn(self, request: TurnRequest) -> AsyncGenerator[TurnEvent, None]:
        """Run one turn. A bad session raises before the first event; a model that refuses
        (queue full, prompt too long) or fails raises wherever it happens, possibly after
        tool results were sent."""
        start = self.voice.clock()
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
        state.timings_ms["total"] = self.voice.ms(start)
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
            owner = {"tenant": request.tenant, "assistant": self.definition.name}
            if request.session_id is None:
                session = self.conversations.create_session(request.customer_id, **owner)
                return session.id, given_history(session.id, request.history or ())
            session = self.conversations.get_session(
                request.session_id, request.customer_id, **owner
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
            order_ids = self.order_ids.find(state.message)
            async for event in self.handoffs.other_language(state, language, order_ids):
                yield event
            return
        route = await self._route(state)
        state.route = route
        if route.confident and route.action is Action.HANDOFF:
            async for event in self.handoffs.hand_off(state):
                yield event
            return
        if route.confident and route.action is Action.REFUSE:
            async for event in self.voice.say(state, self.definition.replies.out_of_scope):
                yield event
            return
        if route.confident and route.action is Action.SMALL_TALK:
            async for event in self._small_talk(state):
                yield event
            return
        if self.model.supports_tools and self.tool_turn is not None:
            async for event in self.tool_turn.answer(state):
                yield event
            return
        async for event in self._look_up(state):
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
            words = self.lookup.spec.status_pattern if self.lookup is not None else None
            if not asks_beyond_status(state.message, self.order_ids, words):
                floor = max(floor, also)
        async for event in self._grounded(state, floor):
            yield event

    async def _route(self, state: TurnState) -> Route:
        """The message's intent; without a router, a question for the documents."""
        if self.router is None:
            route = Route(QUESTION, 0.0, False, action=Action.ANSWER)
        else:
            focused = self.focus(state.message)  # a long message: the sentences that ask
            work = asyncio.to_thread(self.router.route, focused)
            route = await self.voice.timed(state, "route", work)
        return with_order_ids(route, state.message, self.order_ids)

    async def _look_up(self, state: TurnState) -> AsyncIterator[TurnEvent]:
        """The records this message names, or for a lookup intent the latest one of the
        conversation, or for a lookup intent without any the end user's recent records."""
        route = state.route
        assert route is not None
        if self.lookup is None:
            return
        named = route.order_ids
        asks = route.confident and route.action is Action.LOOKUP
        earlier = () if named else latest_order_id(state.history, self.order_ids)
        if not (named or earlier or asks):
            return
        work = self.lookup.run(state.request.customer_id, named or earlier)
        lookup = await self.voice.timed(state, "tools", work)
        state.lookup = lookup
        if not (named or asks):  # an earlier record: context for the model only
            return
        for result in lookup.events:
            state.tool_results.append(result)
            yield result
        async for event in self.voice.say(state, lookup.answer):
            yield event
        if lookup.unavailable:
            for offer in self.handoffs.offer(state, HandoffReason.SERVICE_DOWN):
                yield offer

    async def _propose(self, state: TurnState, proposal: WriteProposal) -> AsyncIterator[TurnEvent]:
        """Say what the write would do; the session remembers it for the confirmation."""
        assert self.writes is not None
        text = await self.writes.propose(state, proposal)
        async for event in self.voice.say(state, text):
            yield event

    async def _settle(self, state: TurnState, action: PendingAction) -> AsyncIterator[TurnEvent]:
        """The answer to last turn's proposal: on "yes" the write, confirmed; on "no" none."""
        assert self.writes is not None
        text, result = await self.voice.timed(state, "tools", self.writes.settle(state, action))
        if result is not None:
            state.tool_results.append(result)
            yield result
        async for event in self.voice.say(state, text):
            yield event

    async def _grounded(self, state: TurnState, floor: float) -> AsyncIterator[TurnEvent]:
        """The answer from the articles, if the best hit's relevance reaches ``floor``."""
        previous = next((m.content for m in reversed(state.history) if m.role == "user"), None)
        query = search_query(self.focus(state.message), previous, self.order_ids)
        search = asyncio.to_thread(self.searcher.search, query)
        hits = await self.voice.timed(state, "retrieve", search)
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
        begin = self.voice.clock()
        prompt = await asyncio.to_thread(build_prompt, inputs, budget, self.model.count_messages)
        state.took("prompt", self.voice.ms(begin))
        state.prompt = prompt
        state.sources = list(prompt.included_chunks)
        scanner = CitationScanner(prompt.citations)
        said = len(state.answer)
        async for event in self.voice.generate(
            state, prompt.messages, self.settings.max_tokens, scanner
        ):
            yield event
        if not scanner.cited and prompt.citations and not state.cut_off:
            # The model cited nothing: cite the source its answer took its facts from.
            text = "".join(state.answer[said:])
            number = attribute(text, state.message, prompt.included_chunks)
            if number is not None:
                async for event in self.voice.emit(state, f" [{number}]", scanner):
                    yield event
        state.citations = scanner.cited

    async def _quote(self, state: TurnState, query: str) -> AsyncIterator[TurnEvent]:
        """The best evidence sentences, quoted and cited: the answer without the model."""
        assert self.quoter is not None
        select = asyncio.to_thread(self.quoter.answer, query, state.hits)
        quoted = await self.voice.timed(state, "quote", select)
        if quoted is None:
            async for event in self._decline(state):
                yield event
            return
        state.grounding = AnswerPath.QUOTED
        async for event in self.voice.say_cited(state, quoted.text, quoted.citations):
            yield event

    async def _select_evidence(self, state: TurnState, query: str) -> list[SourceChunk]:
        """The sentences of the hits that answer ``query``, or the whole chunks."""
        if self.evidence is None:
            return [source_chunk(hit) for hit in state.hits]
        select = asyncio.to_thread(self.evidence.select, query, state.hits)
        return await self.voice.timed(state, "evidence", select)

    async def _answerable(self, state: TurnState, query: str) -> bool:
        """Whether the evidence speaks about the question's key terms (always, unchecked)."""
        if self.answerability is None:
            return True
        relevance = state.relevance if state.relevance is not None else -1.0
        judge = asyncio.to_thread(self.answerability.judge, query, state.evidence, relevance)
        verdict = await self.voice.timed(state, "answerable", judge)
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
            async for event in self.handoffs.hand_off(state):
                yield event
        elif action is Action.REFUSE:
            async for event in self.voice.say(state, self.definition.replies.out_of_scope):
                yield event
        else:
            async for event in self.voice.say(state, self.definition.replies.not_sure):
                yield event
            for offer in self.handoffs.offer(state, HandoffReason.NOT_SURE):
                yield offer

    async def _small_talk(self, state: TurnState) -> AsyncIterator[TurnEvent]:
        inputs = PromptInputs(system=self.definition.prompts.small_talk, user_message=state.message)
        budget = PromptBudget(self.model.max_model_len, SMALL_TALK_MAX_TOKENS)
        prompt = await asyncio.to_thread(build_prompt, inputs, budget, self.model.count_messages)
        async for event in self.voice.generate(state, prompt.messages, SMALL_TALK_MAX_TOKENS):
            yield event

    async def _reply(self, state: TurnState, reply: Reply) -> AsyncIterator[TurnEvent]:
        """A stage's whole answer (a cached answer with its citations, a refusal)."""
        state.route = state.route or Route(reply.intent, 1.0, True)
        state.reply_source = reply.source
        async for event in self.voice.say_cited(state, reply.text, reply.citations):
            yield event

    async def _fallback(self, state: TurnState, error: Exception) -> Reply | None:
        """A stage's answer when the model failed before saying anything."""
        if state.answer:
            return None
        answer = await self.stages.failed(state, error)
        return reply_of(answer) if answer is not None else None


__all__ = [
    "Orchestrator",
    "Reply",
    "Searcher",
    "TurnRequest",
    "TurnState",
]
