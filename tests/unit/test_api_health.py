"""``GET /health``: one entry per dependency (engine, Order API, stores) and the overall
status they add up to, with 200 for ok and degraded and 503 for down; a damaged store
starts, is reported and logged, and the requests that need it get a 503 naming the file."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from switchboard.api import create_app
from switchboard.api.health import OrderApiProbe
from switchboard.config import CacheSettings, KnowledgeSettings
from switchboard.health import Status, impact, worst
from switchboard.orders.supervisor import OrderApiHealth, OrderApiState
from switchboard.rag.knowledge import KnowledgeBase
from switchboard.rag.store import SQLiteStore
from tests.unit.test_api_knowledge import MiniLMStandIn
from tests.unit.test_api_routes import FakeServedEngine, _settings
from tests.unit.test_sqlite_file import not_a_database

pytestmark = pytest.mark.unit


class FakeOrderApi:
    def __init__(self, state: OrderApiState, last_error: str | None = None) -> None:
        self.state = state
        self.last_error = last_error

    def health(self) -> OrderApiHealth:
        return OrderApiHealth(self.state, "http://127.0.0.1:1234", None, 0, self.last_error)


@contextmanager
def served(
    folder: Path, *, cache: bool = False, order_api: OrderApiProbe | None = None
) -> Iterator[TestClient]:
    settings = _settings(folder)
    if cache:
        settings = settings.model_copy(update={"cache": CacheSettings()})
    store = SQLiteStore(folder / "knowledge.sqlite3")
    knowledge = KnowledgeBase.assemble(KnowledgeSettings(), store, MiniLMStandIn())
    engine = FakeServedEngine()
    app = create_app(engine, settings, knowledge=knowledge, order_api=order_api)
    try:
        with TestClient(app) as client:
            yield client
    finally:
        engine.async_engine.shutdown()
        knowledge.close()


def test_everything_up_is_ok(tmp_path: Path) -> None:
    with served(tmp_path, order_api=FakeOrderApi(OrderApiState.UP)) as client:
        response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["engine"]["status"] == "ok"
    assert body["order_api"] == {
        "status": "ok",
        "state": "up",
        "url": "http://127.0.0.1:1234",
        "pid": None,
        "restarts": 0,
        "last_error": None,
    }
    assert set(body["stores"]) == {"knowledge", "gateway"}
    assert body["stores"]["knowledge"] == {
        "status": "ok",
        "path": str(tmp_path / "knowledge.sqlite3"),
        "quick_check": "ok",
        "errors": 0,
        "last_error": None,
    }


def test_an_order_api_that_is_down_degrades_the_server(tmp_path: Path) -> None:
    probe = FakeOrderApi(OrderApiState.DOWN, "exited: killed by SIGKILL")
    with served(tmp_path, order_api=probe) as client:
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["order_api"]["status"] == "degraded"
    assert response.json()["order_api"]["last_error"] == "exited: killed by SIGKILL"


def test_a_damaged_knowledge_store_is_down_logged_at_start_and_searches_get_503(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = not_a_database(tmp_path / "knowledge.sqlite3")
    with caplog.at_level(logging.ERROR), served(tmp_path) as client:
        health = client.get("/health")
        search = client.post("/v1/search", json={"query": "refunds", "collection": "shop"})
    assert health.status_code == 503
    body = health.json()
    assert body["status"] == "down"
    assert body["stores"]["knowledge"]["status"] == "down"
    assert body["stores"]["knowledge"]["quick_check"] == "not run: file is not a database"
    assert body["stores"]["gateway"]["status"] == "ok"
    assert search.status_code == 503
    error = search.json()["error"]
    assert error["code"] == "storage_error"
    assert error["type"] == "server_error"
    assert error["message"].startswith(f"{path} is not a SQLite database")
    assert f"store knowledge: {path} is not a SQLite database" in caplog.text


def test_a_damaged_cache_only_degrades_the_server(tmp_path: Path) -> None:
    not_a_database(tmp_path / "cache.sqlite3")
    with served(tmp_path, cache=True) as client:
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["stores"]["cache"]["status"] == "down"


def test_statuses_add_up_to_the_worst_that_matters() -> None:
    assert worst([]) is Status.OK
    assert worst([Status.OK, Status.DOWN, Status.DEGRADED]) is Status.DOWN
    assert impact(Status.DOWN, critical=True) is Status.DOWN
    assert impact(Status.DOWN, critical=False) is Status.DEGRADED
    assert impact(Status.OK, critical=False) is Status.OK
