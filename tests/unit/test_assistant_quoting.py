"""Quoted answers: the best evidence sentences of one article, cited, without the model."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from switchboard.assistant.evidence import EvidenceSelector, VectorCache
from switchboard.assistant.prompt_budget import SourceChunk
from switchboard.assistant.quoting import QUOTE_WEIGHTS, Quoter, clean, one_article, quoted_answer
from switchboard.assistant.types import AnswerPath, CitationEvent, HandoffEvent
from switchboard.rag.types import Chunk, SearchHit, StoredChunk
from tests.unit.assistant_rig import (
    ALICE_ORDER,
    RETURNS_HIT,
    SHIPPING_HIT,
    Rig,
    done_of,
    hit,
    only,
    route,
    text_of,
)
from tests.unit.demo_shop import Intent
from tests.unit.fakes import HashingEmbedder

pytestmark = pytest.mark.unit


def sentence(article: str, text: str, heading: str = "", start: int = 0) -> SourceChunk:
    return SourceChunk(article, article.title(), f"/help/{article}", text, heading, start,
                       start + len(text))  # fmt: skip


def chunk_hit(article: str, index: int, text: str, rank: int | None) -> SearchHit:
    """Chunk ``index`` of ``article``; ``rank`` None: a neighbour, not retrieved."""
    start = 100 * index
    chunk = Chunk(article, index, text, start, start + len(text), len(text.split()))
    stored = StoredChunk(chunk, article.title(), f"{article}.md", {"url": f"/help/{article}"})
    ranks = {} if rank is None else {"dense": rank}
    return SearchHit(stored, 0.5, ranks, {"dense": 0.5} if rank else {})


def test_only_the_first_hits_article_is_quoted_from() -> None:
    hits = [
        chunk_hit("returns", 0, "Return within 30 days.", 1),
        chunk_hit("shipping", 0, "Standard shipping takes 3 days.", 2),
        chunk_hit("returns", 2, "Refunds take 5 days.", 3),
    ]

    assert [h.stored.chunk.text for h in one_article(hits)] == [
        "Return within 30 days.",
        "Refunds take 5 days.",
    ]
    assert one_article([]) == []


class WindowSpy:
    """The chunks around the hits: each hit's next chunk, as the store would give it."""

    def __init__(self, after: dict[tuple[str, int], str]) -> None:
        self.after = after
        self.seen: list[list[str]] = []

    def __call__(self, hits: Sequence[SearchHit]) -> list[SearchHit]:
        self.seen.append([h.stored.chunk.id for h in hits])
        out = []
        for h in hits:
            chunk = h.stored.chunk
            out.append(h)
            text = self.after.get((chunk.document_id, chunk.index + 1))
            if text is not None:
                out.append(chunk_hit(chunk.document_id, chunk.index + 1, text, None))
        return out


def test_the_sentence_that_answers_may_come_from_the_chunk_after_a_hit() -> None:
    selector = EvidenceSelector(VectorCache(HashingEmbedder()), spans=1, weights=QUOTE_WEIGHTS)
    hits = [
        chunk_hit("damage", 0, "A damaged parcel: take photos of the box first.", 1),
        chunk_hit("shipping", 0, "Report a late parcel to the carrier.", 2),
    ]
    window = WindowSpy({("damage", 1): "Report transport damage within 7 days of delivery."})

    answer = Quoter(selector, window).answer("How long do I have to report damage?", hits)

    assert window.seen == [["damage#0"]]  # only the first hit's article is widened
    assert answer is not None
    assert answer.text == 'From *Damage*: "Report transport damage within 7 days of delivery." [1]'
    assert [c.article_id for c in answer.citations] == ["damage"]
    without = Quoter(selector).answer("How long do I have to report damage?", hits)
    assert without is not None
    assert "7 days" not in without.text


def test_each_sentence_is_cited_and_a_section_is_named_once() -> None:
    answer = quoted_answer(
        [
            sentence("returns", "Return within 30 days.", "The 30 days", 0),
            sentence("returns", "Refunds take 5 days.", "Refunds", 40),
            sentence("returns", "Keep the receipt.", "The 30 days", 80),
        ]
    )

    assert answer is not None
    assert answer.text == (
        'From *The 30 days*: "Return within 30 days." [1] "Keep the receipt." [3]\n'
        'From *Refunds*: "Refunds take 5 days." [2]'
    )
    assert [(c.number, c.quote, c.start, c.end) for c in answer.citations] == [
        (1, "Return within 30 days.", 0, 22),
        (2, "Refunds take 5 days.", 40, 60),
        (3, "Keep the receipt.", 80, 97),
    ]
    assert quoted_answer([]) is None


def test_a_tables_header_row_alone_is_not_quoted() -> None:
    header = sentence("prio", "| Priority | Meaning |\n|---|---|", "Priorities", 0)
    rule = sentence("prio", "P1 tickets are worked on around the clock.", "Priorities", 40)
    answer = quoted_answer([header, rule])

    assert answer is not None
    assert answer.text == 'From *Priorities*: "P1 tickets are worked on around the clock." [1]'
    assert [c.start for c in answer.citations] == [40]
    assert quoted_answer([header]) is None


def test_a_sentence_without_a_heading_is_named_by_its_article() -> None:
    answer = quoted_answer([sentence("returns", "Return within 30 days.")])

    assert answer is not None
    assert answer.text == 'From *Returns*: "Return within 30 days." [1]'


def test_a_list_item_is_quoted_as_one_line_without_its_marker() -> None:
    assert clean("- Pack the item\n  in its box.") == "Pack the item in its box."
    assert clean("2. Print the label.") == "Print the label."
    assert clean("Costs EUR 4.95 per parcel.") == "Costs EUR 4.95 per parcel."


@pytest.fixture
def quoting(tmp_path: Path) -> Iterator[Rig]:
    selector = EvidenceSelector(VectorCache(HashingEmbedder()), spans=2, weights=QUOTE_WEIGHTS)
    rig = Rig(tmp_path, quoter=Quoter(selector))
    try:
        yield rig
    finally:
        rig.store.close()


def test_a_policy_question_is_answered_with_a_quote_and_no_model_call(quoting: Rig) -> None:
    quoting.searcher.hits = [RETURNS_HIT, SHIPPING_HIT]

    events = quoting.turn("How many days do I have to return an item?")

    assert quoting.model.calls == []
    assert text_of(events) == (
        'From *Returns policy*: "Unworn items can be returned within 30 days." [1]'
    )
    [citation] = only(events, CitationEvent)
    assert (citation.number, citation.article_id) == (1, "returns-policy")
    assert citation.quote == "Unworn items can be returned within 30 days."
    done = done_of(events)
    assert done.answer_path is AnswerPath.QUOTED
    assert done.cited_article_ids == ("returns-policy",)
    assert "quote" in done.timings_ms
    assert "model" not in done.timings_ms


def test_below_the_relevance_floor_nothing_is_quoted(quoting: Rig) -> None:
    quoting.router.default = route(Intent.RETURNS_REFUNDS, confident=False)
    quoting.searcher.hits = [hit("bikes", "Bikes", "We sell tents and stoves.", 0.1)]

    events = quoting.turn("Do you sell bicycles?")

    assert "From *" not in text_of(events)
    assert done_of(events).answer_path is AnswerPath.NOT_SURE


def test_an_orders_status_comes_first_then_the_quote(quoting: Rig) -> None:
    events = quoting.turn(f"Where is {ALICE_ORDER} and how long do I have to return it?")

    text = text_of(events)
    assert ALICE_ORDER in text
    assert text.index(ALICE_ORDER) < text.index('From *Returns policy*: "Unworn')
    assert quoting.model.calls == []


def test_a_table_is_quoted_row_by_row_on_one_line() -> None:
    table = (
        "| Payment method | Time after we issue the refund |\n"
        "|---|---|\n"
        "| PayPal | 1-2 business days |\n"
        "| Visa, Mastercard | 3-5 business days |"
    )
    assert clean(table) == "PayPal: 1-2 business days; Visa, Mastercard: 3-5 business days"
    wide = "| Zone | Cost | Time |\n| --- | :---: | --- |\n| EU | EUR 7.95 | 4-7 days |"
    assert clean(wide) == "EU: cost EUR 7.95, time 4-7 days"
    assert clean("| Zone | Cost |\n|---|---|") == "Zone Cost"  # a header alone


def test_rows_of_a_table_without_their_header_are_not_named_by_the_first_row() -> None:
    """A sentence can hold rows of a table whose header row fell into another one: no
    row is a header then (it used to name the other rows' cells by the first row's)."""
    rows = (
        "| P1 Critical | A whole office cannot work | 15 minutes | 4 hours |\n"
        "| P2 High | A team cannot work | 1 hour | 8 business hours |"
    )
    assert clean(rows) == (
        "P1 Critical: A whole office cannot work, 15 minutes, 4 hours; "
        "P2 High: A team cannot work, 1 hour, 8 business hours"
    )


def order_rig(tmp_path: Path, dense: float) -> Rig:
    """A quoting rig whose router calls every message an order question, and whose search
    finds one lost-parcel chunk at cosine ``dense``."""
    selector = EvidenceSelector(VectorCache(HashingEmbedder()), spans=2, weights=QUOTE_WEIGHTS)
    rig = Rig(tmp_path, quoter=Quoter(selector), order_question_relevance=0.65)
    rig.router.default = route(Intent.ORDER_STATUS)
    rig.searcher.hits = [hit("lost", "Lost parcel", "Report a lost parcel within 14 days.", dense)]
    return rig


LOST_QUOTE = 'From *Lost parcel*: "Report a lost parcel within 14 days." [1]'


@pytest.mark.parametrize(("dense", "quoted"), [(0.82, True), (0.61, False)])
def test_a_status_question_also_gets_the_article_it_matches_closely(
    tmp_path: Path, dense: float, quoted: bool
) -> None:
    rig = order_rig(tmp_path, dense)
    try:
        events = rig.turn("Where is my parcel? Tracking said delivered yesterday.")
    finally:
        rig.store.close()

    text = text_of(events)
    assert f"{ALICE_ORDER}: in transit" in text  # the customer's orders first
    assert (LOST_QUOTE in text) is quoted
    assert rig.searcher.queries == ["Where is my parcel? Tracking said delivered yesterday."]
    assert rig.model.calls == []
    path = done_of(events).answer_path
    assert path is (AnswerPath.QUOTED if quoted else AnswerPath.LOOKUP)


def test_an_order_message_that_asks_what_to_do_gets_the_article_too(tmp_path: Path) -> None:
    rig = order_rig(tmp_path, 0.5)  # below order_question_relevance, above the floor
    try:
        events = rig.turn("Tracking says delivered but nothing came. What now?")
    finally:
        rig.store.close()

    text = text_of(events)
    assert text.index(f"{ALICE_ORDER}: in transit") < text.index(LOST_QUOTE)
    assert done_of(events).answer_path is AnswerPath.QUOTED


def test_an_unknown_order_and_a_policy_question_gets_both_answers(tmp_path: Path) -> None:
    rig = order_rig(tmp_path, 0.5)
    try:
        events = rig.turn("LK-999999 has said in transit for a week. At what point do you act")
    finally:
        rig.store.close()

    text = text_of(events)
    assert "couldn't find order LK-999999" in text
    assert LOST_QUOTE in text
    assert rig.searcher.queries == ["has said in transit for a week. At what point do you act"]


def test_an_order_message_asking_beyond_its_status_below_the_floor_is_status_only(
    tmp_path: Path,
) -> None:
    rig = order_rig(tmp_path, 0.2)  # below the relevance floor
    try:
        events = rig.turn("Tracking says delivered but nothing came. What now?")
    finally:
        rig.store.close()

    assert LOST_QUOTE not in text_of(events)
    assert only(events, HandoffEvent) == []  # the status was said: no "not sure"
    assert done_of(events).answer_path is AnswerPath.LOOKUP
