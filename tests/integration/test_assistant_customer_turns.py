"""Turns that were lost before the articles were read, under the real assistant: the
default model in the engine, demo articles ingested with the bundled embedding model, the
real router, guard and Order API (its own process). Quoted answers (the default mode).

A customer writing in German is offered a colleague in German, not refused; an order
message that also asks what to do gets the article after the order's status, a plain
status question the status alone. The phrasings are written for this test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard.assistant.types import (
    AnswerPath,
    CitationEvent,
    HandoffEvent,
    HandoffReason,
)
from tests.integration.shop_rig import ServedShop, served_shop, shop_settings
from tests.unit.assistant_rig import done_of, text_of
from tests.unit.demo_shop import OTHER_LANGUAGE

pytestmark = pytest.mark.integration

CUSTOMER = "C1002"  # has orders, LK-101032 among them (in transit)
ARTICLES = ("lost-parcel.md", "delayed-parcel.md", "returns-window.md", "shipping-methods.md")


@pytest.fixture(scope="module")
def assistant(
    default_model_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedShop]:
    settings = shop_settings(tmp_path_factory.mktemp("customer-turns"))
    with served_shop(settings, default_model_path, ARTICLES, CUSTOMER) as served:
        yield served


def test_a_german_question_is_offered_a_colleague_in_german(assistant: ServedShop) -> None:
    events = assistant.turn(
        "Guten Tag, ich habe letzte Woche Wanderschuhe bei Ihnen gekauft. Kann ich sie "
        "noch umtauschen, wenn sie mir zu klein sind?",
    )

    assert text_of(events).startswith(OTHER_LANGUAGE["de"])
    [handoff] = [e for e in events if isinstance(e, HandoffEvent)]
    assert handoff.reason is HandoffReason.LANGUAGE
    assert done_of(events).answer_path is AnswerPath.LANGUAGE


def test_an_order_message_that_asks_when_you_act_gets_the_article(
    assistant: ServedShop,
) -> None:
    events = assistant.turn(
        "LK-101032 has been stuck on the same tracking scan for ages, nothing moves. "
        "at what point do you look into it",
    )

    text = text_of(events)
    assert "LK-101032" in text  # the status first
    cited = [e.article_id for e in events if isinstance(e, CitationEvent)]
    assert cited, text
    assert set(cited) <= {"delayed-parcel.md", "lost-parcel.md"}, text
    assert done_of(events).answer_path is AnswerPath.QUOTED


def test_a_plain_status_question_gets_the_status_alone(assistant: ServedShop) -> None:
    events = assistant.turn("Could you look up LK-101032 for me? Is it on its way?")

    assert "LK-101032" in text_of(events)
    assert [e for e in events if isinstance(e, CitationEvent)] == []
    assert done_of(events).answer_path is AnswerPath.LOOKUP
