"""Query focusing: which sentences of a long customer message are routed and searched, and
that an orchestrator turn routes and searches them while the model still reads it all."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from switchboard.assistant.focus import (
    FocusStrategy,
    QueryFocus,
    is_asking,
    sentences,
    with_order_ids,
)
from switchboard.assistant.orchestrator import Orchestrator
from switchboard.assistant.router import SemanticRouter
from switchboard.assistant.types import Route, ToolResultEvent
from switchboard.config import AssistantSettings
from tests.unit.assistant_rig import ALICE_ORDER, Rig, last_user_message, only, rig
from tests.unit.demo_shop import ORDER_IDS, SHOP, Intent

pytestmark = pytest.mark.unit
__all__ = ["rig"]  # the fixture

CHATTY = (
    "Hi there! I bought a tent from your shop in March for a trip to Scotland with my "
    "brother and it was great, the tracking worked perfectly too. "
    "Do you also ship to Norway? "
    "We are planning a trip there next summer and I'd like to order boots before. "
    "Also, how long would delivery take?"
)


def test_sentences_split_after_end_marks_and_at_line_breaks() -> None:
    text = "First one. Second one?? Third!\nFourth line\n\n  fifth  "
    assert sentences(text) == ["First one.", "Second one??", "Third!", "Fourth line", "fifth"]


@pytest.mark.parametrize(
    "sentence",
    [
        "Do you also ship to Norway?",
        "do u ship to norway",
        "So how long do I have to send it back",
        "Anyway, can I pay with PayPal",
        "I'd like to change the address on my order.",
        "Please tell me the return address.",
        "I was wondering whether the boots are covered.",
    ],
)
def test_questions_and_requests_are_asking(sentence: str) -> None:
    assert is_asking(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "I bought a tent from your shop in March.",
        "We are planning a trip there next summer.",
        "The tracking worked perfectly.",
        "Thanks a lot, you have been great so far!",
        "We are planning a trip and I'd like to order boots before.",
    ],
)
def test_statements_are_not_asking(sentence: str) -> None:
    assert not is_asking(sentence)


def test_questions_keeps_the_asking_sentences_in_order() -> None:
    focus = QueryFocus(FocusStrategy.QUESTIONS, min_words=10)
    assert focus(CHATTY) == "Do you also ship to Norway? Also, how long would delivery take?"


def test_last_question_keeps_only_the_last_asking_sentence() -> None:
    focus = QueryFocus("last_question", min_words=10)
    assert focus(CHATTY) == "Also, how long would delivery take?"


def test_a_short_question_keeps_the_sentence_naming_its_subject() -> None:
    message = (
        "Hello, I hope you are well. The sole of my hiking boots came off after two weeks "
        "in the Alps. Is that normal? We walked carefully the whole time."
    )
    expected = "The sole of my hiking boots came off after two weeks in the Alps. Is that normal?"
    assert QueryFocus("questions", min_words=10)(message) == expected
    assert QueryFocus("last_question", min_words=10)(message) == expected


def test_none_keeps_the_message() -> None:
    assert QueryFocus("none", min_words=0)(CHATTY) == CHATTY


def test_a_message_of_at_most_min_words_is_kept_whole() -> None:
    message = "I love the tent. Do you also ship to Norway?"
    assert QueryFocus("questions", min_words=10)(message) == message
    assert QueryFocus("questions", min_words=9)(message) == "Do you also ship to Norway?"


def test_a_message_where_nothing_asks_or_of_one_sentence_is_kept_whole() -> None:
    statements = "My tent arrived today. The pole is snapped. The box was crushed."
    one_long = "so i bought boots last week and the sole came off after one walk is that normal"
    focus = QueryFocus("questions", min_words=3)
    assert focus(statements) == statements
    assert focus(one_long) == one_long


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="min_words"):
        QueryFocus("questions", min_words=-1)
    with pytest.raises(ValueError, match="keywords"):
        QueryFocus("keywords")


def test_with_order_ids_takes_them_from_the_whole_message() -> None:
    route = Route(Intent.SHIPPING, 0.7, True)
    whole = f"My last order {ALICE_ORDER} was great. Do you ship to Norway?"
    assert with_order_ids(route, whole, ORDER_IDS).order_ids == (ALICE_ORDER,)
    assert with_order_ids(route, whole, ORDER_IDS).intent == Intent.SHIPPING


def test_by_default_a_turn_routes_and_searches_the_whole_message(rig: Rig) -> None:
    assert AssistantSettings().query_focus == "none"

    rig.turn(CHATTY)

    assert rig.router.seen == [CHATTY]
    assert rig.searcher.queries == [CHATTY]


def test_a_focused_turn_routes_and_searches_what_it_asks_but_answers_the_whole(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path)
    rig.settings = rig.settings.model_copy(update={"query_focus": "questions"})
    rig.orchestrator = Orchestrator(
        rig.settings,
        definition=SHOP,
        router=cast(SemanticRouter, rig.router),
        model=rig.model,
        searcher=rig.searcher,
        conversations=rig.store,
        lookup=rig.orchestrator.lookup,
    )
    message = CHATTY.replace("in March", f"in March (order {ALICE_ORDER})")

    try:
        events = rig.turn(message)
    finally:
        rig.store.close()

    focused = QueryFocus("questions", min_words=rig.settings.focus_min_words)(message)
    assert ALICE_ORDER not in focused
    assert rig.router.seen == [focused]
    assert rig.searcher.queries == [focused]
    assert [r.arguments for r in only(events, ToolResultEvent)] == [{"order_id": ALICE_ORDER}]
    assert last_user_message(rig.model.calls[0]).endswith(message)
