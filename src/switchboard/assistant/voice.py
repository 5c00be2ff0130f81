"""How a turn says what it says: a fixed reply or a whole cited answer as one token event,
and the model's text streamed through the stages (the grounding check, the output guard),
with each citation sent as it is first cited and the model's usage and timings counted.

    voice.say(state, text)                      a fixed reply (a new paragraph if needed)
    voice.say_cited(state, text, citations)     a whole answer, then its citations
    voice.generate(state, messages, max_tokens) the model's answer, streamed
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from switchboard.assistant.citations import CitationScanner, citation_event, known_markers_only
from switchboard.assistant.prompt_budget import Citation
from switchboard.assistant.turn import TurnState
from switchboard.assistant.types import ChatModel, Message, TokenEvent, ToolCall, TurnEvent
from switchboard.config import AssistantSettings
from switchboard.stages.stage import Pipeline

_T = TypeVar("_T")


class Voice:
    """A turn's output, for one assistant: its ``model`` (replaceable, e.g. by the
    gateway's), sampling ``settings`` and output ``stages``."""

    def __init__(
        self,
        model: ChatModel,
        settings: AssistantSettings,
        stages: Pipeline[TurnState],
        clock: Callable[[], float],
    ) -> None:
        self.model = model
        self.settings = settings
        self.stages = stages
        self.clock = clock

    async def say(self, state: TurnState, text: str) -> AsyncIterator[TurnEvent]:
        """A fixed reply, as one token event (after a blank line if something was said)."""
        if state.answer:
            text = "\n\n" + text
        async for event in self.emit(state, text, None):
            yield event

    async def say_cited(
        self, state: TurnState, text: str, citations: Sequence[Citation]
    ) -> AsyncIterator[TurnEvent]:
        """A whole answer, then the citations its ``[n]`` markers refer to."""
        async for event in self.say(state, text):
            yield event
        for citation in citations:
            yield citation_event(citation)
        state.citations = list(citations)

    async def emit(
        self, state: TurnState, text: str, scanner: CitationScanner | None
    ) -> AsyncIterator[TurnEvent]:
        """``text`` said, and the citations its markers complete."""
        state.answer.append(text)
        yield TokenEvent(text)
        for citation in scanner.feed(text) if scanner else ():
            yield citation_event(citation)

    async def generate(
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
        begin = self.clock()
        first: float | None = None
        text = self._model_text(state, messages, max_tokens, tools, calls)
        if scanner is not None:
            text = known_markers_only(text, scanner.numbers)
        text = self.stages.output(state, text)
        async for piece in text:
            if first is None:
                first = self.clock()
                state.timings_ms.setdefault("ttft", (first - begin) * 1000)
                if state.answer:  # something was said before: a new paragraph
                    piece = "\n\n" + piece.lstrip()
            async for event in self.emit(state, piece, scanner):
                yield event
        state.took("model", self.ms(begin))

    async def _model_text(
        self,
        state: TurnState,
        messages: list[Message],
        max_tokens: int,
        tools: list[dict[str, Any]] | None,
        calls: list[ToolCall] | None,
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

    async def timed(self, state: TurnState, stage: str, work: Awaitable[_T]) -> _T:
        """``work``'s result; its time counted as ``stage``'s."""
        begin = self.clock()
        try:
            return await work
        finally:
            state.took(stage, self.ms(begin))

    def ms(self, since: float) -> float:
        return (self.clock() - since) * 1000
