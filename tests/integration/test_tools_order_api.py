"""The demo shop's declared tools against the real Order API, served by uvicorn on
loopback over a temporary database: reads, the verified end user filled in by the server
(the model's own ``customer_id`` ignored), and the write that runs only when confirmed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard.demo import shop_tools_path
from switchboard.orders.db import OrderDB
from switchboard.orders.types import OrderStatus
from switchboard.tools import ToolFailure, ToolRegistry, load_tool_file
from tests.integration.test_order_client_live import DATASET, TOKEN, live_order_api

pytestmark = pytest.mark.integration

SECRETS = {"SWITCHBOARD_ORDERS__SERVICE_TOKEN": TOKEN}


def order_with(status: OrderStatus, customer_id: str | None = None) -> tuple[str, str]:
    order = next(
        o for o in DATASET.orders if o.status is status and customer_id in (None, o.customer_id)
    )
    return order.customer_id, order.order_id


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[OrderDB, str]]:
    with live_order_api(tmp_path) as (db, _, url):
        yield db, url


def registry(url: str) -> ToolRegistry:
    """The shop's tools; built inside the event loop that calls them (httpx's rule)."""
    specs = load_tool_file(shop_tools_path(), base_url=url)
    return ToolRegistry(specs, allowed_hosts={"127.0.0.1"}, secrets=SECRETS)


def test_reads_run_for_the_verified_customer_only(live: tuple[OrderDB, str]) -> None:
    _, url = live
    owner, order_id = order_with(OrderStatus.DELIVERED)
    other = next(c.customer_id for c in DATASET.customers if c.customer_id != owner)

    async def scenario() -> None:
        async with registry(url) as tools:
            await steps(tools)

    async def steps(tools: ToolRegistry) -> None:
        listing = await tools["list_orders"].call({}, end_user=owner)
        assert listing.ok
        assert listing.status == 200
        assert order_id in {o["order_id"] for o in listing.data["orders"]}
        assert listing.flags == ()

        mine = await tools["get_order"].call(f'{{"order_id": "{order_id}"}}', end_user=owner)
        assert mine.ok
        assert mine.data["status"] == "delivered"
        assert mine.data["customer_id"] == owner

        # the model names the owner, the verified user is someone else: the server's wins
        probe = await tools["get_order"].call(
            {"order_id": order_id, "customer_id": owner}, end_user=other
        )
        assert not probe.ok
        assert probe.status == 404
        assert probe.failure is ToolFailure.REFUSED
        assert probe.error is not None
        assert f"The order '{order_id}' does not exist." in probe.error
        assert probe.flags == ("ignored the model's 'customer_id': the server fills it",)

        anonymous = await tools["list_orders"].call({}, end_user=None)
        assert anonymous.failure is ToolFailure.NO_END_USER
        assert anonymous.status is None

    asyncio.run(scenario())


def test_cancel_runs_only_when_confirmed(live: tuple[OrderDB, str]) -> None:
    db, url = live
    owner, order_id = order_with(OrderStatus.PROCESSING)

    async def scenario() -> None:
        async with registry(url) as tools:
            await steps(tools)

    async def steps(tools: ToolRegistry) -> None:
        cancel = tools["cancel_order"]
        asked = await cancel.call({"order_id": order_id}, end_user=owner)
        assert not asked.ok
        assert asked.failure is ToolFailure.NEEDS_CONFIRMATION
        assert asked.data == {"order_id": order_id}  # what to put to the customer
        stored = db.order(owner, order_id)
        assert stored is not None
        assert stored.status is OrderStatus.PROCESSING

        done = await cancel.call({"order_id": order_id}, end_user=owner, confirmed=True)
        assert done.ok
        assert done.data["status"] == "cancelled"
        stored = db.order(owner, order_id)
        assert stored is not None
        assert stored.status is OrderStatus.CANCELLED

    asyncio.run(scenario())


def test_a_shipped_order_is_a_refusal_not_an_exception(
    live: tuple[OrderDB, str],
) -> None:
    db, url = live
    owner, order_id = order_with(OrderStatus.SHIPPED)
    other_owner, other_order = order_with(OrderStatus.PROCESSING)
    intruder = next(c.customer_id for c in DATASET.customers if c.customer_id != other_owner)

    async def scenario() -> None:
        async with registry(url) as tools:
            await steps(tools)

    async def steps(tools: ToolRegistry) -> None:
        shipped = await tools["cancel_order"].call(
            {"order_id": order_id}, end_user=owner, confirmed=True
        )
        assert not shipped.ok
        assert shipped.status == 409
        assert shipped.failure is ToolFailure.REFUSED
        assert shipped.error is not None
        assert "is shipped and can no longer be cancelled" in shipped.error

        theirs = await tools["cancel_order"].call(
            {"order_id": other_order, "customer_id": other_owner},
            end_user=intruder,
            confirmed=True,
        )
        assert theirs.status == 404

    asyncio.run(scenario())
    for customer_id, order_id_, status in (
        (owner, order_id, OrderStatus.SHIPPED),
        (other_owner, other_order, OrderStatus.PROCESSING),
    ):
        stored = db.order(customer_id, order_id_)
        assert stored is not None
        assert stored.status is status
