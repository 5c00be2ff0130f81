"""A definition's ``[lookup]``: records fetched with its read tools (over HTTP, from a fake
Order API) and stated with its templates, which are sandboxed."""

from __future__ import annotations

import asyncio

import pytest

from switchboard.assistant.lookup import UNRENDERABLE, Lookup, LookupResult, LookupSpec
from switchboard.assistant.templates import Template, template_values
from switchboard.assistant.types import AnswerPath
from switchboard.orders.dataset import generate_dataset
from switchboard.orders.service import order_detail
from tests.unit.assistant_rig import (
    ALICE,
    ALICE_ORDER,
    ALICE_OTHER_ORDER,
    BOB,
    BOB_ORDER,
    ORDERS,
    UNAVAILABLE,
    FakeOrders,
    make_order,
    shop_tools,
)
from tests.unit.demo_shop import SHOP

pytestmark = pytest.mark.unit
assert SHOP.lookup is not None
SPEC: LookupSpec = SHOP.lookup

# What the shop says of orders of the demo dataset, one per kind of record
STATED = {
    "LK-100004": "Your order LK-100004 is cancelled.",
    "LK-100296": "Your order LK-100296 is lost: the carrier could not locate the parcel. It "
    "ships with DPD, tracking number 08778006394369. Latest update (22 February 2025, DPD "
    "customer service): Carrier investigation closed: the parcel could not be located.",
    "LK-100991": "Your order LK-100991 is in transit. It ships with DHL, tracking number "
    "JJD279401995305520340, estimated delivery 16 March 2025. Latest update (13 March 2025, "
    "Leipzig Hub, DE): Departed DHL sorting hub.",
}
FACTS_100991 = (
    "Order LK-100991 (placed 12 March 2025): status in transit.\n"
    "Items: 2 x Daypack 28 L, 1 x Alpine 2-person tent, 1 x Mid-cut hiking boots. "
    "Total: EUR 657.90.\n"
    "Carrier DHL, tracking JJD279401995305520340, estimated delivery 16 March 2025."
)


def run(lookup: Lookup, customer: str | None, ids: list[str]) -> LookupResult:
    return asyncio.run(lookup.run(customer, ids))


@pytest.fixture
def orders() -> FakeOrders:
    return FakeOrders(ORDERS)


@pytest.fixture
def lookup(orders: FakeOrders) -> Lookup:
    return Lookup(SPEC, shop_tools(orders))


def test_the_shop_states_each_kind_of_order_from_the_api_json() -> None:
    by_id = {order.order_id: order for order in generate_dataset().orders}
    found, facts = Template(SPEC.found), Template(SPEC.facts or "")
    for order_id, said in STATED.items():
        values = template_values(order_detail(by_id[order_id]), {"order_id": order_id})
        assert found.text(values) == said
    values = template_values(order_detail(by_id["LK-100991"]), {})
    assert facts.lines(values) == FACTS_100991


def test_named_orders_are_fetched_for_the_verified_customer(
    lookup: Lookup, orders: FakeOrders
) -> None:
    result = run(lookup, ALICE, [ALICE_ORDER, BOB_ORDER])

    assert orders.calls == [("get_order", ALICE, ALICE_ORDER), ("get_order", ALICE, BOB_ORDER)]
    assert result.answer.startswith(f"Your order {ALICE_ORDER} is in transit.")
    assert f"I couldn't find order {BOB_ORDER} on your account." in result.answer
    assert [event.data is None for event in result.events] == [False, True]
    assert [event.arguments for event in result.events] == [
        {"order_id": ALICE_ORDER},  # never the customer: the server fills it
        {"order_id": BOB_ORDER},
    ]
    assert len(result.prompt_blocks) == 1
    assert "status in transit" in result.prompt_blocks[0]
    assert not result.unavailable


def test_at_most_max_ids_are_looked_up(lookup: Lookup, orders: FakeOrders) -> None:
    run(lookup, ALICE, [f"LK-10000{n}" for n in range(SPEC.max_ids + 2)])
    assert len(orders.calls) == SPEC.max_ids


def test_without_a_number_the_recent_orders_are_listed(lookup: Lookup) -> None:
    result = run(lookup, ALICE, [])

    assert result.answer == (
        f"Here are your most recent orders: {ALICE_ORDER}: in transit; "
        f"{ALICE_OTHER_ORDER}: processing. Tell me the order number if you'd like the "
        "details of one of them."
    )
    [event] = result.events
    assert (event.tool, event.arguments) == ("list_orders", {})


def test_a_list_of_one_is_looked_up_in_full(lookup: Lookup, orders: FakeOrders) -> None:
    result = run(lookup, BOB, [])
    assert orders.calls == [("list_orders", BOB), ("get_order", BOB, BOB_ORDER)]
    assert result.answer.startswith(f"Your order {BOB_ORDER} is delivered.")


def test_no_orders_and_an_unknown_customer_say_so(orders: FakeOrders) -> None:
    orders.orders["C-NONE"] = []
    lookup = Lookup(SPEC, shop_tools(orders))
    assert run(lookup, "C-NONE", []).answer == "I don't see any orders on your account yet."
    assert run(lookup, "C-UNKNOWN", []).answer == "I don't see any orders on your account yet."


def test_an_api_that_does_not_answer_is_said_never_guessed(
    lookup: Lookup, orders: FakeOrders
) -> None:
    orders.down = True
    result = run(lookup, ALICE, [ALICE_ORDER])

    assert result.unavailable
    assert result.answer == SPEC.unavailable
    [event] = result.events
    assert (event.ok, event.error, event.data) == (False, UNAVAILABLE, None)
    assert "in transit" not in " ".join(result.prompt_blocks)


def test_a_template_that_fails_on_the_data_is_not_a_failed_turn(orders: FakeOrders) -> None:
    spec = SPEC.model_copy(update={"found": "{{ total_eur | date('%Y') | int + shipment }}"})
    result = run(Lookup(spec, shop_tools(orders)), ALICE, [ALICE_ORDER])
    assert result.unavailable
    assert result.answer == SPEC.unavailable
    assert result.events[0].error == UNRENDERABLE


def test_templates_are_sandboxed_and_lenient() -> None:
    with pytest.raises(ValueError, match="template error"):
        Template("{{ ''.__class__.__mro__[1].__subclasses__() }}").text({})
    with pytest.raises(ValueError, match="template error"):
        Template("{% if %}")
    assert Template("[{{ missing }}]").text({}) == "[]"
    assert Template("{{ day | date }}").text({"day": "2026-12-07"}) == "07 December 2026"
    assert Template("{{ at | date('%H:%M') }}").text({"at": "2026-12-07T09:30:00Z"}) == "09:30"
    assert Template("a\n\n  b  \n").lines({}) == "a\nb"
    assert template_values([1, 2], {"q": "x"}) == {"q": "x", "items": [1, 2]}


def test_a_record_of_another_customer_looks_missing(lookup: Lookup) -> None:
    other = make_order("LK-999999", BOB, ORDERS[BOB][0].status, "X1", "Tent")
    ORDERS_WITH = {**ORDERS, BOB: [*ORDERS[BOB], other]}
    result = run(Lookup(SPEC, shop_tools(FakeOrders(ORDERS_WITH))), ALICE, ["LK-999999"])
    assert result.events[0].data is None
    assert "X1" not in result.answer + " ".join(result.prompt_blocks)


def test_a_turn_recorded_as_order_status_reads_back_as_a_lookup() -> None:
    assert AnswerPath("order_status") is AnswerPath.LOOKUP
    assert AnswerPath("lookup").value == "lookup"
