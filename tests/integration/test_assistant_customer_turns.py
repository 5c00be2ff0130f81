"""Turns that were lost before the articles were read, under the real assistant: the
default model in the engine, demo articles ingested with the bundled embedding model, the
real router, guard and Order API (its own process). Quoted answers (the default mode).

A customer writing in German is offered a colleague in German, not refused; an order
message that also asks what to do gets the article after the order's status, a plain
status question the status alone. The phrasings are written for this test."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard.assistant.local_model import LocalChatModel
from switchboard.assistant.orchestrator import TurnRequest
from switchboard.assistant.service import Assistants, open_assistants
from switchboard.assistant.types import (
    AnswerPath,
    CitationEvent,
    DoneEvent,
    HandoffEvent,
    HandoffReason,
    TokenEvent,
    TurnEvent,
)
from tests.integration.shop_rig import demo_shop, shop_settings
from tests.unit.demo_shop import OTHER_LANGUAGE

pytestmark = pytest.mark.integration

CUSTOMER = "C1002"  # has orders, LK-101032 among them (in transit)
ARTICLES = ("lost-parcel.md", "delayed-parcel.md", "returns-window.md", "shipping-methods.md")


class Served:
    """The assistant and the one event loop its Order API client lives on."""

    def __init__(self, assistants: Assistants) -> None:
        self.assistants = assistants
        self.assistant = assistants.get("shop")
        self.loop = asyncio.new_event_loop()

    def turn(self, message: str) -> list[TurnEvent]:
        async def drain() -> list[TurnEvent]:
            request = TurnRequest(CUSTOMER, message)
            return [event async for event in self.assistant.orchestrator.turn(request)]

        return self.loop.run_until_complete(drain())

    def close(self) -> None:
        self.loop.run_until_complete(self.assistants.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def assistant(
    default_model_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    settings = shop_settings(tmp_path_factory.mktemp("customer-turns"))
    with demo_shop(settings, default_model_path, ARTICLES) as shop:
        model = LocalChatModel(shop.engine)
        orders = shop.order_client()
        served = Served(open_assistants(settings, model, shop.knowledge, orders=orders))
        try:
            yield served
        finally:
            served.close()


def text_of(events: list[TurnEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TokenEvent))


def done_of(events: list[TurnEvent]) -> DoneEvent:
    done = events[-1]
    assert isinstance(done, DoneEvent)
    return done


def test_a_german_question_is_offered_a_colleague_in_german(assistant: Served) -> None:
    events = assistant.turn(
        "Guten Tag, ich habe letzte Woche Wanderschuhe bei Ihnen gekauft. Kann ich sie "
        "noch umtauschen, wenn sie mir zu klein sind?",
    )

    assert text_of(events).startswith(OTHER_LANGUAGE["de"])
    [handoff] = [e for e in events if isinstance(e, HandoffEvent)]
    assert handoff.reason is HandoffReason.LANGUAGE
    assert done_of(events).answer_path is AnswerPath.LANGUAGE


def test_an_order_message_that_asks_when_you_act_gets_the_article(assistant: Served) -> None:
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


def test_a_plain_status_question_gets_the_status_alone(assistant: Served) -> None:
    events = assistant.turn("Could you look up LK-101032 for me? Is it on its way?")

    assert "LK-101032" in text_of(events)
    assert [e for e in events if isinstance(e, CitationEvent)] == []
    assert done_of(events).answer_path is AnswerPath.ORDER_STATUS
