"""The Order API as a real process: ``switchboard orders serve`` on a free loopback port,
``switchboard orders customers --json``, and the start/stop helper ``serve`` uses (its
supervision: ``test_order_api_supervision``)."""

from __future__ import annotations

import json
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

from switchboard.config import OrdersSettings, Settings
from switchboard.orders.process import stop, wait_healthy
from switchboard.orders.supervisor import order_service

pytestmark = pytest.mark.integration

SWITCHBOARD = str(Path(sys.executable).with_name("switchboard"))
TOKEN = OrdersSettings().service_token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(tmp_path / "absent.toml"))
    return dict(os.environ)


@pytest.fixture
def server(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [SWITCHBOARD, "orders", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}", timeout_s=20)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
    assert proc.returncode is not None


def customers(env: dict[str, str]) -> list[dict[str, object]]:
    result = subprocess.run(
        [SWITCHBOARD, "orders", "customers", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_customers_json_has_the_exact_shape(env: dict[str, str]) -> None:
    rows = customers(env)
    assert len(rows) == 25
    for row in rows:
        assert set(row) == {"customer_id", "name", "orders"}
        assert isinstance(row["customer_id"], str)
        assert isinstance(row["name"], str)
        orders = row["orders"]
        assert isinstance(orders, list)
        assert orders
        for order in orders:
            assert set(order) == {"order_id", "status"}
            assert all(isinstance(value, str) for value in order.values())
    assert Path(env["SWITCHBOARD_DATA_DIR"], "orders.sqlite3").exists()


def test_served_api_answers_and_hides_other_customers_orders(
    server: str, env: dict[str, str]
) -> None:
    rows = customers(env)  # same data dir: the database the server seeded
    owner, other = rows[0], rows[1]
    order_id = owner["orders"][0]["order_id"]  # type: ignore[index]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server, headers=auth, timeout=5) as client:
        mine = client.get(f"/customers/{owner['customer_id']}/orders/{order_id}")
        probe = client.get(f"/customers/{other['customer_id']}/orders/{order_id}")
        listing = client.get(f"/customers/{owner['customer_id']}/orders")
    assert mine.status_code == 200
    assert mine.json()["order_id"] == order_id
    assert probe.status_code == 404
    assert probe.json()["error"]["code"] == "order_not_found"
    assert listing.status_code == 200
    assert len(listing.json()["orders"]) == len(owner["orders"])  # type: ignore[arg-type]
    assert httpx.get(f"{server}/customers/C1001/orders", timeout=5).status_code == 401


def test_a_standalone_order_api_on_port_0_prints_the_port_it_took(env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [SWITCHBOARD, "orders", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().decode().strip().removeprefix("Order API: ")
        assert url.startswith("http://127.0.0.1:")
        wait_healthy(proc, url, timeout_s=20)
        auth = {"Authorization": f"Bearer {TOKEN}"}  # the configured token, standalone
        assert httpx.get(f"{url}/customers", headers=auth, timeout=5).status_code == 200
    finally:
        stop(proc)


def test_order_service_helper_starts_and_stops_the_process(env: dict[str, str]) -> None:
    settings = Settings().orders.model_copy(update={"port": free_port()})
    with order_service(settings, timeout_s=20) as orders:
        assert orders.url == f"http://127.0.0.1:{settings.port}"
        assert httpx.get(f"{orders.url}/health", timeout=5).json() == {"status": "ok"}
        pid = orders.pid
    assert pid is not None
    assert not running(pid)


PARENT = """
import sys, time
from switchboard.config import Settings
from switchboard.orders.supervisor import order_service
settings = Settings().orders.model_copy(update={"port": int(sys.argv[1])})
with order_service(settings) as orders:
    print("PID", orders.pid, flush=True)
    time.sleep(120)
"""


def test_the_order_api_stops_when_its_parent_is_killed(env: dict[str, str]) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(free_port())], env=env, stdout=subprocess.PIPE
    )
    try:
        assert parent.stdout is not None
        lines = iter(parent.stdout.readline, b"")
        child = next(int(line.split()[1]) for line in lines if line.startswith(b"PID "))
        parent.kill()  # SIGKILL: no finally block runs in the parent
        parent.wait()
        deadline = time.monotonic() + 10
        while running(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        if running(child):
            os.kill(child, signal.SIGKILL)
            pytest.fail("the Order API outlived its parent")
    finally:
        parent.kill()


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie awaiting its reaper has exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"
