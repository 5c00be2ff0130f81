"""What one turn's events said, gathered as they stream: the answer's text, its citations,
the tool results, the handoff and the ``done`` event (for a caller that wants the turn
whole: an OpenAI completion, the command line, the evaluation)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from switchboard.assistant.types import (
    CitationEvent,
    DoneEvent,
    HandoffEvent,
    TokenEvent,
    ToolResultEvent,
    TurnEvent,
)


@dataclass
class Transcript:
    pieces: list[str] = field(default_factory=list)
    citations: list[CitationEvent] = field(default_factory=list)
    tools: list[ToolResultEvent] = field(default_factory=list)
    handoff: HandoffEvent | None = None
    done: DoneEvent | None = None

    def see(self, event: TurnEvent) -> str:
        """Keep what ``event`` says; the text it adds to the answer ("" for the others)."""
        if isinstance(event, TokenEvent):
            self.pieces.append(event.text)
            return event.text
        if isinstance(event, CitationEvent):
            self.citations.append(event)
        elif isinstance(event, ToolResultEvent):
            self.tools.append(event)
        elif isinstance(event, HandoffEvent):
            self.handoff = event
        elif isinstance(event, DoneEvent):
            self.done = event
        return ""

    @property
    def answer(self) -> str:
        return "".join(self.pieces)

    def citations_json(self) -> list[dict[str, Any]]:
        """The citations as the API sends them (without the event's kind)."""
        return [{k: v for k, v in asdict(c).items() if k != "kind"} for c in self.citations]

    @property
    def handoff_kind(self) -> str | None:
        """``ticket`` (a colleague has it), ``offered``, or None."""
        if self.handoff is None:
            return None
        return "ticket" if self.handoff.ticket_id else "offered"
