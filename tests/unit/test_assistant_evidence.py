"""Evidence selection: sentences of retrieved chunks, scored against the question with a
fake (hashing) embedder, kept within their article's offsets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from switchboard.assistant.evidence import (
    Candidate,
    EvidenceSelector,
    VectorCache,
    candidates_of,
    chunk_sentences,
    combined_scores,
    lexical_scores,
    source_chunk,
)
from switchboard.assistant.prompt_budget import SourceChunk
from switchboard.assistant.types import CitationEvent
from switchboard.rag.types import Chunk, SearchHit, StoredChunk
from tests.unit.assistant_rig import SHIPPING_HIT, Rig, done_of, last_user_message, only
from tests.unit.fakes import HashingEmbedder

pytestmark = pytest.mark.unit

ARTICLE = (
    "You can return most items within 30 days from delivery. "
    "Refunds go to the original payment method.\n\n"
    "- The window starts on the day the carrier marks your parcel as delivered.\n"
    "- Gift recipients can return items with the order number."
)
TITLE = "How long do I have to return an item?"


def hit(start: int, end: int, *, index: int = 0, rank_score: float = 0.8) -> SearchHit:
    chunk = Chunk(
        "returns-window", index, ARTICLE[start:end], start, end, 20, (TITLE, "The 30 days")
    )
    stored = StoredChunk(chunk, TITLE, "returns-window.md", {"url": "https://help/rw"})
    return SearchHit(stored, rank_score, {"dense": 1}, {"dense": rank_score})


def whole() -> SearchHit:
    return hit(0, len(ARTICLE))


def test_sentences_carry_their_offsets_in_the_article() -> None:
    sentences = chunk_sentences(whole())

    assert [s.text for s in sentences] == [
        "You can return most items within 30 days from delivery.",
        "Refunds go to the original payment method.",
        "The window starts on the day the carrier marks your parcel as delivered.",
        "Gift recipients can return items with the order number.",
    ]
    for s in sentences:
        assert s.start is not None
        assert ARTICLE[s.start : s.end] == s.text  # list markers ("- ") left out
        assert (s.article_id, s.title, s.url) == ("returns-window", TITLE, "https://help/rw")
        assert s.heading == "The 30 days"  # the path without the article's title


def test_a_chunk_opening_mid_sentence_drops_the_fragment() -> None:
    second = hit(ARTICLE.index("within"), len(ARTICLE), index=1)

    texts = [s.text for s in chunk_sentences(second)]

    assert texts[0] == "Refunds go to the original payment method."
    assert not any(t.startswith("within") for t in texts)


def test_overlapping_chunks_give_each_sentence_once() -> None:
    first = hit(0, ARTICLE.index("- The window"))
    second = hit(ARTICLE.index("Refunds"), len(ARTICLE), index=1)

    candidates = candidates_of([first, second])

    texts = [c.source.text for c in candidates]
    assert texts.count("Refunds go to the original payment method.") == 1
    assert [c.rank for c in candidates] == [1, 1, 2, 2]


def test_the_sentence_that_answers_comes_first_and_spans_are_bounded() -> None:
    selector = EvidenceSelector(VectorCache(HashingEmbedder()), spans=2)

    picked = selector.select("When does the return window start for a parcel delivered?", [whole()])

    assert len(picked) <= 2
    assert picked[0].text.startswith("The window starts on the day the carrier")


def test_a_sentence_stating_a_number_scores_higher_all_else_equal() -> None:
    plain, numbered = (
        Candidate(SourceChunk("a", "A", "", text, start=0, end=len(text)), 1)
        for text in ("Refunds take a few business days.", "Refunds take 5 business days.")
    )
    dense = np.array([0.5, 0.5], dtype=np.float32)

    scores = combined_scores("How long do refunds take?", [plain, numbered], dense)

    assert scores[1] > scores[0]  # what a policy question asks for is usually a number


def test_rare_question_terms_weigh_more_than_common_ones() -> None:
    texts = [
        "return items here",
        "return items there",
        "return parcel by carrier",
    ]

    scores = lexical_scores("return parcel", texts)

    assert scores[2] == 1.0  # both terms
    assert scores[0] == scores[1] < 0.5  # only "return", which every text has


def test_article_sentences_are_embedded_once_across_turns() -> None:
    embedder = HashingEmbedder()
    selector = EvidenceSelector(VectorCache(embedder), spans=2)
    selector.select("first question about returns", [whole()])
    embedded = len(embedder.texts)

    selector.select("second question about refunds", [whole()])

    assert len(embedder.texts) == embedded + 1  # only the new question


def test_spans_must_be_positive() -> None:
    with pytest.raises(ValueError, match="spans"):
        EvidenceSelector(VectorCache(HashingEmbedder()), spans=0)


def test_a_whole_chunk_source_has_its_heading_and_offsets() -> None:
    source = source_chunk(hit(10, 60))

    assert (source.start, source.end) == (10, 60)
    assert source.text == ARTICLE[10:60]
    assert source.heading == "The 30 days"


# -- in a turn ------------------------------------------------------------------------------


@pytest.fixture
def evidence_rig(tmp_path: Path) -> Iterator[Rig]:
    rig = Rig(tmp_path, evidence=EvidenceSelector(VectorCache(HashingEmbedder()), spans=2))
    rig.searcher.hits = [whole(), SHIPPING_HIT]
    try:
        yield rig
    finally:
        rig.store.close()


def test_the_prompt_offers_the_selected_sentences_not_the_chunks(evidence_rig: Rig) -> None:
    evidence_rig.turn("When does the return window start for my parcel?")

    (call,) = evidence_rig.model.calls
    user = last_user_message(call)
    first = "[1] How long do I have to return an item? (https://help/rw)\nThe window starts"
    assert first in user
    assert "Refunds go to the original payment method." not in user
    assert "[3]" not in user  # numbers only for the sources given


def test_the_citation_quotes_its_sentence_with_offsets(evidence_rig: Rig) -> None:
    events = evidence_rig.turn("When does the return window start for my parcel?")

    (citation,) = only(events, CitationEvent)
    quote = "The window starts on the day the carrier marks your parcel as delivered."
    assert (citation.number, citation.article_id, citation.quote) == (1, "returns-window", quote)
    assert (citation.title, citation.url, citation.heading) == (
        TITLE,
        "https://help/rw",
        "The 30 days",
    )
    assert citation.start is not None
    assert ARTICLE[citation.start : citation.end] == quote
    assert "evidence" in done_of(events).timings_ms
