"""Answerability: a question whose evidence speaks about none of its key terms is not
answered from that evidence (a fake hashing embedder: words close when they share letters)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard.assistant.answerability import AnswerabilityCheck
from switchboard.assistant.evidence import EvidenceSelector, VectorCache
from switchboard.assistant.prompt_budget import SourceChunk
from switchboard.assistant.types import CitationEvent, HandoffEvent, HandoffReason
from tests.unit.assistant_rig import Rig, only, text_of
from tests.unit.demo_shop import NOT_SURE
from tests.unit.fakes import HashingEmbedder

pytestmark = pytest.mark.unit

RETURNS = SourceChunk(
    "returns-policy",
    "Returns policy",
    "/help/returns",
    "Unworn items can be returned within 30 days.",
)


DOUBTFUL = 0.4  # the best chunk's cosine: above the floor, below the trusted relevance


def check(key_terms: int = 2, term_floor: float = 0.5) -> AnswerabilityCheck:
    return AnswerabilityCheck(
        VectorCache(HashingEmbedder()),
        key_terms=key_terms,
        term_floor=term_floor,
        trusted_relevance=0.45,
    )


def test_evidence_holding_a_key_term_answers() -> None:
    verdict = check().judge("How long do I have to return a jacket?", [RETURNS], DOUBTFUL)

    assert verdict.answerable
    assert "return" in verdict.key_terms
    assert "return" not in verdict.uncovered  # "returned" in the evidence


def test_evidence_about_something_else_does_not_answer() -> None:
    verdict = check().judge("Do you rent tents for a weekend?", [RETURNS], DOUBTFUL)

    assert not verdict.answerable
    assert set(verdict.uncovered) == set(verdict.key_terms)
    assert len(verdict.key_terms) == 2


def test_a_close_sentence_covers_a_key_term_it_does_not_contain() -> None:
    rentals = SourceChunk("rentals", "Rentals", "/help/rentals", "Rentals available.")

    close = check(key_terms=1, term_floor=0.3).judge("rent?", [rentals], DOUBTFUL)
    far = check(key_terms=1, term_floor=0.5).judge("rent?", [rentals], DOUBTFUL)

    assert close.answerable  # "rent" is not a word of it, but near enough to "Rentals"
    assert not far.answerable
    assert far.uncovered == ("rent",)


def test_retrieval_sure_of_itself_is_trusted_without_the_check() -> None:
    verdict = check().judge("Do you rent tents for a weekend?", [RETURNS], 0.45)

    assert verdict.answerable
    assert verdict.key_terms == ()  # not even looked at


def test_no_evidence_never_answers() -> None:
    assert not check().judge("How long do I have to return a jacket?", [], 0.9).answerable


def test_key_terms_must_be_positive() -> None:
    with pytest.raises(ValueError, match="key_terms"):
        check(key_terms=0)


@pytest.fixture
def checked_rig(tmp_path: Path) -> Iterator[Rig]:
    vectors = VectorCache(HashingEmbedder())
    rig = Rig(
        tmp_path,
        evidence=EvidenceSelector(vectors, spans=2),
        answerability=AnswerabilityCheck(
            vectors,
            key_terms=2,
            term_floor=0.5,
            trusted_relevance=0.9,  # the hits: 0.82
        ),
    )
    try:
        yield rig
    finally:
        rig.store.close()


def test_an_unanswerable_question_gets_not_sure_and_a_handoff_offer(checked_rig: Rig) -> None:
    events = checked_rig.turn("Do you rent tents for a weekend?")  # the hits: returns, shipping

    assert text_of(events) == NOT_SURE
    (offer,) = only(events, HandoffEvent)
    assert (offer.reason, offer.ticket_id) == (HandoffReason.NOT_SURE, None)
    assert only(events, CitationEvent) == []
    assert checked_rig.model.calls == []  # no confident answer from an unrelated article


def test_an_answerable_question_is_answered(checked_rig: Rig) -> None:
    events = checked_rig.turn("How long do I have to return a jacket?")

    assert text_of(events).startswith("Returns are accepted for 30 days")
    assert len(checked_rig.model.calls) == 1
    assert only(events, HandoffEvent) == []
