"""A turn's events gathered whole (``Transcript``): the text, citations, tools, handoff."""

from __future__ import annotations

import pytest

from switchboard.assistant.transcript import Transcript
from switchboard.assistant.types import (
    AnswerPath,
    CitationEvent,
    DoneEvent,
    HandoffEvent,
    HandoffReason,
    TokenEvent,
    ToolResultEvent,
)

pytestmark = pytest.mark.unit


def test_a_transcript_keeps_what_each_event_says() -> None:
    transcript = Transcript()
    said = [
        transcript.see(TokenEvent("Returns are free [1].")),
        transcript.see(
            CitationEvent(1, "returns", "Returns", "https://x/returns", quote="q", collection="kb")
        ),
        transcript.see(ToolResultEvent("get_order", {"order_id": "LK-1"}, True, {"id": 1})),
        transcript.see(HandoffEvent(HandoffReason.NOT_SURE, "A colleague?")),
        transcript.see(DoneEvent("s1", 1, "returns_refunds", 0.9, ("returns",), {}, {}, "m")),
    ]
    assert said == ["Returns are free [1].", "", "", "", ""]
    assert transcript.answer == "Returns are free [1]."
    assert transcript.citations_json() == [
        {"number": 1, "article_id": "returns", "title": "Returns", "url": "https://x/returns",
         "heading": "", "quote": "q", "start": None, "end": None, "collection": "kb"}
    ]  # fmt: skip
    assert [t.tool for t in transcript.tools] == ["get_order"]
    assert transcript.handoff_kind == "offered"
    assert transcript.done is not None
    assert transcript.done.answer_path is AnswerPath.GENERATED


def test_a_ticket_is_a_handoff_of_its_own_kind_and_no_handoff_is_none() -> None:
    transcript = Transcript()
    assert transcript.handoff_kind is None
    transcript.see(HandoffEvent(HandoffReason.CUSTOMER_REQUEST, "Passed on.", "T-1"))
    assert transcript.handoff_kind == "ticket"
