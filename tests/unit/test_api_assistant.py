"""``/v1/assistant`` and the widget page over an orchestrator of fakes (see
``test_assistant_orchestrator``), served next to the fake engine of ``test_api_routes``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from switchboard.api import create_app
from switchboard.config import AssistantSettings, GatewaySettings, GuardSettings, Settings
from switchboard.errors import EngineDeadError
from tests.unit.assistant_rig import (
    ALICE,
    ALICE_ORDER,
    BOB,
    RETURNS_ANSWER,
    Rig,
    route,
    served_shop,
)
from tests.unit.demo_shop import Intent
from tests.unit.test_api_routes import MODEL, FakeServedEngine

pytestmark = pytest.mark.unit

CHAT = "/v1/assistant/chat"


class Served:
    """The app's client and the rig under it."""

    def __init__(self, client: TestClient, rig: Rig) -> None:
        self.client = client
        self.rig = rig


@contextmanager
def rig_app(
    tmp_path: Path,
    assistant: AssistantSettings | None = None,
    gateway: GatewaySettings | None = None,
) -> Iterator[Served]:
    """The app over an orchestrator of fakes and the fake engine, guard off; the gateway's
    database under ``tmp_path``."""
    rig = Rig(tmp_path)
    engine = FakeServedEngine()
    served = served_shop(rig)
    gateway = (gateway or GatewaySettings()).model_copy(
        update={"db_path": tmp_path / "gateway.sqlite3"}
    )
    settings = Settings(
        model=MODEL,
        data_dir=tmp_path,
        gateway=gateway,
        guard=GuardSettings(enabled=False),
        assistant=assistant or AssistantSettings(),
    )
    try:
        with TestClient(create_app(engine, settings, assistants=served)) as client:
            yield Served(client, rig)
    finally:
        engine.async_engine.shutdown()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with rig_app(tmp_path) as app:
        yield app
    assert app.rig.orders.closed  # the app closes the assistant it serves


def sse_blocks(body: str) -> list[tuple[str, Any]]:
    """``(event, data)`` of each ``event: <kind>\\ndata: <json>`` block, in order."""
    assert body.endswith("\n\n")
    blocks = []
    for block in body.removesuffix("\n\n").split("\n\n"):
        event_line, data_line = block.split("\n")
        assert event_line.startswith("event: ")
        assert data_line.startswith("data: ")
        blocks.append(
            (event_line.removeprefix("event: "), json.loads(data_line.removeprefix("data: ")))
        )
    return blocks


def chat(served: Served, **body: Any) -> list[tuple[str, Any]]:
    response = served.client.post(CHAT, json={"customer_id": ALICE, **body})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return sse_blocks(response.text)


def assert_error(
    response: Any, status: int, code: str | None, param: str | None = None, kind: str = ""
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    assert error["type"] == (kind or "invalid_request_error")
    assert error["code"] == code
    assert error["param"] == param
    return error


# -- POST /v1/assistant/chat ----------------------------------------------------------------


def test_chat_streams_token_citation_done_events(served: Served) -> None:
    blocks = chat(served, message="How long do I have to return a jacket?")

    assert [kind for kind, _ in blocks] == ["token", "token", "token", "citation", "done"]
    assert [data for kind, data in blocks if kind == "token"] == [
        {"text": piece} for piece in RETURNS_ANSWER
    ]
    citation = blocks[3][1]
    assert citation == {
        "number": 1,
        "article_id": "returns-policy",
        "title": "Returns policy",
        "url": "/help/returns-policy",
        "heading": "",
        "quote": "Unworn items can be returned within 30 days.",  # the passage, and where
        "start": 0,  # it is in the article
        "end": len("Unworn items can be returned within 30 days."),
        "collection": "",  # the fake searcher's hits name none
    }
    done = blocks[-1][1]
    assert done["intent"] == "returns_refunds"
    assert done["cited_article_ids"] == ["returns-policy"]
    assert done["model"] == "fake-chat"
    assert {"model", "ttft", "overhead", "total"} <= set(done["timings_ms"])
    assert set(done["usage"]) == {"prompt_tokens", "completion_tokens"}
    assert served.rig.store.get_session(done["session_id"], ALICE).customer_id == ALICE


def test_each_turn_is_in_the_request_log_and_the_metrics(served: Served) -> None:
    chat(served, message="How long do I have to return a jacket?")
    app = served.client.app
    app.state.request_log.flush()  # type: ignore[attr-defined]
    (row,) = app.state.log_store.query()  # type: ignore[attr-defined]
    record = row.record
    assert (record.endpoint, record.model, record.status) == ("assistant", "assistant:shop", 200)
    assert record.served_model == "fake-chat"
    assert record.completion_tokens == 3
    assert record.prompt_tokens > 0
    assert record.input_text is None  # never the text
    assert record.turn is not None
    assert (record.turn.intent, record.turn.cited_article_ids) == (
        "returns_refunds",
        ["returns-policy"],
    )
    assert record.turn.answer_path == "generated"
    assert record.turn.tools == []
    metrics = served.client.get("/metrics").text
    assert (
        'switchboard_requests_total{model="assistant:shop",provider="none",status="200"} 1.0'
        in (metrics)
    )


def test_an_order_turn_is_logged_with_its_tool_call(served: Served) -> None:
    served.rig.router.default = route(Intent.ORDER_STATUS)
    chat(served, message=f"Where is my order {ALICE_ORDER}?")
    app = served.client.app
    app.state.request_log.flush()  # type: ignore[attr-defined]
    (row,) = app.state.log_store.query()  # type: ignore[attr-defined]
    turn = row.record.turn
    assert turn is not None
    assert (turn.intent, turn.answer_path, turn.tools) == (
        "order_status",
        "lookup",
        ["get_order"],
    )
    assert row.record.prompt_tokens == 0  # answered without the model


def test_done_names_the_answer_path_and_the_metrics_count_it(served: Served) -> None:
    answered = chat(served, message="How long do I have to return a jacket?")
    served.rig.router.default = route(Intent.OUT_OF_SCOPE)
    refused = chat(served, message="Write me a poem")

    assert answered[-1][1]["answer_path"] == "generated"
    assert refused[-1][1]["answer_path"] == "refusal"
    metrics = served.client.get("/metrics").text
    for path in ("generated", "refusal"):
        assert f'switchboard_assistant_answer_path_total{{path="{path}"}} 1.0' in metrics
    session = answered[-1][1]["session_id"]
    stored = served.client.get(f"/v1/assistant/sessions/{session}", params={"customer_id": ALICE})
    assert stored.json()["messages"][1]["answer_path"] == "generated"


def test_chat_continues_a_session(served: Served) -> None:
    first = chat(served, message="How long do I have to return a jacket?")
    session = first[-1][1]["session_id"]

    second = chat(served, message="And refunds?", session_id=session)

    assert second[-1][1]["session_id"] == session
    assert second[-1][1]["turn_id"] == 3
    assert len(served.rig.store.history(session, 10)) == 4


def test_chat_tool_result_and_handoff_events(served: Served) -> None:
    served.rig.router.default = route(Intent.ORDER_STATUS)
    served.rig.orders.down = True

    blocks = chat(served, message=f"Where is {ALICE_ORDER}?")

    assert [kind for kind, _ in blocks] == ["tool_result", "token", "handoff", "done"]
    assert blocks[0][1] == {
        "tool": "get_order",
        "arguments": {"order_id": ALICE_ORDER},
        "ok": False,
        "data": None,
        "error": "unavailable",
    }
    assert blocks[2][1]["reason"] == "service_unavailable"
    assert blocks[2][1]["ticket_id"] is None


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"message": "hello"}, "customer_id"),
        ({"customer_id": ALICE, "message": ""}, "message"),
        ({"customer_id": ALICE, "message": "x" * 5000}, "message"),
        ({"customer_id": "bad id!", "message": "hello"}, "customer_id"),
        ({"customer_id": "-starts-with-dash", "message": "hello"}, "customer_id"),
        ({"customer_id": ALICE}, "message"),
        ({"customer_id": ALICE, "message": "hi", "session_id": "s" * 65}, "session_id"),
    ],
)
def test_chat_validation_errors(served: Served, body: dict[str, Any], param: str) -> None:
    response = served.client.post(CHAT, json=body)

    error = assert_error(response, 400, None, param)
    assert param in error["message"]
    assert served.rig.router.seen == []
    assert served.rig.store.list_sessions(ALICE) == []


def test_chat_blank_message_is_refused(served: Served) -> None:
    response = served.client.post(CHAT, json={"customer_id": ALICE, "message": "  \n "})

    assert_error(response, 400, None, "message")
    assert served.rig.store.list_sessions(ALICE) == []


def test_chat_body_not_json(served: Served) -> None:
    response = served.client.post(
        CHAT, content=b"{not json", headers={"content-type": "application/json"}
    )

    assert_error(response, 400, None, None)


def test_chat_unknown_session_is_404_json(served: Served) -> None:
    response = served.client.post(
        CHAT, json={"customer_id": ALICE, "message": "hello", "session_id": "nope"}
    )

    error = assert_error(response, 404, "session_not_found")
    assert "nope" in error["message"]
    assert served.rig.router.seen == []


def test_chat_another_customers_session_is_404(served: Served) -> None:
    session = chat(served, message="How long do I have to return a jacket?")[-1][1]["session_id"]

    response = served.client.post(
        CHAT, json={"customer_id": BOB, "message": "hello", "session_id": session}
    )

    assert_error(response, 404, "session_not_found")


def test_chat_model_failure_before_any_event_is_an_http_error(served: Served) -> None:
    served.rig.model.fail_after = 0

    response = served.client.post(CHAT, json={"customer_id": ALICE, "message": "returns?"})

    assert_error(response, 502, "upstream_error", kind="server_error")


def test_chat_model_failure_mid_stream_sends_an_error_event(served: Served) -> None:
    served.rig.model.fail_after = 1

    blocks = chat(served, message="How long do I have to return a jacket?")

    assert [kind for kind, _ in blocks] == ["token", "error"]
    assert blocks[0][1] == {"text": RETURNS_ANSWER[0]}
    assert blocks[1][1] == {
        "error": {
            "message": "the model server broke off the stream",
            "type": "server_error",
            "param": None,
            "code": "upstream_error",
        }
    }


def test_a_dead_engine_mid_stream_is_logged_as_the_503_the_client_saw(served: Served) -> None:
    served.rig.model.fail_after = 1
    served.rig.model.failure = EngineDeadError("engine loop died: llama_decode failed")

    blocks = chat(served, message="How long do I have to return a jacket?")

    assert [kind for kind, _ in blocks] == ["token", "error"]
    assert blocks[1][1]["error"]["code"] == "engine_dead"
    app = served.client.app
    app.state.request_log.flush()  # type: ignore[attr-defined]
    (row,) = app.state.log_store.query()  # type: ignore[attr-defined]
    assert (row.record.status, row.record.error_code) == (503, "engine_dead")


# -- sessions -------------------------------------------------------------------------------


def test_get_session_returns_its_messages(served: Served) -> None:
    first = chat(served, message="How long do I have to return a jacket?")
    session = first[-1][1]["session_id"]
    answer = "".join(data["text"] for kind, data in first if kind == "token")

    response = served.client.get(f"/v1/assistant/sessions/{session}", params={"customer_id": ALICE})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["session_id"], body["customer_id"]) == (session, ALICE)
    user, assistant = body["messages"]
    assert (user["index"], user["role"], user["content"]) == (
        0,
        "user",
        "How long do I have to return a jacket?",
    )
    assert "intent" not in user
    assert (assistant["index"], assistant["role"], assistant["content"]) == (
        1,
        "assistant",
        answer,
    )
    assert assistant["intent"] == "returns_refunds"
    assert assistant["cited_article_ids"] == ["returns-policy"]
    assert assistant["model"] == "fake-chat"
    assert assistant["handoff_reason"] is None


def test_get_session_keeps_tool_results_and_handoff_reason(served: Served) -> None:
    served.rig.router.default = route(Intent.ORDER_STATUS)
    served.rig.orders.down = True
    session = chat(served, message=f"Where is {ALICE_ORDER}?")[-1][1]["session_id"]

    body = served.client.get(
        f"/v1/assistant/sessions/{session}", params={"customer_id": ALICE}
    ).json()

    assistant = body["messages"][1]
    assert assistant["handoff_reason"] == "service_unavailable"
    assert assistant["tool_results"][0]["error"] == "unavailable"


def test_get_session_of_another_customer_is_404(served: Served) -> None:
    session = chat(served, message="How long do I have to return a jacket?")[-1][1]["session_id"]

    response = served.client.get(f"/v1/assistant/sessions/{session}", params={"customer_id": BOB})

    assert_error(response, 404, "session_not_found")


def test_get_session_needs_a_valid_customer_id(served: Served) -> None:
    session = chat(served, message="How long do I have to return a jacket?")[-1][1]["session_id"]

    missing = served.client.get(f"/v1/assistant/sessions/{session}")
    bad = served.client.get(f"/v1/assistant/sessions/{session}", params={"customer_id": "a b"})

    assert_error(missing, 400, None, "customer_id")
    assert_error(bad, 400, None, "customer_id")


def test_list_sessions_of_a_customer(served: Served) -> None:
    first = chat(served, message="How long do I have to return a jacket?")[-1][1]["session_id"]
    second = chat(served, message="And shipping?")[-1][1]["session_id"]

    mine = served.client.get("/v1/assistant/sessions", params={"customer_id": ALICE})
    theirs = served.client.get("/v1/assistant/sessions", params={"customer_id": BOB})

    assert mine.status_code == 200
    rows = mine.json()["data"]
    assert [row["session_id"] for row in rows] == [second, first]
    assert all(row["customer_id"] == ALICE for row in rows)
    assert {"created_at", "updated_at"} <= set(rows[0])
    assert theirs.json() == {"data": []}
    limited = served.client.get("/v1/assistant/sessions", params={"customer_id": ALICE, "limit": 1})
    assert [row["session_id"] for row in limited.json()["data"]] == [second]


def test_handoff_tickets_of_a_customer(served: Served) -> None:
    served.rig.router.default = route(Intent.HUMAN_HANDOFF)
    events = chat(served, message="I want to talk to a person")
    ticket_id = next(data["ticket_id"] for kind, data in events if kind == "handoff")

    mine = served.client.get("/v1/assistant/tickets", params={"customer_id": ALICE})
    theirs = served.client.get("/v1/assistant/tickets", params={"customer_id": BOB})

    [ticket] = mine.json()["data"]
    assert ticket["ticket_id"] == ticket_id
    assert (ticket["reason"], ticket["status"]) == ("customer_request", "open")
    assert ticket["summary"] == "I want to talk to a person"
    assert theirs.json() == {"data": []}


def test_demo_directory_can_be_turned_off(tmp_path: Path) -> None:
    with rig_app(tmp_path, AssistantSettings(demo="off")) as app:
        client = app.client
        assert client.get("/v1/assistant/customers").status_code == 404
        assert client.get("/v1/assistant/sessions", params={"customer_id": ALICE}).is_success
    assert app.rig.orders.calls == []


# -- customers and the widget ---------------------------------------------------------------


def test_list_customers(served: Served) -> None:
    response = served.client.get("/v1/assistant/customers")

    assert response.status_code == 200
    data = response.json()["data"]
    assert [row["customer_id"] for row in data] == [ALICE, BOB]
    assert ALICE_ORDER in data[0]["orders"]


def test_list_customers_when_the_order_api_is_down(served: Served) -> None:
    served.rig.orders.down = True

    response = served.client.get("/v1/assistant/customers")

    assert_error(response, 503, "service_unavailable", kind="server_error")


def test_widget_page_is_served(served: Served) -> None:
    response = served.client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert "<html" in response.text
    assert "/static/app.js" in response.text
    script = served.client.get("/static/app.js")
    assert script.status_code == 200
    assert script.headers["cache-control"] == "no-cache"


def test_chat_message_with_a_lone_surrogate_is_a_400(served: Served) -> None:
    raw = json.dumps({"customer_id": ALICE, "message": "where is a\ud800b?"})
    response = served.client.post(CHAT, content=raw, headers={"content-type": "application/json"})

    assert_error(response, 400, None, "message")
    assert served.rig.store.list_sessions(ALICE) == []


def test_the_longest_message_is_a_setting_checked_before_the_turn(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    engine = FakeServedEngine()
    assistant = served_shop(rig)
    settings = Settings(
        model=MODEL,
        data_dir=tmp_path,
        guard=GuardSettings(enabled=False),
        assistant=AssistantSettings(max_message_chars=20),
        gateway=GatewaySettings(db_path=tmp_path / "gateway.sqlite3"),
    )
    try:
        with TestClient(create_app(engine, settings, assistants=assistant)) as client:
            long = client.post(CHAT, json={"customer_id": ALICE, "message": "x" * 21})
            error = assert_error(long, 400, None, "message")
            assert "20 characters" in error["message"]
            assert rig.router.seen == []
            short = client.post(CHAT, json={"customer_id": ALICE, "message": "where is it?"})
            assert short.status_code == 200
    finally:
        engine.async_engine.shutdown()
