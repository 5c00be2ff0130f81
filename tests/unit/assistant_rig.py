"""Fakes for driving ``Orchestrator.turn()``: a scripted router, a chat model that streams
scripted pieces (a token of its counter is a whitespace-separated word), an in-memory Order
API, a searcher of hand-made hits, and a real ``ConversationStore`` on tmp_path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from switchboard.assistant.answerability import AnswerabilityCheck
from switchboard.assistant.conversations import ConversationStore
from switchboard.assistant.evidence import EvidenceSelector
from switchboard.assistant.lookup import Lookup, Tools
from switchboard.assistant.orchestrator import (
    Orchestrator,
    TurnRequest,
    TurnState,
)
from switchboard.assistant.order_client import OrderClient
from switchboard.assistant.quoting import Quoter
from switchboard.assistant.router import SemanticRouter
from switchboard.assistant.service import ORDERS_TOKEN, Assistant, Assistants
from switchboard.assistant.types import (
    Delta,
    DoneEvent,
    Message,
    Route,
    TokenEvent,
    TurnEvent,
)
from switchboard.config import AssistantSettings
from switchboard.errors import OrderServiceUnavailable, UpstreamError
from switchboard.orders.service import order_detail, order_summary
from switchboard.orders.types import Event, Item, Order, OrderStatus, Shipment
from switchboard.rag.types import Chunk, SearchHit, StoredChunk
from switchboard.stages.stage import Pipeline
from switchboard.tools import ToolRegistry
from tests.unit.demo_shop import ORDER_IDS, SHOP, Intent, action_of

ALICE = "C-1001"
BOB = "C-2002"
ALICE_ORDER = "LK-100214"
BOB_ORDER = "LK-200555"
ALICE_TRACKING = "JD014600003828"
ALICE_OTHER_ORDER = "LK-100300"
BOB_TRACKING = "ZZ9988776655"
BOB_ITEM = "Summit Expedition Tent"
MAX_TOKENS = 64
ORDERS_URL = "http://orders.test"
RETURNS_ANSWER = ("Returns are accepted for ", "30 days", " [1].")  # a marker comes whole
UNAVAILABLE = "unavailable"  # the tool result's error when the Order API does not answer
assert SHOP.lookup is not None
UNAVAILABLE_ANSWER = SHOP.lookup.unavailable
STATUS_LABELS = tuple(status.value.replace("_", " ") for status in OrderStatus)


# -- fakes -----------------------------------------------------------------------------------


class FakeRouter:
    """Routes every message as ``script`` says (the next queued route, else ``default``);
    order ids are found in the message as the real router finds them."""

    order_ids = ORDER_IDS

    def __init__(self, default: Route) -> None:
        self.default = default
        self.queue: list[Route] = []
        self.seen: list[str] = []

    def route(self, message: str) -> Route:
        self.seen.append(message)
        scripted = self.queue.pop(0) if self.queue else self.default
        return Route(
            scripted.intent,
            scripted.confidence,
            scripted.confident,
            order_ids=ORDER_IDS.find(message),
            action=scripted.action,
        )


def route(intent: str, *, confident: bool = True, confidence: float | None = None) -> Route:
    """A route to one of the shop's intents, with what its definition does with it."""
    score = confidence if confidence is not None else 0.8 if confident else 0.3
    return Route(intent, score, confident, action=action_of(intent))


class FakeModel:
    """Streams the next scripted reply piece by piece, then a last delta with usage.
    Counts a prompt's tokens as its words; records every call's messages and arguments."""

    name = "fake-chat"
    supports_tools = False

    def __init__(self, max_model_len: int = 4096) -> None:
        self.max_model_len = max_model_len
        self.replies: list[Sequence[str | Delta]] = []  # a Delta piece: e.g. tool calls
        self.default: Sequence[str | Delta] = RETURNS_ANSWER
        self.calls: list[dict[str, Any]] = []
        self.fail_after: int | None = None  # raise ``failure`` after this many pieces
        self.failure: Exception = UpstreamError("the model server broke off the stream")

    def count_messages(
        self, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]] | None = None
    ) -> int:
        return sum(len(str(m["content"]).split()) for m in messages)

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str] = (),
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> AsyncIterator[Delta]:
        self.calls.append(
            {
                "messages": [dict(m) for m in messages],
                "max_tokens": max_tokens,
                "temperature": temperature,
                "stop": list(stop),
                "tools": tools,
            }
        )
        pieces = self.replies.pop(0) if self.replies else self.default
        for number, piece in enumerate(pieces):
            if self.fail_after is not None and number == self.fail_after:
                raise self.failure
            yield piece if isinstance(piece, Delta) else Delta(text=piece)
        yield Delta(
            finish_reason="stop",
            prompt_tokens=self.count_messages(messages),
            completion_tokens=len(pieces),
        )


class FakeOrders(httpx.MockTransport):
    """The Order API over HTTP, answering from a dict of orders per customer (as the real
    service does: 404 for another customer's order); ``down`` makes every call fail to
    connect. ``calls`` records what was asked, for whom."""

    def __init__(self, orders: Mapping[str, Sequence[Order]]) -> None:
        super().__init__(self.handle)
        self.orders = {customer: list(rows) for customer, rows in orders.items()}
        self.down = False
        self.calls: list[tuple[str, ...]] = []
        self.closed = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("order service down", request=request)
        match request.url.path.strip("/").split("/"):
            case ["customers", customer, "orders"]:
                self.calls.append(("list_orders", customer))
                rows = [order_summary(o) for o in self.orders.get(customer, [])]
                return httpx.Response(200, json={"customer_id": customer, "orders": rows})
            case ["customers", customer, "orders", order_id]:
                self.calls.append(("get_order", customer, order_id))
                mine = self.orders.get(customer, [])
                order = next((o for o in mine if o.order_id == order_id), None)
                if order is None:
                    error = {"message": f"no order {order_id}", "code": "order_not_found"}
                    return httpx.Response(404, json={"error": error})
                return httpx.Response(200, json=order_detail(order))
        return httpx.Response(404, json={"error": {"message": "no such route"}})

    async def list_customers(self) -> list[dict[str, Any]]:
        """The demo's customer picker (``OrderClient.list_customers``)."""
        self.calls.append(("list_customers",))
        if self.down:
            raise OrderServiceUnavailable("order service down")
        return [
            {"customer_id": customer, "orders": [o.order_id for o in rows]}
            for customer, rows in self.orders.items()
        ]

    async def aclose(self) -> None:
        self.closed = True


def shop_tools(orders: FakeOrders) -> ToolRegistry:
    """The shop's declared tools, calling ``orders`` (no waiting between retries)."""
    specs = SHOP.tool_specs(ORDERS_URL)

    async def no_wait(_: float) -> None:
        return None

    secrets = {ORDERS_TOKEN: "test-token"}
    host = ORDERS_URL.removeprefix("http://")
    return ToolRegistry(
        specs, allowed_hosts={host}, secrets=secrets, transport=orders, sleep=no_wait
    )


def make_order(
    order_id: str, customer: str, status: OrderStatus, tracking: str, item: str
) -> Order:
    placed = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)
    shipment = Shipment(
        carrier="DHL",
        tracking_number=tracking,
        shipped_at=datetime(2024, 5, 3, 8, 0, tzinfo=UTC),
        estimated_delivery=date(2024, 5, 7),
        events=(Event(datetime(2024, 5, 4, 6, 0, tzinfo=UTC), "Kassel", "Parcel sorted"),),
    )
    return Order(order_id, customer, placed, status, (Item("SKU-1", item, 1, 89.5),), shipment)


ORDERS = {
    ALICE: [
        make_order(ALICE_ORDER, ALICE, OrderStatus.IN_TRANSIT, ALICE_TRACKING, "Rain Shell"),
        make_order(ALICE_OTHER_ORDER, ALICE, OrderStatus.PROCESSING, "JD000000000001", "Stove"),
    ],
    BOB: [make_order(BOB_ORDER, BOB, OrderStatus.DELIVERED, BOB_TRACKING, BOB_ITEM)],
}


def hit(article_id: str, title: str, text: str, dense: float) -> SearchHit:
    chunk = Chunk(article_id, 0, text, 0, len(text), len(text.split()))
    stored = StoredChunk(chunk, title, f"{article_id}.md", {"url": f"/help/{article_id}"})
    return SearchHit(stored, dense, {"dense": 1}, {"dense": dense})


RETURNS_HIT = hit(
    "returns-policy", "Returns policy", "Unworn items can be returned within 30 days.", 0.82
)
SHIPPING_HIT = hit("shipping-times", "Shipping times", "Standard shipping takes 3 days.", 0.61)


class FakeSearcher:
    def __init__(self, hits: Sequence[SearchHit] = (RETURNS_HIT, SHIPPING_HIT)) -> None:
        self.hits = list(hits)
        self.queries: list[str] = []

    def search(self, query: str) -> list[SearchHit]:
        self.queries.append(query)
        return list(self.hits)


class TickingClock:
    """Each reading is one millisecond after the previous one."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


class Rig:
    """An orchestrator over fresh fakes, and the fakes to script and inspect."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        max_model_len: int = 4096,
        stages: Pipeline[TurnState] | None = None,
        evidence: EvidenceSelector | None = None,
        answerability: AnswerabilityCheck | None = None,
        quoter: Quoter | None = None,
        order_question_relevance: float | None = None,
        tools: Tools | None = None,
        offer_tools: bool = True,
        store: ConversationStore | None = None,
    ) -> None:
        """``tools``: the orchestrator's (default: the shop's, over ``orders``); with
        ``offer_tools`` false it has none (records are still looked up)."""
        self.settings = AssistantSettings(
            relevance_floor=0.35,
            max_tokens=MAX_TOKENS,
            order_question_relevance=order_question_relevance,
        )
        self.router = FakeRouter(route(Intent.RETURNS_REFUNDS))
        self.model = FakeModel(max_model_len)
        self.searcher = FakeSearcher()
        self.orders = FakeOrders(ORDERS)
        self.tools = shop_tools(self.orders)
        assert SHOP.lookup is not None
        self.store = store or ConversationStore(
            tmp_path / "assistant.sqlite3", default_assistant=SHOP.name
        )
        self.orchestrator = Orchestrator(
            self.settings,
            definition=SHOP,
            router=cast(SemanticRouter, self.router),
            model=self.model,
            searcher=self.searcher,
            conversations=self.store,
            lookup=Lookup(SHOP.lookup, self.tools),
            stages=stages,
            evidence=evidence,
            answerability=answerability,
            quoter=quoter,
            tools=(self.tools if tools is None else tools) if offer_tools else None,
            clock=TickingClock(),
        )

    def turn(
        self, message: str, *, customer: str = ALICE, session: str | None = None
    ) -> list[TurnEvent]:
        return collect(self.orchestrator.turn(TurnRequest(customer, message, session)))


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rig = Rig(tmp_path)
    try:
        yield rig
    finally:
        rig.store.close()


def collect(events: AsyncIterator[TurnEvent]) -> list[TurnEvent]:
    async def drain() -> list[TurnEvent]:
        return [event async for event in events]

    return asyncio.run(drain())


def text_of(events: Sequence[TurnEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TokenEvent))


def only(events: Sequence[TurnEvent], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def done_of(events: Sequence[TurnEvent]) -> DoneEvent:
    assert isinstance(events[-1], DoneEvent)
    assert len(only(events, DoneEvent)) == 1
    return events[-1]


def kinds(events: Sequence[TurnEvent]) -> list[str]:
    return [e.kind for e in events]


def last_user_message(call: Mapping[str, Any]) -> str:
    messages = call["messages"]
    assert messages[-1]["role"] == "user"
    return str(messages[-1]["content"])


def served_shop(rig: Rig) -> Assistants:
    """The rig's orchestrator served as the shop assistant, the only one."""
    shop = Assistant(SHOP, rig.orchestrator, tools=rig.tools)
    return Assistants({"shop": shop}, "shop", rig.store, cast(OrderClient, rig.orders))
