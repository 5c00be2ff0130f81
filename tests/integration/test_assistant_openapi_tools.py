"""A definition whose tools are imported from the live Order API's own OpenAPI document
(``/openapi.json``, fetched from the running service, so it cannot drift): its read tool
called against that service for the verified customer, with the token the server reads
from its environment; without the token, the assistant does not start."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from switchboard.assistant.definition import DefinitionError, load_definition
from switchboard.assistant.service import open_tools
from switchboard.orders.types import OrderStatus
from tests.integration.test_order_client_live import DATASET, TOKEN, live_order_api

pytestmark = pytest.mark.integration

DEFINITION = """
title = "Orders"
collection = "orders"
end_user = "customer"

[tools_openapi]
file = "orders.openapi.json"
base_url = "{url}"
operations = ["get_order", "list_orders"]
end_user = "customer_id"
secret_env = "ORDERS_TOKEN"
secret_header = "Authorization"
secret_prefix = "Bearer "

[prompts]
grounded = "Answer from the sources and tool results."
small_talk = "Be brief."

[replies]
out_of_scope = "Only orders."
not_sure = "Not sure."
ticket_created = "Ticket {{ticket_id}}."
"""


@pytest.fixture
def definition_path(tmp_path: Path) -> Iterator[Path]:
    with live_order_api(tmp_path) as (_, _, url):
        document = httpx.get(f"{url}/openapi.json", timeout=5).text
        (tmp_path / "orders.openapi.json").write_text(document)
        path = tmp_path / "orders.toml"
        path.write_text(DEFINITION.format(url=url))
        yield path


def test_an_imported_read_tool_calls_the_live_order_api(definition_path: Path) -> None:
    definition = load_definition(definition_path)
    order = next(o for o in DATASET.orders if o.status is OrderStatus.DELIVERED)

    async def scenario() -> None:
        tools = open_tools(definition, "http://127.0.0.1:9", {"ORDERS_TOKEN": TOKEN})
        assert tools is not None
        async with tools:
            assert {tool.spec.name for tool in tools} == {"get_order", "list_orders"}
            assert "customer_id" not in str(tools.openai_tools())  # the server fills it
            found = await tools["get_order"].call(
                {"order_id": order.order_id}, end_user=order.customer_id
            )
            assert found.ok, found.error
            assert found.data["order_id"] == order.order_id
            assert found.data["status"] == "delivered"
            listing = await tools["list_orders"].call({}, end_user=order.customer_id)
            assert order.order_id in {o["order_id"] for o in listing.data["orders"]}

    asyncio.run(scenario())


def test_without_its_secret_the_assistant_does_not_start(definition_path: Path) -> None:
    definition = load_definition(definition_path)
    with pytest.raises(DefinitionError) as caught:
        open_tools(definition, "http://127.0.0.1:9", {"OTHER": "x"})
    problem = "assistant orders: tool get_order: the secret ORDERS_TOKEN is not set"
    assert str(caught.value) == problem
