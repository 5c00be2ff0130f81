"""The Order API as the assistant's tool: look up the customer's orders, render the facts.

Order facts reach the customer only as rendered here from the Order API's answer, never as
model output: ``OrderLookup.answer`` is the status sentence the assistant says, and
``prompt_blocks`` are the same facts given to the model as context for anything else it
says. The customer id always comes from the session, never from the message or the model,
so a customer cannot read someone else's order; a missing order and another customer's
order get the same answer. When the Order API is down the lookup says so and offers a
human handoff: it never guesses a status.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from switchboard.assistant.order_client import OrderSummary
from switchboard.assistant.types import ToolResultEvent
from switchboard.errors import OrderServiceUnavailable
from switchboard.orders.types import Order, OrderStatus

MAX_ORDERS_PER_TURN = 3  # order ids looked up from one message
RECENT_ORDERS_LISTED = 5

UNAVAILABLE = "order_service_unavailable"
UNAVAILABLE_ANSWER = (
    "I can't reach our order system right now, so I can't check your order. "
    "I won't guess its status: I can hand this over to a colleague, who will check it "
    "and get back to you."
)


class OrderSource(Protocol):
    """What the tool needs of ``OrderClient``."""

    async def list_orders(self, customer_id: str) -> list[OrderSummary]: ...

    async def get_order(self, customer_id: str, order_id: str) -> Order | None: ...


@dataclass(frozen=True)
class OrderLookup:
    answer: str
    events: tuple[ToolResultEvent, ...]
    prompt_blocks: tuple[str, ...]
    unavailable: bool = False


def status_label(status: OrderStatus) -> str:
    """``in_transit`` → ``in transit``: how the assistant names a status."""
    return status.value.replace("_", " ")


async def look_up_orders(
    source: OrderSource, customer_id: str, order_ids: Sequence[str]
) -> OrderLookup:
    """Each named order (at most ``MAX_ORDERS_PER_TURN``), or the customer's recent orders
    when the message names none."""
    try:
        if order_ids:
            return await _named(source, customer_id, order_ids[:MAX_ORDERS_PER_TURN])
        return await _recent(source, customer_id)
    except OrderServiceUnavailable:
        tool, arguments = (
            ("get_order", {"order_id": order_ids[0]}) if order_ids else ("list_orders", {})
        )
        event = ToolResultEvent(tool=tool, arguments=arguments, ok=False, error=UNAVAILABLE)
        return OrderLookup(
            answer=UNAVAILABLE_ANSWER,
            events=(event,),
            prompt_blocks=("The order system is unavailable: no order details are known.",),
            unavailable=True,
        )


async def _named(source: OrderSource, customer_id: str, order_ids: Sequence[str]) -> OrderLookup:
    sentences: list[str] = []
    events: list[ToolResultEvent] = []
    found: list[Order] = []
    for order_id in order_ids:
        order = await source.get_order(customer_id, order_id)
        events.append(
            ToolResultEvent(
                tool="get_order",
                arguments={"order_id": order_id},
                ok=True,
                data=None if order is None else order_json(order),
            )
        )
        if order is None:
            sentences.append(
                f"I couldn't find order {order_id} on your account. Please check the order "
                "number in your confirmation email (it looks like LK-123456)."
            )
        else:
            found.append(order)
            sentences.append(describe_order(order))
    blocks = tuple(order_facts(o) for o in found) or (
        "No order with the number the customer gave exists on their account.",
    )
    return OrderLookup(" ".join(sentences), tuple(events), blocks)


async def _recent(source: OrderSource, customer_id: str) -> OrderLookup:
    """The recent orders; a customer with only one gets its details at once."""
    orders = (await source.list_orders(customer_id))[:RECENT_ORDERS_LISTED]
    if len(orders) == 1:
        return await _named(source, customer_id, [orders[0].order_id])
    event = ToolResultEvent(
        tool="list_orders",
        arguments={},
        ok=True,
        data={"orders": [summary_json(s) for s in orders]},
    )
    if not orders:
        answer = "I don't see any orders on your account yet."
        return OrderLookup(answer, (event,), ("The customer has no orders.",))
    lines = [f"{s.order_id}: {status_label(s.status)}" for s in orders]
    answer = (
        "Here are your most recent orders: "
        + "; ".join(lines)
        + ". Tell me the order number if you'd like the details of one of them."
    )
    return OrderLookup(answer, (event,), ("Recent orders: " + "; ".join(lines),))


def describe_order(order: Order) -> str:
    """One or two sentences a customer can act on; every fact from the order record."""
    label = status_label(order.status)
    text = f"Your order {order.order_id} is {label}."
    if order.status is OrderStatus.LOST:
        text = f"Your order {order.order_id} is lost: the carrier could not locate the parcel."
    shipment = order.shipment
    if shipment is not None:
        text += f" It ships with {shipment.carrier}, tracking number {shipment.tracking_number}"
        if order.status not in _ENDED:
            text += f", estimated delivery {shipment.estimated_delivery:%d %B %Y}"
        text += "."
        if shipment.events:
            last = shipment.events[-1]
            text += f" Latest update ({last.at:%d %B %Y}, {last.location}): {last.description}."
    return text


_ENDED = frozenset(
    {OrderStatus.DELIVERED, OrderStatus.RETURNED, OrderStatus.CANCELLED, OrderStatus.LOST}
)


def order_facts(order: Order) -> str:
    """The order as a context block for the model."""
    items = ", ".join(f"{i.qty} x {i.name}" for i in order.items)
    placed = f"{order.placed_at:%d %B %Y}"
    lines = [
        f"Order {order.order_id} (placed {placed}): status {status_label(order.status)}.",
        f"Items: {items}. Total: EUR {order.total_eur:.2f}.",
    ]
    if order.shipment is not None:
        s = order.shipment
        lines.append(
            f"Carrier {s.carrier}, tracking {s.tracking_number}, estimated delivery "
            f"{s.estimated_delivery:%d %B %Y}."
        )
    return "\n".join(lines)


def order_json(order: Order) -> dict[str, Any]:
    body = _jsonable(dataclasses.asdict(order))
    body["total_eur"] = order.total_eur
    return body


def summary_json(summary: OrderSummary) -> dict[str, Any]:
    return _jsonable(dataclasses.asdict(summary))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, OrderStatus):
        return value.value
    return value
