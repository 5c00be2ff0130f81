"""Verified customers end to end: keys and customer tokens minted by the real CLI (a child
process), the real app served over loopback HTTP with authentication on. The assistant
under it is the orchestrator of fakes of ``assistant_rig`` (what is tested is who it may
act for, not what it answers)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard.api import create_app
from switchboard.config import GatewaySettings, GuardSettings, Settings
from switchboard_bench.uvicorn_thread import serve
from tests.unit.assistant_rig import ALICE, ALICE_ORDER, BOB, Rig, route, served_shop
from tests.unit.demo_shop import Intent
from tests.unit.test_api_assistant import sse_blocks
from tests.unit.test_api_routes import MODEL, FakeServedEngine

pytestmark = pytest.mark.integration


@dataclass
class Server:
    base_url: str
    data_dir: Path
    rig: Rig

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "SWITCHBOARD_DATA_DIR": str(self.data_dir),
            "SWITCHBOARD_CONFIG": str(self.data_dir / "absent.toml"),
        }
        return subprocess.run(
            [sys.executable, "-m", "switchboard.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def last_line(self, *args: str) -> str:
        result = self.cli(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()[-1]

    def customer(self, tenant: str, customer: str) -> dict[str, str]:
        """Headers of a new assistant key of ``tenant`` and a CLI token for ``customer``."""
        key = self.last_line("keys", "create", "--tenant", tenant, "--scopes", "assistant")
        token = self.last_line("assistant", "token", customer, "--tenant", tenant)
        return {"Authorization": f"Bearer {key}", "x-customer-token": token}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("verified")
    rig = Rig(data)
    engine = FakeServedEngine()
    assistant = served_shop(rig)
    settings = Settings(
        model=MODEL,
        data_dir=data,
        guard=GuardSettings(enabled=False),
        gateway=GatewaySettings(auth="on"),
    )
    try:
        with serve(create_app(engine, settings, assistants=assistant)) as base_url:
            yield Server(base_url, data, rig)
    finally:
        engine.async_engine.shutdown()


def chat(server: Server, headers: dict[str, str], **body: Any) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/v1/assistant/chat",
        headers=headers,
        json={"message": "hi", **body},
        timeout=30,
    )


def error_code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_a_cli_token_works_end_to_end_and_only_for_its_customer(server: Server) -> None:
    server.rig.router.default = route(Intent.ORDER_STATUS)
    alice = server.customer("acme", ALICE)

    response = chat(server, alice, message=f"Where is {ALICE_ORDER}?")

    assert response.status_code == 200, response.text
    blocks = sse_blocks(response.text)
    tool = next(data for kind, data in blocks if kind == "tool_result")
    assert tool["data"]["customer_id"] == ALICE
    session = blocks[-1][1]["session_id"]
    listed = httpx.get(f"{server.base_url}/v1/assistant/sessions", headers=alice)
    assert [s["session_id"] for s in listed.json()["data"]] == [session]
    mismatch = chat(server, alice, customer_id=BOB)
    assert error_code(mismatch) == (403, "customer_mismatch")


def test_without_a_valid_token_the_chat_is_401(server: Server) -> None:
    key = {"Authorization": server.customer("acme", ALICE)["Authorization"]}
    assert error_code(chat(server, key, customer_id=ALICE)) == (401, "customer_token_required")
    bad = {**key, "x-customer-token": "sbc1.bm90.c2ln"}
    assert error_code(chat(server, bad)) == (401, "customer_token_invalid")
    huge = {**key, "x-customer-token": "sbc1." + "A" * 6000 + ".c2ln"}
    assert error_code(chat(server, huge)) == (401, "customer_token_invalid")


def test_another_tenant_cannot_list_or_read_the_sessions_and_tickets(server: Server) -> None:
    server.rig.router.default = route(Intent.HUMAN_HANDOFF)
    acme = server.customer("acme", ALICE)
    response = chat(server, acme, message="a person, please")
    assert response.status_code == 200, response.text
    session = sse_blocks(response.text)[-1][1]["session_id"]
    globex = server.customer("globex", ALICE)  # the same customer id, another shop

    def get(headers: dict[str, str], path: str) -> httpx.Response:
        return httpx.get(f"{server.base_url}/v1/assistant{path}", headers=headers)

    assert get(acme, "/tickets").json()["data"][0]["session_id"] == session
    assert get(acme, f"/sessions/{session}").status_code == 200
    assert session not in [s["session_id"] for s in get(globex, "/sessions").json()["data"]]
    assert get(globex, "/tickets").json() == {"data": []}
    assert error_code(get(globex, f"/sessions/{session}")) == (404, "session_not_found")
    continued = chat(server, globex, session_id=session)
    assert error_code(continued) == (404, "session_not_found")
    cross = {"Authorization": globex["Authorization"], "x-customer-token": acme["x-customer-token"]}
    assert error_code(get(cross, "/sessions")) == (401, "customer_token_invalid")


def test_the_customer_directory_is_absent_outside_demo_mode(server: Server) -> None:
    alice = server.customer("acme", ALICE)
    response = httpx.get(f"{server.base_url}/v1/assistant/customers", headers=alice)
    assert response.status_code == 404
    assert ("list_customers",) not in server.rig.orders.calls


def test_the_cli_refuses_an_unknown_tenant_in_one_line(server: Server) -> None:
    result = server.cli("assistant", "token", ALICE, "--tenant", "nobody")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: unknown tenant 'nobody': no API key was ever issued for it"
    ]
