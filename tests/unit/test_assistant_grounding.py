"""The grounding check (``assistant.grounding``): claims against the evidence, sentence by
sentence on the stream, with a bounded hold-back and the quote fallback."""

from __future__ import annotations

import random

import pytest

from switchboard.assistant.claims import OptionWords
from switchboard.assistant.grounding import (
    EvidenceIndex,
    GroundedStream,
    Passage,
    hold_point,
    sentence_end,
)
from switchboard.assistant.types import AnswerPath

pytestmark = pytest.mark.unit

RETURNS = Passage(
    1,
    "How long do I have to return an item?",
    "You can return most items within 30 days from delivery. This 30-day return window "
    "applies to Germany, the United Kingdom and Switzerland.\n\n"
    "- Items bought between 15 November and 24 December can be returned until 15 January.",
    heading="Returns window",
    url="https://help.larkspur.example/returns-window",
)
SHIPPING = Passage(
    2,
    "Shipping methods",
    "Within Germany we hand parcels to DHL Paket. Standard shipping costs EUR 4.95. "
    "Klarna lets you pay 20% later. Refunds take 3-5 business days. Use up to four gift "
    "cards per order.",
)
OPTIONS = OptionWords(
    [["DHL"], ["UPS"], ["Klarna"], ["PayPal"], ["Germany"], ["France"], ["United Kingdom", "UK"]]
)
ORDER = '{"order_id": "LK-100214", "total_eur": 89.5, "estimated_delivery": "2024-05-07"}'
QUESTION = "How many days do I have to return an item?"


@pytest.fixture
def evidence() -> EvidenceIndex:
    return EvidenceIndex([RETURNS, SHIPPING], [ORDER], OPTIONS)


def run(
    evidence: EvidenceIndex, pieces: list[str], holdback: int = 200
) -> tuple[str, GroundedStream]:
    stream = GroundedStream(evidence, QUESTION, holdback)
    out = [stream.feed(piece) for piece in pieces]
    return "".join(out) + stream.end(), stream


def pieces(text: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(text):
        n = rng.randint(1, 5)
        out.append(text[i : i + n])
        i += n
    return out


# -- claims against the evidence -------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "You have thirty days to return it.",
        "There is a 30-day window.",
        "Shipping is €4.95 within Germany.",
        "Shipping is 4,95 €.",
        "Holiday gifts can come back until January 15th.",
        "Refunds take 3 to 5 working days.",
        "Klarna lets you pay 20 percent later.",
        "Up to 4 gift cards per order.",
        "DHL delivers in Germany.",
        "We ship to the UK.",
        "Your order LK-100214 of €89.50 arrives on May 7.",
        "See help.larkspur.example/returns-window for details [1].",
    ],
)
def test_claims_the_evidence_states_in_another_form_are_supported(
    evidence: EvidenceIndex, sentence: str
) -> None:
    assert evidence.unsupported(sentence) == []


@pytest.mark.parametrize(
    ("sentence", "invented"),
    [
        ("You have 14 days to return it.", "14 days"),
        ("You have 60 days to return it.", "60 days"),
        ("Shipping costs €5.95.", "€5.95"),
        ("Shipping costs $4.95.", "$4.95"),
        ("Returns are possible until 31 January.", "31 January"),
        ("Klarna lets you pay 50% later.", "50%"),
        ("Refunds take 10 business days.", "10 business days"),
        ("We send every parcel with UPS.", "UPS"),
        ("You can pay with PayPal.", "PayPal"),
        ("We also ship to France.", "France"),
        ("You can use 9 gift cards.", "9"),
        ("Your order LK-999999 is on its way.", "LK-999999"),
        ("Details are in [5].", "[5]"),
        ("See https://larkspur.example/faq for more.", "https://larkspur.example/faq"),
    ],
)
def test_invented_claims_are_unsupported(
    evidence: EvidenceIndex, sentence: str, invented: str
) -> None:
    assert [c.text for c in evidence.unsupported(sentence)] == [invented]


def test_a_copied_source_header_is_scaffolding(evidence: EvidenceIndex) -> None:
    assert evidence.is_scaffolding("[1] How long do I have to return an item?")
    assert evidence.is_scaffolding(" (https://help.larkspur.example/returns-window)")
    assert not evidence.is_scaffolding("You can return most items within 30 days [1].")


# -- sentences on the stream -----------------------------------------------------------------


def test_a_sentence_ends_after_its_markers_once_the_next_one_begins() -> None:
    assert sentence_end("It costs €4.95") is None
    assert sentence_end("It costs €4.95. [2]") is None  # more markers may follow
    assert sentence_end("It costs €4.95. [2] You") == len("It costs €4.95. [2]")
    assert sentence_end("Within 30 days [1]. Then") == len("Within 30 days [1].")
    assert sentence_end("  Steps:\n- one") == len("  Steps:")
    assert sentence_end("1. Open it. 2. Send") == len("1. Open it.")  # a list item's number


def test_a_numbered_list_on_one_line_passes_unchanged(evidence: EvidenceIndex) -> None:
    answer = "1. Open the returns portal. 2. Print the label. 3. Hand it to the carrier."
    text, stream = run(evidence, pieces(answer, 0))
    assert text == answer
    assert stream.path is AnswerPath.GENERATED


@pytest.mark.parametrize("seed", range(5))
def test_a_grounded_answer_passes_unchanged_in_any_pieces(
    evidence: EvidenceIndex, seed: int
) -> None:
    answer = "You can return items within 30 days [1]. Shipping is EUR 4.95 in Germany [2]."
    text, stream = run(evidence, pieces(answer, seed))
    assert text == answer
    assert stream.path is AnswerPath.GENERATED
    assert stream.dropped == []


@pytest.mark.parametrize("seed", range(5))
def test_a_sentence_with_an_invented_number_is_dropped_wherever_the_pieces_split(
    evidence: EvidenceIndex, seed: int
) -> None:
    answer = "You can return items within 30 days [1]. Express costs €12.90. Thanks!"
    text, stream = run(evidence, pieces(answer, seed))
    assert text == "You can return items within 30 days [1]. Thanks!"
    assert "12.90" not in text
    assert stream.path is AnswerPath.REPAIRED
    assert stream.dropped == ["Express costs €12.90."]


def test_nothing_is_released_before_its_sentence_is_checked(evidence: EvidenceIndex) -> None:
    stream = GroundedStream(evidence, QUESTION, 200)
    assert stream.feed("You have 14 da") == ""
    assert stream.feed("ys to return it. ") == ""
    assert stream.feed("Sorry") == ""  # the invented sentence is gone, the next one waits
    assert stream.end() != ""


def test_the_hold_back_is_bounded_and_a_long_sentence_is_checked_in_parts(
    evidence: EvidenceIndex,
) -> None:
    stream = GroundedStream(evidence, QUESTION, 40)
    words = "and then you can go on and on without any end in sight " * 4
    out = ""
    for piece in pieces("We ship with DHL " + words, 3):
        out += stream.feed(piece)
        assert len(stream.pending) <= 40
    assert out.startswith("We ship with DHL and then")


def test_past_the_bound_an_unsupported_claim_drops_the_rest_of_its_sentence(
    evidence: EvidenceIndex,
) -> None:
    text, stream = run(
        evidence,
        pieces("Most items can go back within 30 days and a " + "very " * 12 + "long "
               "tail that says 45 days is fine too and more. You can return them [1].", 1),
        holdback=40,
    )  # fmt: skip
    assert "45" not in text
    assert "too and more" not in text
    assert text.startswith("Most items can go back within 30 days")
    assert text.endswith("You can return them [1].")
    assert stream.path is AnswerPath.REPAIRED


def test_hold_point_keeps_a_number_with_the_word_after_it() -> None:
    text = "returns are accepted within the first 30 da"
    assert text[hold_point(text, 32) :] == "30 da"


# -- the fallback to a quote -----------------------------------------------------------------


def test_an_answer_left_with_no_fact_falls_back_to_the_supporting_quote(
    evidence: EvidenceIndex,
) -> None:
    text, stream = run(evidence, ["Sure! ", "You have 14 days to send it ", "back."])
    assert text == (
        'Sure! From *Returns window*: "You can return most items within 30 days from delivery." [1]'
    )
    assert stream.path is AnswerPath.QUOTED


def test_a_copied_header_and_a_lead_in_fall_back_to_the_quote(evidence: EvidenceIndex) -> None:
    text, stream = run(evidence, ["[1] How long do I have to return an item? ", "(https:/",
                                  "/help.larkspur.example/returns-window)"])  # fmt: skip
    assert text.startswith('From *Returns window*: "You can return most items within 30 days')
    assert stream.path is AnswerPath.QUOTED
    text, stream = run(evidence, ["The answer to this question is:"])
    assert text.startswith('The answer to this question is: From *Returns window*: "You')
    assert stream.path is AnswerPath.QUOTED


def test_the_quote_is_the_sentence_that_answers_the_question(evidence: EvidenceIndex) -> None:
    assert evidence.quote("What does standard shipping cost?") == (
        'From *Shipping methods*: "Standard shipping costs EUR 4.95." [2]'
    )
    gift = evidence.quote("I bought a present on 2 December, when can it be returned?")
    assert gift == (
        'From *Returns window*: "Items bought between 15 November and 24 December can be '
        'returned until 15 January." [1]'
    )


def test_without_passages_an_answer_with_no_fact_left_is_only_repaired() -> None:
    text, stream = run(EvidenceIndex([], [ORDER], OPTIONS), ["Hello! We have 500 tents."])
    assert text == "Hello!"
    assert stream.path is AnswerPath.REPAIRED


def test_the_hold_back_must_hold_a_word(evidence: EvidenceIndex) -> None:
    with pytest.raises(ValueError, match="holdback_chars"):
        GroundedStream(evidence, QUESTION, 4)
