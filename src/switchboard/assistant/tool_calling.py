"""The assistant's tools as OpenAI function calls, for models that call tools themselves.

A remote model with function calling (vLLM, OpenAI, llama-server with ``--jinja``) is
offered the definition's read tools (write tools only ever run after a confirmation turn)
and ``search_documents`` over the assistant's collection. The end user is never a
parameter: every call runs for the verified one, so a model cannot be talked into reading
someone else's records. The lookup's tools answer as the lookup states them; other tools
answer with their JSON. Results go back as ``tool`` messages, each fitted into the exact
token budget; search results are numbered ``[n]`` across the whole turn so the answer can
cite them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from switchboard.assistant.citations import CitationScanner
from switchboard.assistant.definition import AssistantDefinition
from switchboard.assistant.evidence import source_chunk
from switchboard.assistant.handoff import Handoffs
from switchboard.assistant.lookup import Lookup, Tools
from switchboard.assistant.prompt_budget import (
    PromptBudget,
    PromptInputs,
    SourceChunk,
    build_prompt,
    citations_of,
    source_text,
)
from switchboard.assistant.turn import Searcher, TurnState, prompt_turn, relevance
from switchboard.assistant.types import (
    HandoffReason,
    Message,
    ToolCall,
    ToolResultEvent,
    TurnEvent,
)
from switchboard.assistant.voice import Voice
from switchboard.rag.types import SearchHit
from switchboard.tools import ToolFailure

MAX_ROUNDS = 4  # model calls per turn; the last one is offered no tools
NO_ROOM = "The result did not fit in the context window."
NOT_FOUND = "No document answers this."
SEARCH = "search_documents"


def search_tool(about: str) -> dict[str, Any]:
    """The declaration of the search over the assistant's documents (``about`` them)."""
    return {
        "type": "function",
        "function": {
            "name": SEARCH,
            "description": f"Search the documents this assistant answers from: {about}",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "What to look up."}},
                "required": ["query"],
            },
        },
    }


def offered_tools(tools: Tools, about: str) -> list[dict[str, Any]]:
    """What the model is offered: the read tools and the document search."""
    return [*tools.openai_tools(writes=False), search_tool(about)]


@dataclass
class CallResult:
    """One call's result: what the end user sees (events), what the model reads (parts of
    the tool message, most important first), and what it means for the turn."""

    parts: list[str]
    events: list[ToolResultEvent] = field(default_factory=list)
    sources: list[SourceChunk] = field(default_factory=list)  # in ``parts`` order, after [0]
    unavailable: bool = False
    unsure: bool = False


class ToolBox:
    """Runs the model's tool calls for one end user."""

    def __init__(
        self,
        end_user: str | None,
        tools: Tools,
        lookup: Lookup | None,
        search: Callable[[str], list[SearchHit]],
        relevance_floor: float,
    ) -> None:
        self.end_user = end_user
        self._tools = tools
        self._lookup = lookup
        self._search = search
        self._floor = relevance_floor
        self._offered = {t["function"]["name"] for t in tools.openai_tools(writes=False)}

    async def call(self, call: ToolCall, first_number: int) -> CallResult:
        """Run ``call``; search results are numbered from ``first_number``."""
        try:
            arguments = json.loads(call.arguments or "{}")
            if not isinstance(arguments, dict):
                raise ValueError("arguments must be a JSON object")
        except ValueError as exc:
            return CallResult([f"Invalid arguments for {call.name}: {exc}"])
        if call.name == SEARCH:
            query = arguments.get("query")
            if not isinstance(query, str) or not query.strip():
                return CallResult([f"{SEARCH} needs a query string."])
            return await self._documents(query, first_number)
        if call.name not in self._offered:
            return CallResult([f"There is no tool named {call.name!r}."])
        lookup = self._lookup
        if lookup is not None and call.name in lookup.spec.tool_names:
            argument = lookup.spec.argument
            if call.name == lookup.spec.tool and not isinstance(arguments.get(argument), str):
                return CallResult([f"{call.name} needs the argument {argument!r}, a string."])
            found = await lookup.call(call.name, arguments, self.end_user)
            parts = ["\n\n".join(found.prompt_blocks)]
            return CallResult(parts, list(found.events), unavailable=found.unavailable)
        tool = self._tools[call.name]
        outcome = await tool.call(arguments, end_user=self.end_user)
        shown = {k: v for k, v in arguments.items() if k != tool.spec.end_user}
        error = outcome.failure.value if outcome.failure is not None else None
        event = ToolResultEvent(call.name, shown, outcome.ok, outcome.data, error)
        if outcome.ok:
            return CallResult([json.dumps(outcome.data, default=str)], [event])
        down = outcome.failure is ToolFailure.UNAVAILABLE
        return CallResult([outcome.error or f"{call.name} failed."], [event], unavailable=down)

    async def _documents(self, query: str, first_number: int) -> CallResult:
        hits = await asyncio.to_thread(self._search, query)
        best = relevance(hits)
        if best is None or best < self._floor:
            return CallResult([NOT_FOUND], unsure=True)
        sources = [source_chunk(hit) for hit in hits]
        parts = ["Documents; cite them by number:"]
        parts += [source_text(first_number + i, s) for i, s in enumerate(sources)]
        return CallResult(parts, sources=sources)


class ToolTurn:
    """A turn the model answers by calling tools (function calling): each round it may
    call tools, whose results are fitted into the budget, until it answers or the rounds
    run out."""

    def __init__(
        self,
        definition: AssistantDefinition,
        voice: Voice,
        handoffs: Handoffs,
        tools: Tools,
        lookup: Lookup | None,
        searcher: Searcher,
    ) -> None:
        self.definition = definition
        self.voice = voice
        self.handoffs = handoffs
        self.tools = tools
        self.lookup = lookup
        self.searcher = searcher

    async def answer(self, state: TurnState) -> AsyncIterator[TurnEvent]:
        definition, settings, model = self.definition, self.voice.settings, self.voice.model
        offered = offered_tools(self.tools, definition.description or definition.title)
        limit = model.max_model_len - settings.max_tokens
        begin = self.voice.clock()
        inputs = PromptInputs(
            system=definition.prompts.tools or definition.prompts.grounded,
            user_message=state.message,
            history=[prompt_turn(m) for m in state.history],
        )
        budget = PromptBudget(model.max_model_len, settings.max_tokens)

        def count(messages: list[Message]) -> int:
            return model.count_messages(messages, offered)

        prompt = await asyncio.to_thread(build_prompt, inputs, budget, count)
        state.took("prompt", self.voice.ms(begin))
        messages: list[Message] = list(prompt.messages)
        toolbox = ToolBox(
            state.request.customer_id,
            self.tools,
            self.lookup,
            self.searcher.search,
            settings.relevance_floor,
        )
        sources: list[SourceChunk] = []
        state.sources = sources  # grown in place as the tools find articles
        scanner = CitationScanner([])
        unsure = False
        for round_ in range(MAX_ROUNDS):
            calls: list[ToolCall] = []
            said = len(state.answer)
            tools = offered if round_ < MAX_ROUNDS - 1 else None
            async for event in self.voice.generate(
                state, messages, settings.max_tokens, scanner, tools=tools, calls=calls
            ):
                yield event
            if not calls or state.cut_off:
                break
            said_now = "".join(state.answer[said:])  # back to the model: masked again
            messages.append(assistant_tool_calls(state.masked(said_now), calls))
            for call in calls:
                work = toolbox.call(call, len(sources) + 1)
                outcome = await self.voice.timed(state, "tools", work)
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
                    for offer in self.handoffs.offer(state, HandoffReason.SERVICE_DOWN):
                        yield offer
        state.citations = scanner.cited
        if unsure and not sources and state.handoff is None:
            for offer in self.handoffs.offer(state, HandoffReason.NOT_SURE):
                yield offer


def fit_tool_message(
    messages: list[Message],
    call_id: str,
    outcome: CallResult,
    fits: Callable[[list[Message]], bool],
) -> tuple[Message, list[SourceChunk]]:
    """The tool message with as many of ``outcome.parts`` as fit (a prefix, so sources stay
    in rank order), and the sources it holds; ``NO_ROOM`` if not even the first fits."""
    included: list[str] = []
    for part in outcome.parts:
        candidate = _tool_message(call_id, [*included, part])
        if not fits([*messages, candidate]):
            break
        included.append(part)
    if not included:
        return _tool_message(call_id, [NO_ROOM]), []
    kept = max(0, len(included) - 1) if outcome.sources else 0
    return _tool_message(call_id, included), outcome.sources[:kept]


def assistant_tool_calls(text: str, calls: Sequence[ToolCall]) -> Message:
    """The model's turn that asked for ``calls``, as the next request must repeat it."""
    return {
        "role": "assistant",
        "content": text,
        "tool_calls": [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in calls
        ],
    }


def _tool_message(call_id: str, parts: Sequence[str]) -> Message:
    return {"role": "tool", "tool_call_id": call_id, "content": "\n\n".join(parts)}
