"""Whether a lookup message also asks what an article answers (``lookup_question``)."""

from __future__ import annotations

import pytest

from switchboard.assistant.definition import demo_definition
from switchboard.assistant.lookup_question import asks_beyond_status
from tests.unit.demo_shop import ORDER_IDS

pytestmark = pytest.mark.unit
LOOKUP = demo_definition("shop").lookup
assert LOOKUP is not None
WORDS = LOOKUP.status_pattern


@pytest.mark.parametrize(
    "message",
    [
        "Tracking says delivered yesterday but nothing is here. What now?",
        "LK-123456 has said in transit since monday. at what point do you do something",
        "Can I add a hat to order LK-123456? I placed it an hour ago.",
        "My parcel LK-123456 seems stuck. When should I contact you about it?",
        "returned the boots from LK-123456, how long until I see the money",
    ],
)
def test_a_question_beyond_the_status_is_noticed(message: str) -> None:
    assert asks_beyond_status(message, ORDER_IDS, WORDS)


@pytest.mark.parametrize(
    "message",
    [
        "Where is my order LK-123456?",
        "Has LK-123456 shipped yet?",
        "Any news on LK-123456? I'm waiting for my tent.",
        "Could you check order LK-123456 for me? I don't see a tracking number.",
        "Where is it and what's the tracking number?",
        "Where is LK-123456? I need it delivered today.",
        "What's going on with LK-123456? It never showed up.",
        "When will it arrive?",
        "tracking for LK-123456 has said 'in transit' since wednesday.",  # tells, asks nothing
    ],
)
def test_a_status_question_asks_nothing_beyond_it(message: str) -> None:
    assert not asks_beyond_status(message, ORDER_IDS, WORDS)


def test_the_order_number_alone_is_not_a_question() -> None:
    assert not asks_beyond_status("LK-123456?", ORDER_IDS, WORDS)


def test_without_status_words_any_question_asks_beyond() -> None:
    assert asks_beyond_status("Where is my order LK-123456?", ORDER_IDS, None)
    assert not asks_beyond_status("My order is LK-123456.", ORDER_IDS, None)
