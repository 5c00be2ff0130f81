"""The Order API beside the server, supervised: its port (a free one by default, a taken
configured one fails the start), a fresh service token per start, and a child that dies is
restarted while ``/health`` shows it down, then up."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from switchboard.api import create_app
from switchboard.assistant.order_client import OrderClient
from switchboard.backoff import RestartBackoff
from switchboard.config import OrdersSettings
from switchboard.errors import ServiceStartError
from switchboard.orders.supervisor import OrderApiSupervisor, order_service
from switchboard_bench.uvicorn_thread import serve
from tests.integration.test_orders_process import env  # noqa: F401 (the fixture)
from tests.unit.test_api_routes import FakeServedEngine, _settings

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("env")]  # a fresh data dir

SWITCHBOARD = str(Path(sys.executable).with_name("switchboard"))
DEV_TOKEN = OrdersSettings().service_token
CUSTOMER = "C1001"


@pytest.fixture
def squatter() -> Iterator[int]:
    """Something else listening on a loopback port."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield int(sock.getsockname()[1])


def orders_of(url: str, token: str) -> list[str]:
    async def call() -> list[str]:
        async with OrderClient(url, token) as client:
            return [o.order_id for o in await client.list_orders(CUSTOMER)]

    return asyncio.run(call())


def test_a_taken_configured_port_fails_the_start(squatter: int) -> None:
    with (
        pytest.raises(ServiceStartError) as raised,
        order_service(OrdersSettings(port=squatter), quiet=True),
    ):
        pass
    assert str(raised.value) == (
        f"the Order API's port 127.0.0.1:{squatter} is already in use: set orders.port to a "
        "free port, or to 0 for one chosen at start"
    )


def test_serve_fails_on_a_taken_order_api_port_with_one_line(
    squatter: int, default_model_path: Path
) -> None:
    result = subprocess.run(
        [SWITCHBOARD, "serve", "--model", str(default_model_path)],
        env={**os.environ, "SWITCHBOARD_ORDERS__PORT": str(squatter)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: the Order API's port 127.0.0.1:{squatter} is already in use: set orders.port "
        "to a free port, or to 0 for one chosen at start"
    )


def test_the_default_start_takes_a_free_port_even_when_8001_is_taken() -> None:
    held = None
    with contextlib.suppress(OSError):  # something else may have it: taken either way
        held = socket.create_server(("127.0.0.1", 8001))
    try:
        with order_service(OrdersSettings(), quiet=True) as orders:
            assert not orders.url.endswith(":8001")
            assert orders_of(orders.url, orders.token)
    finally:
        if held is not None:
            held.close()


def test_each_start_has_a_fresh_token_kept_off_the_command_line() -> None:
    tokens = []
    for _ in range(2):
        with order_service(OrdersSettings(), quiet=True) as orders:
            assert orders.pid is not None
            assert orders.token.encode() not in Path(f"/proc/{orders.pid}/cmdline").read_bytes()
            assert orders_of(orders.url, orders.token)
            refused = httpx.get(
                f"{orders.url}/customers",
                headers={"Authorization": f"Bearer {DEV_TOKEN}"},
                timeout=5,
            )
            assert refused.status_code == 401
            tokens.append(orders.token)
    assert tokens[0] != tokens[1]
    assert all(len(token) >= 43 for token in tokens)  # token_urlsafe(32): 256 random bits


def order_api_health(base_url: str) -> tuple[int, str, str]:
    response = httpx.get(f"{base_url}/health", timeout=5)
    body = response.json()
    return response.status_code, body["status"], body["order_api"]["state"]


def wait_for_state(base_url: str, state: str, timeout_s: float) -> tuple[int, str, str]:
    deadline = time.monotonic() + timeout_s
    seen = order_api_health(base_url)
    while seen[2] != state and time.monotonic() < deadline:
        time.sleep(0.02)
        seen = order_api_health(base_url)
    return seen


def test_a_killed_order_api_is_restarted_on_the_same_port_and_health_follows(
    tmp_path: Path,
) -> None:
    backoff = RestartBackoff(base_s=2.0, cap_s=2.0)  # 1-2 s down: /health can see it
    supervisor = OrderApiSupervisor(OrdersSettings(), backoff=backoff, quiet=True)
    supervisor.start()
    try:
        app = create_app(FakeServedEngine(), _settings(tmp_path), order_api=supervisor)
        with serve(app) as base_url:
            assert order_api_health(base_url) == (200, "ok", "up")
            before = orders_of(supervisor.url, supervisor.token)
            first_pid = supervisor.pid
            assert first_pid is not None
            os.kill(first_pid, signal.SIGKILL)

            assert wait_for_state(base_url, "down", 10) == (200, "degraded", "down")
            body = httpx.get(f"{base_url}/health", timeout=5).json()["order_api"]
            assert body["last_error"] == "exited: killed by SIGKILL"
            port = int(supervisor.url.rsplit(":", 1)[1])
            with pytest.raises(OSError, match="Address already in use"):  # the port stays ours
                socket.create_server(("127.0.0.1", port))
            # a call made while it is down waits in the socket's backlog and is answered
            waited = httpx.get(
                f"{supervisor.url}/customers/{CUSTOMER}/orders",
                headers={"Authorization": f"Bearer {supervisor.token}"},
                timeout=60,
            )
            assert [o["order_id"] for o in waited.json()["orders"]] == before

            assert wait_for_state(base_url, "up", 30) == (200, "ok", "up")
            assert supervisor.pid != first_pid
            health = httpx.get(f"{base_url}/health", timeout=5).json()["order_api"]
            assert health["restarts"] == 1
    finally:
        supervisor.stop()
    assert supervisor.health().state == "stopped"
