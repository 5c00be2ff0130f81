"""Verified customers over the app with authentication on (an orchestrator of fakes, see
``assistant_rig``): the ``x-customer-token`` rules of ``/v1/assistant``, tenant and customer
scoping of sessions and tickets, the admin and demo token endpoints, and demo mode."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, cast

import pytest
from fastapi.testclient import TestClient

from switchboard.api.auth import AuthConfig
from switchboard.config import AssistantSettings, GatewaySettings
from switchboard.gateway.customer_secrets import CustomerSecrets
from switchboard.gateway.keys import KeyStore
from switchboard.gateway.types import Scope
from tests.unit.assistant_rig import ALICE, ALICE_ORDER, BOB, Rig, route
from tests.unit.demo_shop import Intent
from tests.unit.test_api_assistant import assert_error, rig_app, sse_blocks

pytestmark = pytest.mark.unit

CHAT = "/v1/assistant/chat"


class Shop:
    """The app's client, the rig under it, and helpers for keys and customer tokens."""

    def __init__(self, client: TestClient, rig: Rig) -> None:
        self.client = client
        self.rig = rig
        auth: AuthConfig = client.app.state.auth  # type: ignore[attr-defined]
        self.keys = cast(KeyStore, auth.keys)
        self.tokens = cast(CustomerSecrets, auth.customer_tokens)

    def key(self, tenant: str, *scopes: Scope) -> dict[str, str]:
        token = self.keys.create(tenant=tenant, scopes=scopes or [Scope.ASSISTANT]).token
        return {"Authorization": f"Bearer {token}"}

    def customer(self, tenant: str, customer: str, **mint: Any) -> dict[str, str]:
        """A key of ``tenant`` and a customer token for ``customer`` of it, as headers."""
        minted = self.tokens.mint(tenant, customer, **mint)
        return {**self.key(tenant), "x-customer-token": minted.token}

    def chat(self, headers: dict[str, str], **body: Any) -> list[tuple[str, Any]]:
        response = self.client.post(CHAT, headers=headers, json={"message": "hi", **body})
        assert response.status_code == 200, response.text
        return sse_blocks(response.text)


@contextmanager
def shop_app(
    tmp_path: Path, auth: Literal["on", "off"], demo: Literal["auto", "on", "off"] = "auto"
) -> Iterator[Shop]:
    with rig_app(tmp_path, AssistantSettings(demo=demo), GatewaySettings(auth=auth)) as app:
        yield Shop(app.client, app.rig)


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    with shop_app(tmp_path, "on") as served:
        yield served


def session_of(blocks: list[tuple[str, Any]]) -> str:
    return str(blocks[-1][1]["session_id"])


# -- the chat's customer ----------------------------------------------------------------------


def test_a_chat_without_a_customer_token_is_refused(shop: Shop) -> None:
    for body in ({"customer_id": ALICE}, {}):
        response = shop.client.post(CHAT, headers=shop.key("acme"), json={"message": "hi", **body})
        assert_error(response, 401, "customer_token_required", kind="authentication_error")
    assert shop.rig.router.seen == []
    assert shop.rig.store.list_sessions(ALICE, tenant="acme") == []


@pytest.mark.parametrize(
    "token", ["nonsense", "sbc1.e30.AAAA", "sbc1." + "A" * 5000 + ".AAAA", "  ", "sbc1..."]
)
def test_a_malformed_customer_token_is_invalid(shop: Shop, token: str) -> None:
    headers = {**shop.key("acme"), "x-customer-token": token}
    response = shop.client.post(CHAT, headers=headers, json={"message": "hi"})
    code = "customer_token_required" if not token.strip() else "customer_token_invalid"
    assert_error(response, 401, code, kind="authentication_error")


def test_an_expired_customer_token_is_refused(shop: Shop) -> None:
    headers = shop.customer("acme", ALICE, ttl_s=60, now=time.time() - 61)
    response = shop.client.post(CHAT, headers=headers, json={"message": "hi"})
    assert_error(response, 401, "customer_token_expired", kind="authentication_error")


def test_another_tenants_customer_token_is_invalid(shop: Shop) -> None:
    globex_token = shop.tokens.mint("globex", ALICE).token
    headers = {**shop.key("acme"), "x-customer-token": globex_token}
    response = shop.client.post(CHAT, headers=headers, json={"message": "hi"})
    message = assert_error(response, 401, "customer_token_invalid", kind="authentication_error")
    assert "another tenant" in message["message"]


def test_a_token_for_another_customer_than_the_body_names_is_403(shop: Shop) -> None:
    headers = shop.customer("acme", ALICE)
    response = shop.client.post(CHAT, headers=headers, json={"customer_id": BOB, "message": "x"})
    assert_error(response, 403, "customer_mismatch", "customer_id", kind="permission_error")
    assert shop.rig.router.seen == []


def test_a_verified_turn_acts_for_the_tokens_customer_only(shop: Shop) -> None:
    shop.rig.router.default = route(Intent.ORDER_STATUS)
    headers = shop.customer("acme", ALICE)

    blocks = shop.chat(headers, message=f"Where is {ALICE_ORDER}?")  # no customer_id
    session = session_of(blocks)
    named = shop.chat(headers, customer_id=ALICE, session_id=session, message="And now?")

    tool = next(data for kind, data in blocks if kind == "tool_result")
    assert (tool["ok"], tool["data"]["customer_id"]) == (True, ALICE)
    assert session_of(named) == session
    assert [s.id for s in shop.rig.store.list_sessions(ALICE, tenant="acme")] == [session]
    assert shop.rig.store.list_sessions(ALICE) == []  # not in the default tenant


def test_a_session_stays_bound_to_its_customer(shop: Shop) -> None:
    alice_session = session_of(shop.chat(shop.customer("acme", ALICE)))
    response = shop.client.post(
        CHAT,
        headers=shop.customer("acme", BOB),
        json={"message": "hi", "session_id": alice_session},
    )
    assert_error(response, 404, "session_not_found", None)
    again = shop.chat(shop.customer("acme", ALICE), session_id=alice_session)
    assert session_of(again) == alice_session


# -- sessions and tickets, by tenant and customer ------------------------------------------------


def test_another_tenant_cannot_list_or_read_sessions_and_tickets(shop: Shop) -> None:
    shop.rig.router.default = route(Intent.HUMAN_HANDOFF)
    acme_alice = shop.customer("acme", ALICE)
    session = session_of(shop.chat(acme_alice, message="a person please"))
    globex_alice = shop.customer("globex", ALICE)  # the same customer id in another shop

    def read(headers: dict[str, str], path: str) -> Any:
        return shop.client.get(f"/v1/assistant{path}", headers=headers)

    assert [s["session_id"] for s in read(acme_alice, "/sessions").json()["data"]] == [session]
    assert len(read(acme_alice, "/tickets").json()["data"]) == 1
    history = read(acme_alice, f"/sessions/{session}").json()
    assert history["customer_id"] == ALICE
    assert [m["role"] for m in history["messages"]] == ["user", "assistant"]

    assert read(globex_alice, "/sessions").json() == {"data": []}
    assert read(globex_alice, "/tickets").json() == {"data": []}
    assert_error(read(globex_alice, f"/sessions/{session}"), 404, "session_not_found")
    acme_bob = shop.customer("acme", BOB)  # another customer of the same shop
    assert read(acme_bob, "/sessions").json() == {"data": []}
    assert_error(read(acme_bob, f"/sessions/{session}"), 404, "session_not_found")


def test_reading_sessions_needs_a_matching_customer_token(shop: Shop) -> None:
    key = shop.key("acme")
    for path in ("/sessions", "/tickets", "/sessions/abc"):
        response = shop.client.get(
            f"/v1/assistant{path}", headers=key, params={"customer_id": ALICE}
        )
        assert_error(response, 401, "customer_token_required", kind="authentication_error")
    response = shop.client.get(
        "/v1/assistant/sessions", headers=shop.customer("acme", ALICE), params={"customer_id": BOB}
    )
    assert_error(response, 403, "customer_mismatch", "customer_id", kind="permission_error")


# -- minting ------------------------------------------------------------------------------------


def test_an_admin_key_mints_tokens_for_its_own_tenant(shop: Shop) -> None:
    admin = shop.key("acme", Scope.ADMIN)
    response = shop.client.post(
        "/v1/admin/customer-tokens", headers=admin, json={"customer_id": ALICE, "ttl_s": 120}
    )
    assert response.status_code == 201, response.text
    minted = response.json()
    assert (minted["object"], minted["customer_id"], minted["tenant"]) == (
        "customer_token",
        ALICE,
        "acme",
    )
    assert time.time() < minted["expires_at"] <= time.time() + 120
    headers = {**shop.key("acme"), "x-customer-token": minted["token"]}
    assert shop.chat(headers)[-1][0] == "done"

    other = shop.client.post(
        "/v1/admin/customer-tokens", headers=admin, json={"customer_id": ALICE, "tenant": "globex"}
    )
    assert_error(other, 403, "insufficient_scope", "tenant", kind="permission_error")
    not_admin = shop.client.post(
        "/v1/admin/customer-tokens", headers=shop.key("acme"), json={"customer_id": ALICE}
    )
    assert not_admin.status_code == 403
    too_long = shop.client.post(
        "/v1/admin/customer-tokens", headers=admin, json={"customer_id": ALICE, "ttl_s": 10**6}
    )
    assert_error(too_long, 400, None)
    bad_customer = shop.client.post(
        "/v1/admin/customer-tokens", headers=admin, json={"customer_id": "a b"}
    )
    assert bad_customer.status_code == 400


def test_rotating_the_secret_keeps_or_ends_old_tokens(shop: Shop) -> None:
    admin = shop.key("acme", Scope.ADMIN)
    old = shop.customer("acme", ALICE)
    rotate = "/v1/admin/customer-tokens/rotate"
    assert shop.client.post(rotate, headers=admin, json={}).status_code == 200
    assert shop.chat(old)[-1][0] == "done"  # within the grace period
    assert shop.client.post(rotate, headers=admin, json={"grace_s": 0}).status_code == 200
    response = shop.client.post(CHAT, headers=old, json={"message": "hi"})
    assert_error(response, 401, "customer_token_invalid", kind="authentication_error")
    assert shop.chat(shop.customer("acme", ALICE))[-1][0] == "done"


# -- demo mode ----------------------------------------------------------------------------------


def test_the_customer_directory_and_demo_tokens_need_demo_mode(shop: Shop) -> None:
    headers = shop.customer("acme", ALICE)
    assert_error(shop.client.get("/v1/assistant/customers", headers=headers), 404, "not_found")
    response = shop.client.post(
        "/v1/assistant/demo/token", headers=headers, json={"customer_id": BOB}
    )
    assert_error(response, 404, "not_found")


def test_demo_mode_on_serves_the_directory_behind_auth(tmp_path: Path) -> None:
    with shop_app(tmp_path, "on", demo="on") as shop:
        assert shop.client.get("/v1/assistant/customers").status_code == 401
        listed = shop.client.get("/v1/assistant/customers", headers=shop.key("acme"))
        assert listed.status_code == 200
        minted = shop.client.post(
            "/v1/assistant/demo/token", headers=shop.key("acme"), json={"customer_id": BOB}
        ).json()
        headers = {**shop.key("acme"), "x-customer-token": minted["token"]}
        assert shop.chat(headers, customer_id=BOB)[-1][0] == "done"
        assert len(shop.rig.store.list_sessions(BOB, tenant="acme")) == 1


def test_with_auth_off_the_body_names_the_customer_and_a_token_is_still_checked(
    tmp_path: Path,
) -> None:
    with shop_app(tmp_path, "off") as shop:
        assert shop.client.get("/v1/assistant/customers").status_code == 200  # auto: demo
        assert shop.chat({}, customer_id=ALICE)[-1][0] == "done"
        missing = shop.client.post(CHAT, json={"message": "hi"})
        assert_error(missing, 400, None, "customer_id")
        minted = shop.client.post("/v1/assistant/demo/token", json={"customer_id": BOB})
        token = {"x-customer-token": minted.json()["token"]}
        assert shop.chat(token)[-1][0] == "done"
        assert len(shop.rig.store.list_sessions(BOB)) == 1  # the default tenant
        mismatch = shop.client.post(
            CHAT, headers=token, json={"customer_id": ALICE, "message": "x"}
        )
        assert_error(mismatch, 403, "customer_mismatch", "customer_id", kind="permission_error")
        bad = shop.client.post(CHAT, headers={"x-customer-token": "x"}, json={"message": "hi"})
        assert_error(bad, 401, "customer_token_invalid", kind="authentication_error")


def test_the_openapi_document_shows_the_customer_token(shop: Shop) -> None:
    paths = shop.client.get("/openapi.json").json()["paths"]
    for path, method in (
        ("/v1/assistant/chat", "post"),
        ("/v1/assistant/sessions", "get"),
        ("/v1/assistant/sessions/{session_id}", "get"),
        ("/v1/assistant/tickets", "get"),
    ):
        operation = paths[path][method]
        headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
        assert headers == ["x-customer-token"], path
        assert {"401", "403"} <= set(operation["responses"]), path
    assert set(paths["/v1/admin/customer-tokens"]) == {"post"}
    assert set(paths["/v1/admin/customer-tokens/rotate"]) == {"post"}
    assert "/v1/assistant/customers" not in paths  # not in demo mode
