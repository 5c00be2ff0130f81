"""The assistant's Order API client against the real Order API app, served by uvicorn on
loopback over a temporary database seeded with the demo dataset."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from switchboard.assistant.order_client import OrderClient, RetryPolicy
from switchboard.circuit_breaker import CircuitBreaker
from switchboard.errors import OrderServiceUnavailable
from switchboard.orders.dataset import generate_dataset
from switchboard.orders.db import OrderDB
from switchboard.orders.service import create_order_app

pytestmark = pytest.mark.integration

TOKEN = "live-test-token"
DATASET = generate_dataset()
ORDER = next(o for o in DATASET.orders if o.shipment and o.shipment.events)
OTHERS = next(o for o in DATASET.orders if o.customer_id != ORDER.customer_id)
FAST = RetryPolicy(timeout_s=0.5, max_retries=1, backoff_base_s=0.01, backoff_max_s=0.05)


class Server:
    def __init__(self, db: OrderDB) -> None:
        config = uvicorn.Config(
            create_order_app(db, TOKEN), host="127.0.0.1", port=0, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="orders", daemon=True)

    def start(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@contextmanager
def live_order_api(folder: Path) -> Iterator[tuple[OrderDB, Server, str]]:
    """The Order API over a fresh database of the demo dataset in ``folder``, on loopback."""
    db = OrderDB(folder / "orders.sqlite3")
    db.seed(DATASET)
    server = Server(db)
    url = server.start()
    try:
        yield db, server, url
    finally:
        server.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    with live_order_api(tmp_path) as (_, server, url):
        yield server, url


def client(url: str) -> OrderClient:
    return OrderClient(url, TOKEN, policy=FAST, breaker=CircuitBreaker(failure_threshold=2))


def test_reads_orders_then_reports_the_service_down(server: tuple[Server, str]) -> None:
    live, url = server

    async def scenario() -> None:
        async with client(url) as orders:
            summaries = await orders.list_orders(ORDER.customer_id)
            assert ORDER.order_id in {s.order_id for s in summaries}
            assert [s.placed_at for s in summaries] == sorted(
                (s.placed_at for s in summaries), reverse=True
            )
            assert await orders.get_order(ORDER.customer_id, ORDER.order_id) == ORDER
            assert await orders.get_order(ORDER.customer_id, OTHERS.order_id) is None

            live.stop()
            started = time.monotonic()
            with pytest.raises(OrderServiceUnavailable):
                await orders.get_order(ORDER.customer_id, ORDER.order_id)
            assert time.monotonic() - started < 3

    asyncio.run(scenario())
