"""The shop assistant's confirmed write, end to end: the default model in the engine, the
real router and the Order API as its own process, called through the shop's declared
tools. A processing order is cancelled only by the turn that confirms; a shipped one gets
the API's 409 said plainly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard.assistant.types import (
    AnswerPath,
    ToolResultEvent,
    TurnEvent,
)
from switchboard.orders import generate_dataset
from switchboard.orders.types import OrderStatus
from tests.integration.shop_rig import ServedShop, served_shop, shop_settings
from tests.unit.assistant_rig import done_of, text_of

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


def status(served: ServedShop, order_id: str) -> str:
    async def read() -> str:
        orders = served.assistants.orders
        assert orders is not None
        order = await orders.get_order(CUSTOMER, order_id)
        assert order is not None
        return order.status.value

    return served.loop.run_until_complete(read())


@pytest.fixture(scope="module")
def shop(
    default_model_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedShop]:
    settings = shop_settings(tmp_path_factory.mktemp("write-tools"))
    with served_shop(settings, default_model_path, ARTICLES, CUSTOMER) as served:
        yield served


def writes(events: list[TurnEvent]) -> list[ToolResultEvent]:
    return [e for e in events if isinstance(e, ToolResultEvent) and e.tool == "cancel_order"]


def test_a_processing_order_is_cancelled_only_after_yes(shop: ServedShop) -> None:
    asked = shop.turn(f"Please cancel order {PROCESSING}")
    text = text_of(asked)
    assert f"I can cancel order {PROCESSING} for you. Shall I go ahead?" in text, text
    assert "processing" in text  # its status, from the Order API
    assert writes(asked) == []
    assert done_of(asked).answer_path is AnswerPath.ACTION
    assert status(shop, PROCESSING) == "processing"

    confirmed = shop.turn("yes", session=done_of(asked).session_id)
    [result] = writes(confirmed)
    assert result.ok
    assert text_of(confirmed) == f"Done: order {PROCESSING} is cancelled."
    assert status(shop, PROCESSING) == "cancelled"


def test_a_shipped_order_gets_the_apis_answer(shop: ServedShop) -> None:
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
    assert status(shop, SHIPPED) == "shipped"
