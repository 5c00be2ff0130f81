"""The Order API killed mid-conversation and restarted, under the real assistant: the
default model in the engine, the bundled embedding model routing the questions, the Order
API as its own supervised process, conversations in SQLite, the server over loopback.

A customer asks where an order is; the Order API is killed. While it is down ``/health``
says so (the server degraded, 200), and the next question in the same conversation is
answered plainly (the order system is unavailable, no guessed status) with a handoff offer.
The supervisor logs the exit and the restart; no request logs a traceback. Once the Order
API is back the same conversation goes on and looks the order up again, and every turn
said before is still in the session's history.

(``test_order_api_supervision`` covers the supervisor itself: its port held while the
child is down, the restart on the same port, a fresh token per start.)
"""

from __future__ import annotations

import json
import logging
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard.api import create_app
from switchboard.assistant.definition import AssistantDefinition, demo_definition
from switchboard.assistant.local_model import LocalChatModel
from switchboard.assistant.order_client import OrderClient
from switchboard.assistant.service import open_assistants
from switchboard.backoff import RestartBackoff
from switchboard.config import (
    DEFAULT_MODEL,
    AssistantSettings,
    CacheSettings,
    EmbeddingSettings,
    EngineSettings,
    GatewaySettings,
    KnowledgeSettings,
    OrdersSettings,
    Settings,
)
from switchboard.demo import DEMO_COLLECTION, shop_articles_dir
from switchboard.engine.local import LocalEngine
from switchboard.orders.supervisor import OrderApiSupervisor
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.types import CollectionRef
from switchboard_bench.uvicorn_thread import serve
from tests.integration import gateway_harness
from tests.integration.fault_harness import health, logged, tracebacks, until
from tests.unit.assistant_rig import UNAVAILABLE_ANSWER

pytestmark = pytest.mark.integration

CUSTOMER = "C1002"
ORDER = "LK-101032"  # C1002's order in transit (the demo dataset is deterministic)
ARTICLES = ("refund-timeline.md", "shipping-costs.md")
DOWN_S = 4.0  # the restart backoff: long enough to ask a question while it is down


@dataclass
class Shop:
    base_url: str
    supervisor: OrderApiSupervisor
    app: Any


@pytest.fixture
def shop(default_model_path: Path, tmp_path: Path) -> Iterator[Shop]:
    defaults = Settings()
    settings = Settings(
        model=DEFAULT_MODEL,
        data_dir=tmp_path,
        engine=EngineSettings(max_model_len=1024, max_num_seqs=2, n_threads=1),
        knowledge=KnowledgeSettings(
            store=str(tmp_path / "knowledge.sqlite3"),
            embedding=EmbeddingSettings(n_threads=1),
        ),
        assistant=AssistantSettings(db_path=tmp_path / "assistant.sqlite3"),
        gateway=GatewaySettings(db_path=tmp_path / "gateway.sqlite3"),
        cache=CacheSettings(enabled=False),  # every order question reaches the Order API
    )
    knowledge = KnowledgeBase.open(
        settings.knowledge, settings.knowledge_store, defaults.models_dir
    )
    ref = CollectionRef(settings.knowledge.default_tenant, DEMO_COLLECTION)
    files = [(shop_articles_dir(), shop_articles_dir() / name) for name in ARTICLES]
    assert not knowledge.ingestor.ingest_files(ref, files).failures
    supervisor = OrderApiSupervisor(
        OrdersSettings(),
        db_path=tmp_path / "orders.sqlite3",
        backoff=RestartBackoff(base_s=DOWN_S, cap_s=DOWN_S),
        quiet=True,
    )
    engine = LocalEngine(settings.model, default_model_path, settings.engine)
    supervisor.start()
    try:
        # the tools give up quickly, so a question asked while the API is down is answered
        # long before the restart (the supervisor keeps the port: a call waits, not refused)
        orders = OrderClient(supervisor.url, supervisor.token)
        shop = quick_tools(demo_definition("shop"), tmp_path)
        assistant = open_assistants(
            settings, LocalChatModel(engine), knowledge, definitions={"shop": shop}, orders=orders
        )
        app = create_app(
            engine, settings, knowledge=knowledge, assistants=assistant, order_api=supervisor
        )
        with serve(app) as base_url:
            yield Shop(base_url, supervisor, app)
    finally:
        supervisor.stop()
        engine.close()
        knowledge.close()


def quick_tools(definition: AssistantDefinition, folder: Path) -> AssistantDefinition:
    """``definition`` with its tools timing out after 0.3 s, get_order retried once."""
    assert definition.tools is not None
    text = definition.tools.read_text().replace("timeout_s = 2.0", "timeout_s = 0.3")
    text = text.replace('name = "get_order"', 'name = "get_order"\nretries = 1')
    assert "timeout_s = 0.3" in text
    (folder / "quick_tools.toml").write_text(text)
    return definition.model_copy(update={"tools": folder / "quick_tools.toml"})


def turn(base_url: str, message: str, session_id: str | None = None) -> list[tuple[str, Any]]:
    """The turn's ``(event, data)`` pairs."""
    body = {"customer_id": CUSTOMER, "message": message, "session_id": session_id}
    response = httpx.post(f"{base_url}/v1/assistant/chat", json=body, timeout=120)
    assert response.status_code == 200, response.text
    events = []
    for block in response.text.strip().split("\n\n"):
        kind, data = block.split("\n")
        events.append((kind.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events


def of(events: list[tuple[str, Any]], kind: str) -> list[Any]:
    return [data for k, data in events if k == kind]


def said(events: list[tuple[str, Any]]) -> str:
    return "".join(data["text"] for data in of(events, "token"))


def order_api_state(base_url: str) -> tuple[int, str, str]:
    status, body = health(base_url)
    return status, body["status"], body["order_api"]["state"]


def test_the_order_api_killed_mid_conversation_and_restarted(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    first = turn(shop.base_url, f"Where is my order {ORDER}?")
    session = of(first, "done")[0]["session_id"]
    pid = shop.supervisor.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)

    during = until(lambda: order_api_state(shop.base_url), lambda s: s[2] == "down", 10)
    second = turn(shop.base_url, f"Has {ORDER} shipped yet?", session)
    after = until(lambda: order_api_state(shop.base_url), lambda s: s[2] == "up", 30)
    third = turn(shop.base_url, f"And where is {ORDER} now?", session)
    history = httpx.get(
        f"{shop.base_url}/v1/assistant/sessions/{session}",
        params={"customer_id": CUSTOMER},
        timeout=10,
    ).json()["messages"]
    rows = gateway_harness.logged(shop.app, 3)

    # what the user sees: the order, then "unavailable" and a handoff offer, then the order
    for answered in (first, third):
        (result,) = of(answered, "tool_result")
        assert (result["tool"], result["ok"], result["data"]["status"]) == (
            "get_order", True, "in_transit",
        )  # fmt: skip
        assert said(answered).startswith(f"Your order {ORDER} is in transit.")
    (result,) = of(second, "tool_result")
    assert (result["ok"], result["error"]) == (False, "unavailable")
    assert said(second) == UNAVAILABLE_ANSWER
    assert [h["reason"] for h in of(second, "handoff")] == ["service_unavailable"]
    assert "in transit" not in said(second)  # never a guessed status
    assert during == (200, "degraded", "down")
    assert after == (200, "ok", "up")
    # what is logged: the exit and the restart by the supervisor, nothing per request
    lines = logged(caplog, logging.INFO)
    assert any(line.startswith("the Order API exited: killed by SIGKILL after") for line in lines)
    assert any(line.startswith("the Order API is up again (pid") for line in lines)
    assert not tracebacks(caplog)
    # what is kept: the whole conversation, in one session, and every turn in the log
    assert [(m["index"], m["role"]) for m in history] == [
        (i, "user" if i % 2 == 0 else "assistant") for i in range(6)
    ]
    assert [m["content"] for m in history[1::2]] == [said(t) for t in (first, second, third)]
    assert sorted(r.record.status for r in rows) == [200, 200, 200]
