"""The API-key dependency and the admin routes, over a small app with the real error handlers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from switchboard.api.admin_routes import router as admin_router
from switchboard.api.auth import (
    ANONYMOUS_KEY_ID,
    AuthConfig,
    anonymous_principal,
    auth_enabled,
    close_auth,
    open_auth,
    require,
)
from switchboard.api.auth_first import AuthenticateFirst
from switchboard.api.errors import install_error_handlers
from switchboard.config import Settings
from switchboard.gateway.keys import KeyStore
from switchboard.gateway.types import ALL_SCOPES, Principal, Scope

pytestmark = pytest.mark.unit

ANONYMOUS = Principal(key_id=ANONYMOUS_KEY_ID, tenant="default", scopes=ALL_SCOPES, rpm=30)


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[KeyStore]:
    store = KeyStore.open(tmp_path / "gateway.sqlite3")
    try:
        yield store
    finally:
        store.close()


def make_app(config: AuthConfig) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(admin_router)
    app.state.auth = config

    @app.get("/v1/probe")
    async def probe(
        request: Request, principal: Annotated[Principal, Depends(require(Scope.CHAT))]
    ) -> dict[str, Any]:
        return {"key_id": principal.key_id, "tenant": request.state.tenant}

    return app


@pytest.fixture
def client(keys: KeyStore) -> Iterator[TestClient]:
    with TestClient(make_app(AuthConfig(enabled=True, keys=keys, anonymous=ANONYMOUS))) as c:
        yield c


@pytest.fixture
def open_client(keys: KeyStore) -> Iterator[TestClient]:
    with TestClient(make_app(AuthConfig(enabled=False, keys=keys, anonymous=ANONYMOUS))) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_openai_error(response: Any, status: int, error_type: str, code: str | None) -> str:
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"]) == (error_type, code)
    return str(error["message"])


# -- auth_enabled and the anonymous principal ------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "host", "enabled"),
    [
        ("auto", "127.0.0.1", False),
        ("auto", "127.8.9.1", False),
        ("auto", "::1", False),
        ("auto", "[::1]", False),
        ("auto", "localhost", False),
        ("auto", "LOCALHOST", False),
        ("auto", "0.0.0.0", True),
        ("auto", "::", True),
        ("auto", "10.0.0.5", True),
        ("auto", "example.com", True),
        ("on", "127.0.0.1", True),
        ("off", "0.0.0.0", False),
    ],
)
def test_auth_is_on_unless_bound_to_loopback(mode: Any, host: str, enabled: bool) -> None:
    assert auth_enabled(mode, host) is enabled


def test_the_anonymous_principal_has_every_scope_and_the_default_limits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(tmp_path / "absent.toml"))
    settings = Settings(
        data_dir=tmp_path,
        knowledge={"default_tenant": "shop"},
        gateway={"limits": {"default_rpm": 5, "default_tpm": 900}},
    )
    assert anonymous_principal(settings) == Principal(
        key_id="anonymous", tenant="shop", scopes=ALL_SCOPES, rpm=5, tpm=900
    )
    config = open_auth(settings, "0.0.0.0")
    try:
        assert config.enabled
        assert config.keys is not None
        token = config.keys.create(tenant="shop", scopes=[Scope.CHAT]).token
        assert config.keys.authenticate(token).rpm == 5  # the store got the defaults
        assert config.customer_tokens is not None  # in the same database
        minted = config.customer_tokens.mint("shop", "C1")
        assert config.customer_tokens.verify(minted.token, "shop").customer_id == "C1"
    finally:
        close_auth(config)
    assert (tmp_path / "gateway.sqlite3").exists()


def test_auth_on_without_a_key_store_is_refused() -> None:
    with pytest.raises(ValueError, match="no key store"):
        AuthConfig(enabled=True, keys=None, anonymous=ANONYMOUS)


# -- the dependency -------------------------------------------------------------------------


def test_a_valid_bearer_key_sets_the_principal_and_tenant(
    client: TestClient, keys: KeyStore
) -> None:
    created = keys.create(tenant="acme", scopes=[Scope.CHAT])
    response = client.get("/v1/probe", headers=bearer(created.token))
    assert response.status_code == 200
    assert response.json() == {"key_id": created.key.id, "tenant": "acme"}


def test_the_x_api_key_header_works_too(client: TestClient, keys: KeyStore) -> None:
    created = keys.create(tenant="acme", scopes=[Scope.CHAT])
    response = client.get("/v1/probe", headers={"x-api-key": created.token})
    assert response.json()["key_id"] == created.key.id


def test_a_missing_key_is_a_401_in_openai_shape(client: TestClient) -> None:
    message = assert_openai_error(
        client.get("/v1/probe"), 401, "authentication_error", "invalid_api_key"
    )
    assert "didn't provide an API key" in message


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer sb-nope"},
        {"x-api-key": "sk-openai-style"},
    ],
)
def test_a_malformed_key_is_a_401(client: TestClient, headers: dict[str, str]) -> None:
    message = assert_openai_error(
        client.get("/v1/probe", headers=headers), 401, "authentication_error", "invalid_api_key"
    )
    assert "Malformed" in message


def test_a_wrong_secret_revoked_or_expired_key_is_a_401_without_the_secret(
    client: TestClient, keys: KeyStore
) -> None:
    created = keys.create(tenant="acme", scopes=[Scope.CHAT])
    wrong = created.token[:-2] + ("xx" if not created.token.endswith("xx") else "yy")
    response = client.get("/v1/probe", headers=bearer(wrong))
    message = assert_openai_error(response, 401, "authentication_error", "invalid_api_key")
    assert message == "Incorrect API key provided."
    keys.revoke(created.key.id)
    response = client.get("/v1/probe", headers=bearer(created.token))
    message = assert_openai_error(response, 401, "authentication_error", "invalid_api_key")
    assert "revoked" in message
    assert created.token[16:] not in response.text


def test_a_key_without_the_scope_is_a_403(client: TestClient, keys: KeyStore) -> None:
    created = keys.create(tenant="acme", scopes=[Scope.SEARCH])
    message = assert_openai_error(
        client.get("/v1/probe", headers=bearer(created.token)),
        403,
        "permission_error",
        "insufficient_scope",
    )
    assert "'chat' scope" in message


def test_an_admin_key_may_call_any_scope(client: TestClient, keys: KeyStore) -> None:
    created = keys.create(tenant="acme", scopes=[Scope.ADMIN])
    assert client.get("/v1/probe", headers=bearer(created.token)).status_code == 200


def test_with_auth_off_a_request_without_a_switchboard_key_is_anonymous(
    open_client: TestClient,
) -> None:
    for headers in ({}, bearer("sk-no-key-required"), {"x-api-key": "EMPTY"}):
        response = open_client.get("/v1/probe", headers=headers)
        assert response.json() == {"key_id": "anonymous", "tenant": "default"}


def test_with_auth_off_a_switchboard_key_still_names_its_tenant(
    open_client: TestClient, keys: KeyStore
) -> None:
    created = keys.create(tenant="acme", scopes=[Scope.CHAT])
    response = open_client.get("/v1/probe", headers=bearer(created.token))
    assert response.json() == {"key_id": created.key.id, "tenant": "acme"}
    keys.revoke(created.key.id)
    refused = open_client.get("/v1/probe", headers=bearer(created.token))
    assert refused.status_code == 401  # a key that is sent is checked, even with auth off


# -- admin routes ---------------------------------------------------------------------------


@pytest.fixture
def acme_admin(keys: KeyStore) -> dict[str, str]:
    return bearer(keys.create(tenant="acme", scopes=[Scope.ADMIN, Scope.CHAT]).token)


def test_an_admin_creates_a_key_that_works_at_once(
    client: TestClient, acme_admin: dict[str, str]
) -> None:
    response = client.post(
        "/v1/admin/keys",
        headers=acme_admin,
        json={"name": "bot", "scopes": ["chat"], "rpm": 5, "budget_usd": 2, "expires_in_s": 60},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["tenant"] == "acme"  # the admin's own tenant by default
    assert (body["name"], body["scopes"], body["rpm"], body["budget_usd"]) == (
        "bot",
        ["chat"],
        5,
        2.0,
    )
    assert body["expires_at"] == pytest.approx(body["created_at"] + 60)
    assert body["active"] is True
    probe = client.get("/v1/probe", headers=bearer(body["token"]))
    assert probe.json() == {"key_id": body["id"], "tenant": "acme"}


def test_a_listing_shows_only_the_admins_tenant_and_no_secrets(
    client: TestClient, keys: KeyStore, acme_admin: dict[str, str]
) -> None:
    acme = keys.create(tenant="acme", scopes=[Scope.CHAT])
    beta = keys.create(tenant="beta", scopes=[Scope.CHAT])
    response = client.get("/v1/admin/keys", headers=acme_admin)
    assert response.status_code == 200
    ids = [k["id"] for k in response.json()["data"]]
    assert acme.key.id in ids
    assert beta.key.id not in ids
    assert all(k["tenant"] == "acme" for k in response.json()["data"])
    assert acme.token[16:] not in response.text
    assert "secret" not in response.text
    assert "token" not in response.text


def test_an_admin_cannot_name_another_tenant(
    client: TestClient, acme_admin: dict[str, str]
) -> None:
    beta_key = {"tenant": "beta", "scopes": ["chat"]}
    for response in (
        client.get("/v1/admin/keys?tenant=beta", headers=acme_admin),
        client.post("/v1/admin/keys", headers=acme_admin, json=beta_key),
        client.put("/v1/admin/tenants/beta/budget", headers=acme_admin, json={"budget_usd": 1}),
        client.get("/v1/admin/tenants/beta/budget", headers=acme_admin),
    ):
        assert_openai_error(response, 403, "permission_error", "insufficient_scope")


def test_another_tenants_key_reads_as_unknown_and_stays_active(
    client: TestClient, keys: KeyStore, acme_admin: dict[str, str]
) -> None:
    beta = keys.create(tenant="beta", scopes=[Scope.CHAT])
    response = client.delete(f"/v1/admin/keys/{beta.key.id}", headers=acme_admin)
    assert_openai_error(response, 404, "invalid_request_error", "key_not_found")
    unknown = client.delete("/v1/admin/keys/0123456789ab", headers=acme_admin)
    assert (
        unknown.json()["error"]["message"].replace("0123456789ab", beta.key.id)
        == (response.json()["error"]["message"])
    )
    assert keys.get(beta.key.id).revoked_at is None


def test_revoking_through_the_api_locks_the_key_out(
    client: TestClient, keys: KeyStore, acme_admin: dict[str, str]
) -> None:
    victim = keys.create(tenant="acme", scopes=[Scope.CHAT])
    assert client.get("/v1/probe", headers=bearer(victim.token)).status_code == 200
    response = client.delete(f"/v1/admin/keys/{victim.key.id}", headers=acme_admin)
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    assert response.json()["active"] is False
    assert client.get("/v1/probe", headers=bearer(victim.token)).status_code == 401
    listed = client.get("/v1/admin/keys", headers=acme_admin).json()["data"]
    assert victim.key.id not in [k["id"] for k in listed]
    listed = client.get("/v1/admin/keys?include_revoked=true", headers=acme_admin).json()["data"]
    assert victim.key.id in [k["id"] for k in listed]


def test_the_operator_sets_tenant_budgets_and_a_tenant_admin_only_reads_them(
    client: TestClient, open_client: TestClient, acme_admin: dict[str, str]
) -> None:
    url = "/v1/admin/tenants/acme/budget"
    assert client.get(url, headers=acme_admin).json() == {"tenant": "acme", "budget_usd": None}
    response = open_client.put(url, json={"budget_usd": 25.5})  # the operator (no key)
    assert response.json() == {"tenant": "acme", "budget_usd": 25.5}
    assert client.get(url, headers=acme_admin).json()["budget_usd"] == 25.5
    lifted = client.put(url, headers=acme_admin, json={"budget_usd": None})
    assert_openai_error(lifted, 403, "permission_error", "insufficient_scope")
    assert client.get(url, headers=acme_admin).json()["budget_usd"] == 25.5
    open_client.put(url, json={"budget_usd": None})
    assert client.get(url, headers=acme_admin).json()["budget_usd"] is None


def test_a_chat_key_cannot_reach_the_admin_routes(client: TestClient, keys: KeyStore) -> None:
    chat = bearer(keys.create(tenant="acme", scopes=[Scope.CHAT]).token)
    assert_openai_error(
        client.get("/v1/admin/keys", headers=chat), 403, "permission_error", "insufficient_scope"
    )
    assert client.get("/v1/admin/keys").status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"scopes": []},
        {"scopes": ["root"]},
        {"scopes": ["chat"], "rpm": 0},
        {"scopes": ["chat"], "budget_usd": -1},
        {"scopes": ["chat"], "secret": "mine"},
    ],
)
def test_invalid_key_requests_are_400s(
    client: TestClient, keys: KeyStore, acme_admin: dict[str, str], body: dict[str, Any]
) -> None:
    response = client.post("/v1/admin/keys", headers=acme_admin, json=body)
    assert_openai_error(response, 400, "invalid_request_error", None)
    assert len(keys.list("acme")) == 1  # only the admin key


def test_anonymous_admin_manages_every_tenant(open_client: TestClient, keys: KeyStore) -> None:
    response = open_client.post("/v1/admin/keys", json={"tenant": "beta", "scopes": ["search"]})
    assert response.status_code == 201
    assert response.json()["tenant"] == "beta"
    default = open_client.post("/v1/admin/keys", json={"scopes": ["chat"]}).json()
    assert default["tenant"] == "default"
    listed = open_client.get("/v1/admin/keys").json()["data"]
    assert {k["tenant"] for k in listed} == {"beta", "default"}
    only_beta = open_client.get("/v1/admin/keys?tenant=beta").json()["data"]
    assert [k["tenant"] for k in only_beta] == ["beta"]
    bad = open_client.put("/v1/admin/tenants/bad%20name/budget", json={"budget_usd": 1})
    assert_openai_error(bad, 400, "invalid_request_error", None)


@pytest.fixture
def small_admin(keys: KeyStore) -> dict[str, str]:
    """An admin of acme with scopes admin and chat, 2 requests a minute, a tiny budget and
    an hour to live."""
    created = keys.create(
        tenant="acme",
        scopes=[Scope.ADMIN, Scope.CHAT],
        rpm=2,
        budget_usd=0.01,
        expires_at=time.time() + 3600,
    )
    return bearer(created.token)


@pytest.mark.parametrize(
    ("wider", "named"),
    [
        ({"scopes": ["admin", "chat", "search"]}, "search"),
        ({"rpm": None}, "rpm"),
        ({"rpm": 3}, "rpm"),
        ({"budget_usd": None}, "budget_usd"),
        ({"budget_usd": 5}, "budget_usd"),
        ({"expires_in_s": None}, "expiry"),
        ({"expires_in_s": 7200}, "expiry"),
    ],
)
def test_an_admin_key_cannot_create_a_key_wider_than_itself(
    client: TestClient,
    keys: KeyStore,
    small_admin: dict[str, str],
    wider: dict[str, Any],
    named: str,
) -> None:
    within = {"scopes": ["chat"], "rpm": 2, "budget_usd": 0.01, "expires_in_s": 600}
    response = client.post("/v1/admin/keys", headers=small_admin, json={**within, **wider})
    message = assert_openai_error(response, 403, "permission_error", "insufficient_scope")
    assert named in message
    assert len(keys.list("acme")) == 1  # nothing was created
    allowed = client.post("/v1/admin/keys", headers=small_admin, json=within)
    assert allowed.status_code == 201
    assert allowed.json()["scopes"] == ["chat"]


def test_limits_the_admin_key_lacks_may_be_set_freely(
    client: TestClient, keys: KeyStore, small_admin: dict[str, str]
) -> None:
    body = {"scopes": ["admin"], "rpm": 1, "tpm": 10**6, "budget_usd": 0, "expires_in_s": 60}
    assert client.post("/v1/admin/keys", headers=small_admin, json=body).status_code == 201
    unlimited = keys.create(tenant="acme", scopes=[Scope.ADMIN])  # no limits, no expiry
    wide = {"scopes": ["chat", "search", "embeddings", "assistant"]}
    response = client.post("/v1/admin/keys", headers=bearer(unlimited.token), json=wide)
    assert response.status_code == 403  # scopes are a subset of its own, even for admin
    assert client.post("/v1/admin/keys", headers=bearer(unlimited.token),
                       json={"scopes": ["admin"]}).status_code == 201  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [{"rpm": 2**70}, {"tpm": 2**64}, {"name": "a\ud800b"}],
)
def test_odd_values_of_a_new_key_are_400s_naming_them(
    open_client: TestClient, keys: KeyStore, body: dict[str, Any]
) -> None:
    raw = json.dumps({"scopes": ["chat"], **body})  # ensure_ascii: the surrogate as an escape
    response = open_client.post(
        "/v1/admin/keys", content=raw, headers={"content-type": "application/json"}
    )
    assert_openai_error(response, 400, "invalid_request_error", None)
    assert response.json()["error"]["param"] == next(iter(body))
    assert keys.list(None) == []


# -- authentication before the body is read ------------------------------------------------


def asgi_post(app: FastAPI, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], int]:
    """POST to ``app`` declaring a 400 MB body; ``(status, headers, body reads)``."""
    reads = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"{}", "more_body": False}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raw = {"content-length": str(400 * 2**20), "content-type": "application/json", **headers}
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "server": ("testserver", 80), "client": ("127.0.0.1", 5000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in raw.items()],
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], response_headers, reads


def guarded_app(config: AuthConfig) -> FastAPI:
    app = make_app(config)

    @app.post("/v1/echo")
    async def echo(
        request: Request, principal: Annotated[Principal, Depends(require(Scope.CHAT))]
    ) -> dict[str, Any]:
        return {"key_id": principal.key_id, "body": await request.json()}

    @app.post("/public")
    async def public(request: Request) -> dict[str, Any]:
        return {"body": await request.json()}

    app.add_middleware(AuthenticateFirst)
    return app


def test_a_request_without_a_key_is_refused_before_its_body_is_read(keys: KeyStore) -> None:
    app = guarded_app(AuthConfig(enabled=True, keys=keys, anonymous=ANONYMOUS))
    status, headers, reads = asgi_post(app, "/v1/echo", {})
    assert (status, reads) == (401, 0)
    assert headers["connection"] == "close"  # the server reads none of the 400 MB
    assert headers["www-authenticate"] == "Bearer"
    status, _, reads = asgi_post(app, "/v1/echo", bearer("sb-0123456789ab-" + "x" * 43))
    assert (status, reads) == (401, 0)
    token = keys.create(tenant="acme", scopes=[Scope.CHAT]).token
    status, _, reads = asgi_post(app, "/v1/echo", bearer(token))
    assert status == 200
    assert reads == 1
    assert asgi_post(app, "/public", {})[0] == 200  # outside /v1/: public, as before


def test_the_middleware_leaves_the_principal_for_the_scope_check(keys: KeyStore) -> None:
    app = guarded_app(AuthConfig(enabled=True, keys=keys, anonymous=ANONYMOUS))
    with TestClient(app) as client:
        chat = keys.create(tenant="acme", scopes=[Scope.CHAT])
        reply = client.post("/v1/echo", headers=bearer(chat.token), json={"a": 1}).json()
        assert reply == {"key_id": chat.key.id, "body": {"a": 1}}
        search = bearer(keys.create(tenant="acme", scopes=[Scope.SEARCH]).token)
        refused = client.post("/v1/echo", headers=search, json={})
        assert_openai_error(refused, 403, "permission_error", "insufficient_scope")
    with TestClient(guarded_app(AuthConfig(False, keys, ANONYMOUS))) as client:
        assert client.post("/v1/echo", json={}).json()["key_id"] == ANONYMOUS_KEY_ID
