"""The web chat widget's unit of behaviour: the page in headless Chromium against a FAKE
assistant backend (canned event streams shaped by ``switchboard.assistant.types``), so
what is tested is the widget alone: streaming, citations, order cards, handoffs, errors,
sessions, and the served assistants' looks."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from playwright.sync_api import Browser, Page, expect
from pydantic import BaseModel

from switchboard.api.web_routes import install_web
from switchboard.assistant.types import (
    CitationEvent,
    DoneEvent,
    HandoffEvent,
    HandoffReason,
    TokenEvent,
    ToolResultEvent,
    TurnEvent,
    event_json,
)
from switchboard_bench.uvicorn_thread import serve
from tests.integration import web_harness
from tests.integration.web_harness import (
    RECORD_ANSWER_TEXTS,
    browser_page,
    record_network_problems,
)
from tests.unit.demo_shop import Intent

pytestmark = pytest.mark.integration
chromium = web_harness.chromium  # the session's browser, a fixture

EVENT_DELAY_S = 0.12  # between events, so the page visibly streams
ARTICLE_URL = "https://help.larkspur.example/articles/returns-and-refunds"
ARTICLE_TITLE = "Returns and refunds"
POLICY_TOKENS = (
    "You can return unused gear ",
    "within 30 days of delivery — ",
    "free of charge [1]",
    ". Refunds reach your card ",
    "within 5 business days.",
)
POLICY_ANSWER = "".join(POLICY_TOKENS)
TENT_URLS = (
    "https://help.larkspur.example/articles/ridgeline-tent",
    "https://help.larkspur.example/articles/summit-tent",
)
TENT_ANSWER = "Both tents are waterproof [1, 2] and pack small [1,2]."
TICKET_ID = "TCK-0042"
NOT_FOUND_ANSWER = "I couldn't find order LK-999999 on your account."
ORDER: dict[str, Any] = {
    "order_id": "LK-100214",
    "customer_id": "C1001",
    "placed_at": "2026-11-18T09:30:00Z",
    "status": "in_transit",
    "items": [
        {"sku": "TN-2P-GRN", "name": "Ridgeline 2P Tent", "qty": 1, "unit_price_eur": 249.0},
        {"sku": "SK-MER-M", "name": "Merino Hiking Socks", "qty": 2, "unit_price_eur": 18.5},
    ],
    "shipment": {
        "carrier": "DHL",
        "tracking_number": "JD014600006281234567",
        "shipped_at": "2026-11-19T14:00:00Z",
        "estimated_delivery": "2026-11-26",
        "events": [
            {"at": "2026-11-19T14:00:00Z", "location": "Utrecht", "description": "Picked up"},
            {
                "at": "2026-11-21T06:10:00Z",
                "location": "Cologne",
                "description": "Arrived at sorting centre",
            },
        ],
    },
    "total_eur": 286.0,
}
SHOP_ACCENT = (31, 94, 140)  # "#1f5e8c", unlike the stylesheet's own colour
HELPDESK_ACCENT = (140, 42, 31)  # "#8c2a1f"
SHOP = {
    "name": "shop",
    "title": "Larkspur Outfitters support",
    "description": "Orders, returns and shipping.",
    "end_user": "customer",
    "widget": {"title": "Larkspur help", "accent": "#1f5e8c", "greeting": "Hi! Ask about orders."},
}
HELPDESK = {
    "name": "helpdesk",
    "title": "Northwind IT helpdesk",
    "description": "VPN, passwords and laptops.",
    "end_user": "none",
    "widget": {"title": "Northwind IT", "accent": "#8c2a1f", "greeting": "Hi! Ask me about IT."},
}
CUSTOMERS = [
    {"customer_id": "C1001", "name": "Ada Lindqvist", "orders": [{"order_id": "LK-100214"}]},
    {"customer_id": "C1002", "name": "Tomás Reyes", "orders": []},
]


# -- the fake backend -----------------------------------------------------------------------


class ChatRequest(BaseModel):
    customer_id: str | None = None  # None: the customer token names the customer
    message: str
    session_id: str | None = None


class DemoTokenRequest(BaseModel):
    customer_id: str


@dataclass(frozen=True)
class Credentials:
    customer_token: str | None
    authorization: str | None


def policy_reply() -> list[TurnEvent]:
    tokens: list[TurnEvent] = [TokenEvent(text) for text in POLICY_TOKENS]
    citation = CitationEvent(1, "returns-and-refunds", ARTICLE_TITLE, ARTICLE_URL)
    return [*tokens[:3], citation, *tokens[3:]]


REFUND_QUOTE = "Refunds reach your card within 5 business days of our receiving the return."


def refund_reply() -> list[TurnEvent]:  # the citation quotes the sentence it cites
    citation = CitationEvent(
        1, "refund-timeline", "Refund timeline", ARTICLE_URL, "By card", REFUND_QUOTE, 120, 193
    )
    return [TokenEvent("Card refunds take 5 business days [1]."), citation]


def tents_reply() -> list[TurnEvent]:
    citations = [
        CitationEvent(number, f"tent-{number}", f"Tent {number}", url)
        for number, url in enumerate(TENT_URLS, start=1)
    ]
    return [TokenEvent(TENT_ANSWER), *citations]


def order_reply() -> list[TurnEvent]:
    lookup = ToolResultEvent("get_order", {"order_id": "LK-100214"}, ok=True, data=ORDER)
    return [lookup, TokenEvent("Your order LK-100214 is on its way with DHL.")]


def ticket_reply() -> list[TurnEvent]:  # the assistant says the ticket and sends it
    message = "I've passed this to our support team; they'll email you within a day."
    return [TokenEvent(message), HandoffEvent(HandoffReason.CUSTOMER_REQUEST, message, TICKET_ID)]


def not_found_reply() -> list[TurnEvent]:  # another customer's order reads as missing
    lookup = ToolResultEvent("get_order", {"order_id": "LK-999999"}, ok=True, data=None)
    return [lookup, TokenEvent(NOT_FOUND_ANSWER)]


def silent_outage_reply() -> list[TurnEvent]:  # a model that called the tool and said nothing
    lookup = ToolResultEvent("list_orders", {}, ok=False, error="unavailable")
    return [lookup, HandoffEvent(HandoffReason.SERVICE_DOWN, "Shall I pass you to a person?")]


def offered_reply() -> list[TurnEvent]:
    message = "I couldn't find a help article about that. Shall I pass you to a person?"
    return [
        TokenEvent("I'm not sure about that one."),
        HandoffEvent(HandoffReason.NOT_SURE, message),
    ]


# The first keyword found in the message picks the reply; anything else is offered a handoff.
REPLIES: tuple[tuple[str, Callable[[], list[TurnEvent]]], ...] = (
    ("return", policy_reply),
    ("refund", refund_reply),
    ("tent", tents_reply),
    ("lk-999999", not_found_reply),
    ("recent", silent_outage_reply),
    ("order", order_reply),
    ("person", ticket_reply),
)
SERVER_ERROR = {"message": "The assistant failed.", "type": "server_error", "code": "internal"}


def sse_block(kind: str, payload: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


async def split_chunks(blocks: list[bytes]) -> AsyncIterator[bytes]:
    """Each block in two chunks (split mid-block, maybe mid-character), then a pause."""
    for block in blocks:
        half = len(block) // 2
        yield block[:half]
        await asyncio.sleep(0.01)
        yield block[half:]
        await asyncio.sleep(EVENT_DELAY_S)


@dataclass
class FakeAssistant:
    """The assistant API's routes with canned replies; it records the chat requests."""

    requests: list[ChatRequest] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)  # of each chat request, as sent
    credentials: list[Credentials] = field(default_factory=list)  # of each chat request
    minted: list[str] = field(default_factory=list)  # customers given a demo token
    customer_lists: int = 0
    sessions: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()
        install_web(app)
        app.get("/v1/assistants")(self.assistants)
        app.get("/v1/assistant/customers")(self.customers)
        app.post("/v1/assistant/demo/token")(self.demo_token)
        app.post("/v1/assistant/chat")(self.chat)
        return app

    async def assistants(self) -> dict[str, Any]:
        return {"default": "shop", "data": [SHOP, HELPDESK]}

    async def customers(self) -> dict[str, Any]:
        self.customer_lists += 1
        return {"data": CUSTOMERS}

    async def demo_token(self, body: DemoTokenRequest) -> dict[str, Any]:
        self.minted.append(body.customer_id)
        return {"token": f"demo-token-{body.customer_id}", "expires_at": time.time() + 3600}

    async def chat(self, request: ChatRequest, http: Request) -> Response:
        self.requests.append(request)
        self.bodies.append(await http.json())
        self.credentials.append(
            Credentials(http.headers.get("x-customer-token"), http.headers.get("authorization"))
        )
        message = request.message.lower()
        if "break" in message:
            return JSONResponse({"error": SERVER_ERROR}, status_code=500)
        if "fail midway" in message:
            blocks = [sse_block("token", {"text": "Let me check"})]
            blocks.append(sse_block("error", {"error": SERVER_ERROR}))
            return StreamingResponse(split_chunks(blocks), media_type="text/event-stream")
        reply = next((make for word, make in REPLIES if word in message), offered_reply)
        done = self.done(request)
        if "busy" in message:  # the model was down: a cached answer, marked
            done = dataclasses.replace(done, cache="fallback")
        events = [*reply(), done]
        blocks = [sse_block(event.kind, event_json(event)) for event in events]
        return StreamingResponse(split_chunks(blocks), media_type="text/event-stream")

    def done(self, request: ChatRequest) -> DoneEvent:
        if request.session_id is None:
            self.sessions += 1
        session_id = request.session_id or f"S-{self.sessions}"
        return DoneEvent(session_id, 1, Intent.SHIPPING, 0.9, (), {}, {}, "fake")


@dataclass(frozen=True)
class Backend:
    base_url: str
    fake: FakeAssistant


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    fake = FakeAssistant()
    with serve(fake.app()) as base_url:
        yield Backend(base_url, fake)


@pytest.fixture
def page(chromium: Browser, backend: Backend) -> Iterator[Page]:
    with browser_page(chromium, backend.base_url) as page:
        page.goto("/")
        expect(page.get_by_test_id("customer-select")).to_be_enabled()
        yield page


# -- helpers --------------------------------------------------------------------------------


# Chat streams go on after the widget aborts them (as if the abort lost the race with the
# stream's end); ``window.streamsEnded`` counts the streams read to their end.
OUTLIVE_ABORTS = """() => {
  const realFetch = window.fetch;
  window.streamsEnded = 0;
  window.fetch = async (url, { signal, ...init } = {}) => {
    if (!String(url).endsWith("/chat")) return realFetch(url, { signal, ...init });
    const response = await realFetch(url, init);  // without the signal: never aborted
    if (!response.ok) return response;
    const counted = new TransformStream({ flush() { window.streamsEnded += 1; } });
    return new Response(response.body.pipeThrough(counted), response);
  };
}"""

# Records whether each "Talk to a person" button was disabled when it appeared.
RECORD_HANDOFF_OFFERS = """() => {
  window.offersDisabled = [];
  new MutationObserver((records) => {
    for (const node of records.flatMap((record) => [...record.addedNodes])) {
      for (const button of node.querySelectorAll?.('[data-testid="handoff-accept"]') ?? []) {
        window.offersDisabled.push(button.disabled);
      }
    }
  }).observe(document.getElementById("messages"), {childList: true, subtree: true});
}"""


def ask(page: Page, message: str) -> None:
    page.get_by_test_id("message-input").fill(message)
    page.get_by_test_id("message-input").press("Enter")


def wait_until_answered(page: Page) -> None:
    expect(page.get_by_test_id("message-input")).to_be_enabled()


def brand_colour(page: Page) -> tuple[int, ...]:
    """The send button's colour, the assistant's accent, as (r, g, b)."""
    colour: str = page.get_by_test_id("send-button").evaluate(
        "(button) => getComputedStyle(button).backgroundColor"
    )
    return tuple(int(part) for part in colour.removeprefix("rgb(").removesuffix(")").split(","))


def embedded_page(backend: Backend, attributes: str) -> str:
    """The widget's page with ``attributes`` on its ``<main class="chat">``."""
    page = httpx.get(f"{backend.base_url}/").text
    return page.replace('<main class="chat"', f'<main class="chat" {attributes}')


# -- the tests ------------------------------------------------------------------------------


class TestWidgetOnFakeBackend:
    def test_page_and_assets_are_served_for_revalidation(self, backend: Backend) -> None:
        page = httpx.get(f"{backend.base_url}/")
        script = httpx.get(f"{backend.base_url}/static/app.js")
        assert page.headers["content-type"].startswith("text/html")
        assert script.headers["content-type"].startswith("text/javascript")
        assert page.headers["cache-control"] == script.headers["cache-control"] == "no-cache"

    def test_the_page_has_an_icon(self, page: Page, backend: Backend) -> None:
        href = page.locator('link[rel="icon"]').get_attribute("href")
        assert href is not None
        icon = httpx.get(f"{backend.base_url}{href}")
        assert icon.status_code == 200
        assert icon.headers["content-type"].startswith("image/svg+xml")
        # what a browser asks for when a page names no icon (API docs, JSON in a tab)
        assert httpx.get(f"{backend.base_url}/favicon.ico").content == icon.content

    def test_answer_streams_in_with_clickable_citations(self, page: Page, backend: Backend) -> None:
        page.get_by_test_id("customer-select").select_option("C1002")
        page.evaluate(RECORD_ANSWER_TEXTS)
        ask(page, "How do returns work?")
        expect(page.get_by_test_id("send-button")).to_be_disabled()  # while streaming

        answer = page.get_by_test_id("message-assistant").last.get_by_test_id("answer")
        expect(answer).to_have_text(POLICY_ANSWER)
        texts: list[str] = page.evaluate("window.answerTexts")
        assert len(texts) >= len(POLICY_TOKENS)  # it grew token by token
        assert all(POLICY_ANSWER.startswith(text) for text in texts)
        assert texts[-1] == POLICY_ANSWER

        link = answer.get_by_test_id("citation")
        expect(link).to_have_text("[1]")
        expect(link).to_have_attribute("href", ARTICLE_URL)
        expect(link).to_have_attribute("title", ARTICLE_TITLE)
        expect(page.get_by_test_id("source")).to_have_text(ARTICLE_TITLE)
        page.context.route(f"{ARTICLE_URL}*", lambda route: route.fulfill(body="article"))
        with page.expect_popup() as popup:
            link.click()
        assert popup.value.url == ARTICLE_URL

        wait_until_answered(page)
        assert backend.fake.requests[-1] == ChatRequest(
            customer_id="C1002", message="How do returns work?", session_id=None
        )

    def test_the_cited_passage_is_quoted_under_the_answer(self, page: Page) -> None:
        ask(page, "How long does a refund take?")

        reply = page.get_by_test_id("message-assistant").last
        expect(reply.get_by_test_id("answer")).to_have_text(
            "Card refunds take 5 business days [1]."
        )
        source = reply.get_by_test_id("source")
        expect(source.get_by_role("link")).to_have_text("Refund timeline")
        expect(source.get_by_test_id("quote")).to_have_text(REFUND_QUOTE)
        expect(page.get_by_test_id("quote")).to_have_count(1)

    def test_grouped_markers_link_each_citation(self, page: Page) -> None:
        ask(page, "Are your tents waterproof?")

        answer = page.get_by_test_id("message-assistant").last.get_by_test_id("answer")
        expect(answer).to_have_text("Both tents are waterproof [1][2] and pack small [1][2].")
        links = answer.get_by_test_id("citation")
        expect(links).to_have_text(["[1]", "[2]", "[1]", "[2]"])
        for index, url in enumerate([*TENT_URLS, *TENT_URLS]):
            expect(links.nth(index)).to_have_attribute("href", url)
        expect(page.get_by_test_id("source")).to_have_text(["Tent 1", "Tent 2"])

    def test_order_lookup_shows_an_order_card(self, page: Page) -> None:
        ask(page, "Where is my order LK-100214?")

        card = page.get_by_test_id("order-card")
        expect(card).to_contain_text("Order LK-100214")
        expect(card.get_by_test_id("order-status")).to_have_text("In transit")
        for shown in (
            "DHL",
            "JD014600006281234567",
            "26 Nov 2026",
            "1 \N{MULTIPLICATION SIGN} Ridgeline 2P Tent",
        ):
            expect(card).to_contain_text(shown)
        expect(card.get_by_test_id("tracking-event")).to_contain_text("Arrived at sorting centre")
        expect(page.get_by_test_id("message-assistant")).to_contain_text("on its way with DHL")

    def test_handoff_offered_then_ticket_created(self, page: Page, backend: Backend) -> None:
        page.evaluate(RECORD_HANDOFF_OFFERS)
        ask(page, "Do you rent kayaks?")
        offered = page.get_by_test_id("handoff")
        expect(offered).to_have_attribute("data-state", "offered")
        expect(offered).to_contain_text("Shall I pass you to a person?")
        assert page.evaluate("window.offersDisabled") == [True]  # while the answer streams

        wait_until_answered(page)
        accept = offered.get_by_role("button", name="Talk to a person")
        expect(accept).to_be_enabled()
        accept.click()
        created = page.get_by_test_id("handoff").last
        expect(created).to_have_attribute("data-state", "ticket")
        expect(created.get_by_test_id("ticket-id")).to_have_text(TICKET_ID)
        said = page.get_by_test_id("message-assistant").last.inner_text()
        assert said.count("passed this to our support team") == 1  # said once, not re-shown
        first, second = backend.fake.requests[-2:]
        assert first.session_id is None
        assert second.session_id is not None  # the offer's session goes on

    def test_a_refusal_is_shown_once(self, page: Page) -> None:
        ask(page, "What about order LK-999999?")
        wait_until_answered(page)
        reply = page.get_by_test_id("message-assistant").last
        expect(reply.get_by_test_id("answer")).to_have_text(NOT_FOUND_ANSWER)
        expect(reply.get_by_test_id("order-not-found")).to_have_count(0)
        assert reply.inner_text().count("couldn't find") == 1

    def test_a_lookup_the_answer_does_not_mention_is_shown_as_a_notice(self, page: Page) -> None:
        ask(page, "My recent orders?")
        wait_until_answered(page)
        reply = page.get_by_test_id("message-assistant").last
        expect(reply.get_by_test_id("tool-error")).to_have_count(1)
        expect(reply.get_by_test_id("answer")).to_be_hidden()

    def test_no_request_fails(self, chromium: Browser, backend: Backend) -> None:
        with browser_page(chromium, backend.base_url) as page:
            problems = record_network_problems(page)
            page.goto("/")
            expect(page.get_by_test_id("customer-select")).to_be_enabled()
            ask(page, "How do returns work?")
            wait_until_answered(page)
            page.wait_for_load_state("networkidle")
        assert problems == []

    def test_a_cached_fallback_answer_is_marked(self, page: Page) -> None:
        ask(page, "Busy day? How do returns work?")
        wait_until_answered(page)
        expect(page.get_by_test_id("cache-fallback")).to_contain_text("saved answer")
        ask(page, "How do returns work?")
        wait_until_answered(page)
        expect(page.get_by_test_id("cache-fallback")).to_have_count(1)  # not on live answers

    @pytest.mark.parametrize(
        "message", ["please break", "fail midway"], ids=["http-500", "error-event"]
    )
    def test_failures_show_an_error(self, page: Page, message: str) -> None:
        ask(page, message)
        expect(page.get_by_test_id("error")).to_have_text(SERVER_ERROR["message"])
        wait_until_answered(page)  # the widget recovers: the next message can be sent

    def test_session_continues_until_the_customer_changes(
        self, page: Page, backend: Backend
    ) -> None:
        ask(page, "How do returns work?")
        wait_until_answered(page)
        ask(page, "And where is my order?")
        wait_until_answered(page)
        first, second = backend.fake.requests[-2:]
        assert first.session_id is None
        assert second.session_id is not None

        page.get_by_test_id("customer-select").select_option("C1002")
        expect(page.get_by_test_id("message-assistant")).to_have_count(0)
        ask(page, "How do returns work?")
        wait_until_answered(page)
        assert backend.fake.requests[-1].customer_id == "C1002"
        assert backend.fake.requests[-1].session_id is None

    def test_a_stream_outliving_a_customer_switch_keeps_its_session_to_its_customer(
        self, page: Page, backend: Backend
    ) -> None:
        page.evaluate(OUTLIVE_ABORTS)
        ask(page, "How do returns work?")  # for C1001
        answer = page.get_by_test_id("message-assistant").last.get_by_test_id("answer")
        expect(answer).to_contain_text(POLICY_TOKENS[0].strip())  # mid-stream

        page.get_by_test_id("customer-select").select_option("C1002")
        page.wait_for_function("window.streamsEnded === 1")  # its done event came after
        ask(page, "How do returns work?")
        wait_until_answered(page)
        assert backend.fake.requests[-1].customer_id == "C1002"
        assert backend.fake.requests[-1].session_id is None  # not C1001's session

    def test_the_demo_page_sends_a_token_minted_for_the_picked_customer(
        self, page: Page, backend: Backend
    ) -> None:
        page.get_by_test_id("customer-select").select_option("C1002")
        ask(page, "How do returns work?")
        wait_until_answered(page)
        ask(page, "And where is my order?")
        wait_until_answered(page)
        assert backend.fake.requests[-1].customer_id == "C1002"
        assert backend.fake.credentials[-2:] == [Credentials("demo-token-C1002", None)] * 2
        assert backend.fake.minted.count("C1002") >= 1

        page.get_by_test_id("customer-select").select_option("C1001")
        ask(page, "How do returns work?")
        wait_until_answered(page)
        assert backend.fake.requests[-1].customer_id == "C1001"
        assert backend.fake.credentials[-1] == Credentials("demo-token-C1001", None)


class TestWidgetEmbeddedByAShop:
    """A shop's page signs its customer in with the widget's data attributes."""

    def test_the_pages_customer_token_and_key_are_sent_and_no_picker_is_loaded(
        self, chromium: Browser, backend: Backend
    ) -> None:
        signed_in = httpx.get(f"{backend.base_url}/").text.replace(
            '<main class="chat"',
            '<main class="chat" data-customer-token="sbc1.shop.token" '
            'data-api-key="sb-widget-key" data-customer-name="Ada Lindqvist"',
        )
        lists, mints = backend.fake.customer_lists, len(backend.fake.minted)
        with browser_page(chromium, backend.base_url) as page:
            page.route(
                f"{backend.base_url}/",
                lambda route: route.fulfill(body=signed_in, content_type="text/html"),
            )
            page.goto("/")
            picker = page.get_by_test_id("customer-select")
            expect(picker).to_be_disabled()
            expect(picker).to_have_text("Ada Lindqvist")
            ask(page, "How do returns work?")
            wait_until_answered(page)
            ask(page, "And where is my order?")
            wait_until_answered(page)
        first, second = backend.fake.requests[-2:]
        assert (first.customer_id, first.session_id) == (None, None)
        assert (second.customer_id, second.session_id) == (None, "S-" + str(backend.fake.sessions))
        expected = Credentials("sbc1.shop.token", "Bearer sb-widget-key")
        assert backend.fake.credentials[-2:] == [expected, expected]
        assert (backend.fake.customer_lists, len(backend.fake.minted)) == (lists, mints)


class TestWidgetServesSeveralAssistants:
    """The widget shows the assistant of its definition; the demo page picks among them."""

    def test_the_default_assistants_title_colour_and_greeting_are_shown(self, page: Page) -> None:
        expect(page.get_by_test_id("chat-title")).to_have_text(SHOP["widget"]["title"])
        expect(page).to_have_title(SHOP["widget"]["title"])
        expect(page.get_by_test_id("greeting")).to_have_text(SHOP["widget"]["greeting"])
        assert brand_colour(page) == SHOP_ACCENT

    def test_the_picker_switches_assistant_and_starts_a_new_conversation(
        self, page: Page, backend: Backend
    ) -> None:
        picker = page.get_by_test_id("assistant-select")
        expect(picker.locator("option")).to_have_text(["Larkspur help", "Northwind IT"])
        ask(page, "How do returns work?")
        wait_until_answered(page)
        assert backend.fake.bodies[-1]["assistant"] == "shop"

        picker.select_option("helpdesk")
        expect(page.get_by_test_id("message-assistant")).to_have_count(0)
        expect(page.get_by_test_id("chat-title")).to_have_text("Northwind IT")
        expect(page.get_by_test_id("greeting")).to_have_text("Hi! Ask me about IT.")
        assert brand_colour(page) == HELPDESK_ACCENT
        ask(page, "How do returns work?")
        wait_until_answered(page)
        assert backend.fake.bodies[-1]["assistant"] == "helpdesk"
        assert backend.fake.bodies[-1]["session_id"] is None  # not the shop's session

        picker.select_option("shop")
        expect(page.get_by_test_id("customer-select")).to_be_visible()
        expect(page.get_by_test_id("chat-title")).to_have_text("Larkspur help")
        wait_until_answered(page)
        ask(page, "How do returns work?")
        wait_until_answered(page)
        assert backend.fake.bodies[-1]["assistant"] == "shop"
        assert backend.fake.bodies[-1]["customer_id"] == "C1001"

    def test_an_assistant_for_no_customer_has_no_customer_picker(
        self, page: Page, backend: Backend
    ) -> None:
        mints = len(backend.fake.minted)
        page.get_by_test_id("assistant-select").select_option("helpdesk")
        expect(page.get_by_test_id("customer-select")).to_be_hidden()
        expect(page.get_by_label("Signed-in customer")).to_be_hidden()
        ask(page, "Shall I restart the VPN?")
        wait_until_answered(page)
        assert "customer_id" not in backend.fake.bodies[-1]
        assert backend.fake.credentials[-1] == Credentials(None, None)
        assert len(backend.fake.minted) == mints

    def test_the_pages_data_assistant_is_asked_without_a_picker(
        self, chromium: Browser, backend: Backend
    ) -> None:
        pinned = embedded_page(backend, 'data-assistant="helpdesk"')
        with browser_page(chromium, backend.base_url) as page:
            page.route(
                f"{backend.base_url}/",
                lambda route: route.fulfill(body=pinned, content_type="text/html"),
            )
            page.goto("/")
            expect(page.get_by_test_id("chat-title")).to_have_text("Northwind IT")
            expect(page.get_by_test_id("greeting")).to_have_text("Hi! Ask me about IT.")
            expect(page.get_by_test_id("assistant-select")).to_be_hidden()
            expect(page.get_by_test_id("customer-select")).to_be_hidden()
            ask(page, "My laptop will not start.")
            wait_until_answered(page)
        assert backend.fake.bodies[-1]["assistant"] == "helpdesk"
        assert backend.fake.bodies[-1]["message"] == "My laptop will not start."
