"""Several assistants on one server, over orchestrators of fakes: ``GET /v1/assistants``,
``/v1/assistant/chat`` naming one (a customer's assistant and one whose end user is none),
``model: "assistant:<name>"`` in ``/v1/chat/completions`` (streamed and whole, with
citations in the extension fields), and each assistant's sessions and tickets its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from switchboard.api import create_app
from switchboard.api.auth import ANONYMOUS_KEY_ID
from switchboard.assistant.order_client import OrderClient
from switchboard.assistant.service import Assistant, Assistants
from switchboard.config import GatewaySettings, GuardSettings, Settings
from tests.unit.assistant_rig import ALICE, RETURNS_ANSWER, Rig, route
from tests.unit.demo_shop import HELPDESK, SHOP, Intent
from tests.unit.test_api_assistant import sse_blocks
from tests.unit.test_api_routes import MODEL, FakeServedEngine

pytestmark = pytest.mark.unit

COMPLETIONS = "/v1/chat/completions"


class Two:
    def __init__(self, client: TestClient, shop: Rig, desk: Rig) -> None:
        self.client, self.shop, self.desk = client, shop, desk


@pytest.fixture
def two(tmp_path: Path) -> Iterator[Two]:
    shop = Rig(tmp_path / "shop")
    desk = Rig(tmp_path / "desk", store=shop.store)  # one conversation store, as served
    desk.orchestrator.definition = HELPDESK
    desk.orchestrator.orders = None
    served = Assistants(
        {
            "shop": Assistant(SHOP, shop.orchestrator),
            "helpdesk": Assistant(HELPDESK, desk.orchestrator),
        },
        "shop",
        shop.store,
        cast(OrderClient, shop.orders),
    )
    engine = FakeServedEngine()
    settings = Settings(
        model=MODEL,
        data_dir=tmp_path,
        guard=GuardSettings(enabled=False),
        gateway=GatewaySettings(db_path=tmp_path / "gateway.sqlite3"),
    )
    try:
        with TestClient(create_app(engine, settings, assistants=served)) as client:
            yield Two(client, shop, desk)
    finally:
        engine.async_engine.shutdown()
        desk.store.close()


def test_the_served_assistants_are_listed_with_their_look(two: Two) -> None:
    listed = two.client.get("/v1/assistants").json()
    assert listed["default"] == "shop"
    by_name = {a["name"]: a for a in listed["data"]}
    assert set(by_name) == {"shop", "helpdesk"}
    assert by_name["helpdesk"]["end_user"] == "none"
    assert by_name["helpdesk"]["widget"]["accent"] == HELPDESK.widget.accent
    assert by_name["shop"]["widget"]["title"] == SHOP.widget.title


def test_a_chat_names_its_assistant_and_one_of_no_customer_needs_none(two: Two) -> None:
    response = two.client.post(
        "/v1/assistant/chat", json={"assistant": "helpdesk", "message": "How do returns work?"}
    )
    assert response.status_code == 200, response.text
    assert [kind for kind, _ in sse_blocks(response.text)][-1] == "done"
    assert two.desk.model.calls or two.desk.searcher.queries  # the helpdesk's pipeline ran
    assert two.shop.searcher.queries == []
    customer_needed = two.client.post("/v1/assistant/chat", json={"message": "Hi"})
    assert customer_needed.status_code == 400  # the default (shop) acts for a customer
    assert customer_needed.json()["error"]["param"] == "customer_id"


def test_an_unknown_assistant_is_a_404_naming_the_served_ones(two: Two) -> None:
    response = two.client.post(
        "/v1/assistant/chat", json={"assistant": "nobody", "message": "hi", "customer_id": ALICE}
    )
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("assistant_not_found", "assistant")
    assert "served: helpdesk, shop" in error["message"]


def completion(two: Two, **body: Any) -> Any:
    return two.client.post(COMPLETIONS, json={"model": "assistant:shop", **body})


def test_a_customers_assistant_takes_its_customer_from_the_user_field(two: Two) -> None:
    """With authentication off, OpenAI's ``user`` names the customer (with it on, a
    customer token does, and ``user`` must match it)."""
    two.shop.router.default = route(Intent.RETURNS_REFUNDS)
    question = [{"role": "user", "content": "How long do I have to return a jacket?"}]
    nobody = completion(two, messages=question)
    assert nobody.status_code == 400
    assert nobody.json()["error"]["param"] == "customer_id"
    answered = completion(two, messages=question, user=ALICE)
    assert answered.status_code == 200, answered.text
    session = answered.json()["switchboard"]["session_id"]
    assert two.shop.store.get_session(session, ALICE).customer_id == ALICE


def test_an_assistant_completions_answer_can_be_rated(two: Two) -> None:
    two.shop.router.default = route(Intent.RETURNS_REFUNDS)
    question = [{"role": "user", "content": "How long do I have to return a jacket?"}]
    turn = completion(two, messages=question, user=ALICE).json()["switchboard"]

    url = f"/v1/assistant/sessions/{turn['session_id']}/turns/{turn['turn_id']}/feedback"
    rated = two.client.post(url, json={"customer_id": ALICE, "rating": "down"})

    assert rated.status_code == 200, rated.text
    assert [d.answer for d in two.shop.store.down_rated()] == ["".join(RETURNS_ANSWER)]


def test_a_streamed_assistant_completion_ends_with_citations_and_the_turn(two: Two) -> None:
    two.desk.router.default = route(Intent.RETURNS_REFUNDS)
    messages = [
        {"role": "system", "content": "You are a pirate."},  # the assistant's own prompts apply
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "Hi! How can I help?"},
        {"role": "user", "content": "How long do I have to return a jacket?"},
    ]
    response = two.client.post(
        COMPLETIONS, json={"model": "assistant:helpdesk", "messages": messages, "stream": True}
    )
    assert response.status_code == 200, response.text
    events = [line.removeprefix("data: ") for line in response.text.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "".join(RETURNS_ANSWER)
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["citations"][0]["article_id"] == "returns-policy"
    assert last["switchboard"]["answer_path"] == "generated"
    assert {c["model"] for c in chunks} == {"assistant:helpdesk"}
    prompt = two.desk.model.calls[0]["messages"]
    assert prompt[0]["content"] == HELPDESK.prompts.grounded  # not the pirate
    assert [m["content"] for m in prompt[1:3]] == ["hello", "Hi! How can I help?"]
    stored = two.desk.store.history(last["switchboard"]["session_id"], 10)
    assert stored[0].content == "How long do I have to return a jacket?"


def test_a_whole_assistant_completion_carries_citations_and_usage(two: Two) -> None:
    two.desk.router.default = route(Intent.RETURNS_REFUNDS)
    question = [{"role": "user", "content": "How long do I have to return a jacket?"}]
    body = two.client.post(
        COMPLETIONS, json={"model": "assistant:helpdesk", "messages": question}
    ).json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == "".join(RETURNS_ANSWER)
    assert body["citations"][0]["number"] == 1
    assert body["usage"]["total_tokens"] > 0


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([{"role": "assistant", "content": "Hello"}], "messages"),
        ([{"role": "tool", "content": "{}"}, {"role": "user", "content": "hi"}], "messages[0]"),
        ([{"role": "user", "content": "  "}], "messages"),
    ],
)
def test_a_completion_without_a_question_last_is_the_clients_400(
    two: Two, messages: list[dict[str, str]], param: str
) -> None:
    response = two.client.post(
        COMPLETIONS, json={"model": "assistant:helpdesk", "messages": messages}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_an_unknown_assistant_model_is_a_404_on_the_model(two: Two) -> None:
    response = two.client.post(
        COMPLETIONS,
        json={"model": "assistant:nobody", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "model"


def chat(two: Two, assistant: str, message: str, session: str | None = None) -> Any:
    """A chat turn of ``assistant`` for the one end user both assistants share here: the
    helpdesk acts for the API key, the shop for the customer named as that key."""
    body = {"assistant": assistant, "message": message, "customer_id": ANONYMOUS_KEY_ID}
    return two.client.post("/v1/assistant/chat", json=body | {"session_id": session})


def session_of(response: Any) -> str:
    assert response.status_code == 200, response.text
    _, done = sse_blocks(response.text)[-1]
    return str(done["session_id"])


def not_found(response: Any, session: str) -> bool:
    """The 404 of a session that does not exist: nothing tells it exists elsewhere."""
    error = response.json()["error"]
    return response.status_code == 404 and error == {
        "message": f"The session '{session}' does not exist.",
        "type": "invalid_request_error",
        "param": None,
        "code": "session_not_found",
    }


def read(two: Two, path: str, assistant: str | None = None) -> Any:
    query = {"customer_id": ANONYMOUS_KEY_ID} | ({"assistant": assistant} if assistant else {})
    return two.client.get(f"/v1/assistant/{path}", params=query)


def test_a_session_cannot_be_continued_or_read_through_another_assistant(two: Two) -> None:
    two.desk.router.default = route(Intent.RETURNS_REFUNDS)
    desk = session_of(chat(two, "helpdesk", "How do returns work?"))
    shop = session_of(chat(two, "shop", "How do returns work?"))
    assert not_found(chat(two, "shop", "and then?", "f" * 32), "f" * 32)

    assert not_found(chat(two, "shop", "and then?", desk), desk)
    assert not_found(chat(two, "helpdesk", "and then?", shop), shop)
    assert not_found(read(two, f"sessions/{desk}"), desk)  # the default: the shop
    assert not_found(read(two, f"sessions/{desk}", "shop"), desk)
    assert not_found(read(two, f"sessions/{shop}", "helpdesk"), shop)
    assert len(read(two, f"sessions/{desk}", "helpdesk").json()["messages"]) == 2
    assert len(read(two, f"sessions/{shop}").json()["messages"]) == 2

    listed = {name: read(two, "sessions", name).json()["data"] for name in ("shop", "helpdesk")}
    assert [s["session_id"] for s in listed["shop"]] == [shop]
    assert [(s["session_id"], s["assistant"]) for s in listed["helpdesk"]] == [(desk, "helpdesk")]
    assert read(two, "sessions").json()["data"] == listed["shop"]


def test_tickets_are_their_assistants_own(two: Two) -> None:
    two.shop.router.default = route(Intent.HUMAN_HANDOFF)
    session = session_of(chat(two, "shop", "I want to talk to a person"))
    [ticket] = read(two, "tickets", "shop").json()["data"]
    assert ticket["session_id"] == session
    assert read(two, "tickets").json()["data"] == [ticket]
    assert read(two, "tickets", "helpdesk").json()["data"] == []
