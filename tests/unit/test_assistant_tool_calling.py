"""The function-calling path: a model that picks the tools itself (a remote vLLM/OpenAI
backend), driven through the orchestrator with the fakes of ``test_assistant_orchestrator``,
and the tool box and budget fitting on their own."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from switchboard.assistant.lookup import Lookup
from switchboard.assistant.prompt_budget import SourceChunk
from switchboard.assistant.tool_calling import (
    MAX_ROUNDS,
    NO_ROOM,
    NOT_FOUND,
    SEARCH,
    CallResult,
    ToolBox,
    fit_tool_message,
)
from switchboard.assistant.types import (
    CitationEvent,
    Delta,
    HandoffEvent,
    HandoffReason,
    Message,
    ToolCall,
    ToolResultEvent,
)
from tests.unit.assistant_rig import (
    ALICE,
    ALICE_ORDER,
    BOB_ORDER,
    BOB_TRACKING,
    ORDERS,
    RETURNS_HIT,
    UNAVAILABLE,
    FakeOrders,
    Rig,
    done_of,
    hit,
    only,
    route,
    shop_tools,
    text_of,
)
from tests.unit.demo_shop import SHOP, Intent

pytestmark = pytest.mark.unit


def calls(*pairs: tuple[str, dict[str, object]]) -> Delta:
    return Delta(
        tool_calls=tuple(
            ToolCall(f"call_{i}", name, json.dumps(arguments))
            for i, (name, arguments) in enumerate(pairs)
        ),
        finish_reason="tool_calls",
    )


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rig = Rig(tmp_path)
    rig.model.supports_tools = True
    rig.router.default = route(Intent.ORDER_STATUS)
    yield rig
    rig.store.close()


def test_model_calls_tools_then_answers_citing_the_search_result(rig: Rig) -> None:
    rig.model.replies = [
        [
            calls(
                ("get_order", {"order_id": ALICE_ORDER}),
                ("search_documents", {"query": "return"}),
            )
        ],
        ["It is in transit; returns take 30 days [1]."],
    ]
    events = rig.turn(f"Where is {ALICE_ORDER} and can I return it?")

    assert rig.orders.calls == [("get_order", ALICE, ALICE_ORDER)]
    [result] = only(events, ToolResultEvent)
    assert result.tool == "get_order"
    assert result.data["order_id"] == ALICE_ORDER
    [citation] = only(events, CitationEvent)
    assert citation.article_id == "returns-policy"
    assert done_of(events).cited_article_ids == ("returns-policy",)
    first, second = rig.model.calls
    offered = [tool["function"]["name"] for tool in first["tools"]]
    assert offered == ["get_order", "list_orders", SEARCH]  # never the write tool
    get_order = first["tools"][0]["function"]["parameters"]
    assert "customer_id" not in get_order["properties"]  # the server fills it
    replayed = second["messages"]
    assert replayed[-3]["role"] == "assistant"
    names = [c["function"]["name"] for c in replayed[-3]["tool_calls"]]
    assert names == ["get_order", "search_documents"]
    assert (replayed[-2]["role"], replayed[-2]["tool_call_id"]) == ("tool", "call_0")
    assert "status in transit" in replayed[-2]["content"]
    assert replayed[-1]["tool_call_id"] == "call_1"
    assert "[1] Returns policy" in replayed[-1]["content"]
    assert text_of(events) == "It is in transit; returns take 30 days [1]."


def test_tools_run_for_the_session_customer_never_the_models_choice(rig: Rig) -> None:
    rig.model.replies = [
        [calls(("get_order", {"order_id": BOB_ORDER, "customer_id": "C-2002"}))],
        ["I could not find that order."],
    ]
    events = rig.turn(f"Show me order {BOB_ORDER}")

    assert rig.orders.calls == [("get_order", ALICE, BOB_ORDER)]
    [result] = only(events, ToolResultEvent)
    assert result.data is None
    assert BOB_TRACKING not in str(rig.model.calls[1]["messages"])


def test_order_service_down_offers_a_handoff(rig: Rig) -> None:
    rig.orders.down = True
    rig.model.replies = [
        [calls(("get_order", {"order_id": ALICE_ORDER}))],
        ["The order system is unavailable right now."],
    ]
    events = rig.turn(f"Where is {ALICE_ORDER}?")

    [result] = only(events, ToolResultEvent)
    assert (result.ok, result.error) == (False, UNAVAILABLE)
    [handoff] = only(events, HandoffEvent)
    assert handoff.reason is HandoffReason.SERVICE_DOWN
    assert "unavailable" in rig.model.calls[1]["messages"][-1]["content"]


def test_search_below_the_floor_says_not_found_and_offers_a_handoff(rig: Rig) -> None:
    rig.searcher.hits = [hit("returns-policy", "Returns policy", "Unworn items.", 0.1)]
    rig.model.replies = [
        [calls(("search_documents", {"query": "plastic-free packaging"}))],
        ["I'm not sure."],
    ]
    events = rig.turn("Can you pack without plastic?")

    assert rig.model.calls[1]["messages"][-1]["content"] == NOT_FOUND
    [handoff] = only(events, HandoffEvent)
    assert handoff.reason is HandoffReason.NOT_SURE


def test_the_last_round_offers_no_tools_so_the_turn_ends(rig: Rig) -> None:
    rig.model.replies = [[calls(("list_orders", {}))] for _ in range(MAX_ROUNDS - 1)]
    rig.model.replies.append(["Here you go."])
    events = rig.turn("What did I order?")

    assert len(rig.model.calls) == MAX_ROUNDS
    assert rig.model.calls[-1]["tools"] is None
    assert len(only(events, ToolResultEvent)) == MAX_ROUNDS - 1
    assert text_of(events) == "Here you go."


def test_every_model_call_fits_the_budget(tmp_path: Path) -> None:
    rig = Rig(tmp_path, max_model_len=160)
    rig.model.supports_tools = True
    rig.router.default = route(Intent.RETURNS_REFUNDS)
    long_hit = hit("long", "Long", "word " * 60, 0.9)
    rig.searcher.hits = [RETURNS_HIT, long_hit, RETURNS_HIT]
    rig.model.replies = [[calls(("search_documents", {"query": "returns"}))], ["Ok [1]."]]
    rig.turn("How do returns work?")

    limit = 160 - rig.settings.max_tokens
    for call in rig.model.calls:
        assert rig.model.count_messages(call["messages"]) <= limit


def test_invalid_arguments_and_unknown_tools_are_reported_to_the_model() -> None:
    tools = shop_tools(FakeOrders(ORDERS))
    assert SHOP.lookup is not None
    box = ToolBox(ALICE, tools, Lookup(SHOP.lookup, tools), lambda q: [RETURNS_HIT], 0.35)

    def run(call: ToolCall) -> CallResult:
        return asyncio.run(box.call(call, 1))

    assert run(ToolCall("a", "get_order", "{not json")).parts[0].startswith("Invalid arguments")
    assert run(ToolCall("b", "get_order", "{}")).parts == [
        "get_order needs the argument 'order_id', a string."
    ]
    assert run(ToolCall("c", "drop_tables", "{}")).parts == [
        "There is no tool named 'drop_tables'."
    ]
    unconfirmed = run(ToolCall("w", "cancel_order", json.dumps({"order_id": ALICE_ORDER})))
    assert unconfirmed.parts == ["There is no tool named 'cancel_order'."]  # writes: never
    numbered = run(ToolCall("d", "search_documents", '{"query": "returns"}'))
    assert numbered.parts[1].startswith("[1] Returns policy")
    later = asyncio.run(box.call(ToolCall("e", "search_documents", '{"query": "x"}'), 4))
    assert later.parts[1].startswith("[4] Returns policy")


def test_fit_tool_message_keeps_a_prefix_of_the_parts() -> None:
    sources = [SourceChunk("a", "A", "", "x"), SourceChunk("b", "B", "", "y y y y")]
    outcome = CallResult(["header", "[1] A\nx", "[2] B\ny y y y"], sources=sources)

    def fits_under(limit: int) -> Callable[[list[Message]], bool]:
        return lambda messages: sum(len(str(m["content"]).split()) for m in messages) <= limit

    message, kept = fit_tool_message([], "id", outcome, fits_under(4))
    assert message["content"] == "header\n\n[1] A\nx"
    assert kept == sources[:1]
    message, kept = fit_tool_message([], "id", outcome, fits_under(0))
    assert message["content"] == NO_ROOM
    assert kept == []
    message, kept = fit_tool_message([], "id", outcome, fits_under(100))
    assert kept == sources
