"""The shop assistant's confirmed write, end to end: the default model in the engine, the
real router and the Order API as its own process, called through the shop's declared
tools. A processing order is cancelled only by the turn that confirms; a shipped one gets
the API's 409 said plainly."""

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
    DoneEvent,
    TokenEvent,
    ToolResultEvent,
    TurnEvent,
)
from switchboard.orders import generate_dataset
from switchboard.orders.types import OrderStatus
from tests.integration.shop_rig import demo_shop, shop_settings

pytestmark = pytest.mark.integration

ARTICLES = ("cancel-order.md", "change-order.md")
DATASET = generate_dataset()


def order_of(customer_id: str, status: OrderStatus) -> str:
    return next(
        o.order_id for o in DATASET.orders if o.customer_id == customer_id and o.status is status
    )


CUSTOMER = "C1019"  # has a processing and a shipped order
PROCESSING = order_of(CUSTOMER, OrderStatus.PROCESSING)
SHIPPED = order_of(CUSTOMER, OrderStatus.SHIPPED)


class Served:
    """The shop assistant and the one event loop its Order API clients live on."""

    def __init__(self, assistants: Assistants) -> None:
        self.assistants = assistants
        self.assistant = assistants.get("shop")
        self.loop = asyncio.new_event_loop()

    def turn(self, message: str, session: str | None = None) -> list[TurnEvent]:
        async def drain() -> list[TurnEvent]:
            request = TurnRequest(CUSTOMER, message, session)
            return [event async for event in self.assistant.orchestrator.turn(request)]

        return self.loop.run_until_complete(drain())

    def status(self, order_id: str) -> str:
        async def read() -> str:
            orders = self.assistants.orders
            assert orders is not None
            order = await orders.get_order(CUSTOMER, order_id)
            assert order is not None
            return order.status.value

        return self.loop.run_until_complete(read())

    def close(self) -> None:
        self.loop.run_until_complete(self.assistants.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def shop(default_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    settings = shop_settings(tmp_path_factory.mktemp("write-tools"))
    with demo_shop(settings, default_model_path, ARTICLES) as parts:
        model = LocalChatModel(parts.engine)
        assistants = open_assistants(settings, model, parts.knowledge, orders=parts.order_client())
        served = Served(assistants)
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


def writes(events: list[TurnEvent]) -> list[ToolResultEvent]:
    return [e for e in events if isinstance(e, ToolResultEvent) and e.tool == "cancel_order"]


def test_a_processing_order_is_cancelled_only_after_yes(shop: Served) -> None:
    asked = shop.turn(f"Please cancel order {PROCESSING}")
    text = text_of(asked)
    assert f"I can cancel order {PROCESSING} for you. Shall I go ahead?" in text, text
    assert "processing" in text  # its status, from the Order API
    assert writes(asked) == []
    assert done_of(asked).answer_path is AnswerPath.ACTION
    assert shop.status(PROCESSING) == "processing"

    confirmed = shop.turn("yes", session=done_of(asked).session_id)
    [result] = writes(confirmed)
    assert result.ok
    assert text_of(confirmed) == f"Done: order {PROCESSING} is cancelled."
    assert shop.status(PROCESSING) == "cancelled"


def test_a_shipped_order_gets_the_apis_answer(shop: Served) -> None:
    asked = shop.turn(f"Please cancel order {SHIPPED}")
    assert "Shall I go ahead?" in text_of(asked), text_of(asked)
    confirmed = shop.turn("confirm", session=done_of(asked).session_id)
    [result] = writes(confirmed)
    assert not result.ok
    assert result.error == "refused"
    assert text_of(confirmed) == (
        f"I couldn't cancel order {SHIPPED}: The order '{SHIPPED}' is shipped and can no "
        "longer be cancelled."
    )
    assert shop.status(SHIPPED) == "shipped"
