"""The key store: issuing, authenticating, expiring, revoking keys; tenant budgets; the cache."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard.errors import InvalidAPIKeyError, KeyNotFoundError
from switchboard.gateway.keys import INCORRECT, KeyStore, parse_token
from switchboard.gateway.types import Principal, Scope

pytestmark = pytest.mark.unit

T0 = 1_700_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[KeyStore]:
    keys = KeyStore.open(tmp_path / "gateway.sqlite3", cache_ttl_s=5.0, clock=clock)
    try:
        yield keys
    finally:
        keys.close()


def test_a_created_key_authenticates_as_its_principal(store: KeyStore) -> None:
    created = store.create(
        tenant="acme", name="ci", scopes=[Scope.CHAT], rpm=60, tpm=1000, budget_usd=5.0, now=T0
    )
    assert created.token.startswith(f"sb-{created.key.id}-")
    assert len(created.key.id) == 12
    assert created.key.display == f"sb-{created.key.id}-…"
    principal = store.authenticate(created.token, now=T0 + 1)
    assert principal == Principal(
        key_id=created.key.id,
        tenant="acme",
        scopes=frozenset({Scope.CHAT}),
        rpm=60,
        tpm=1000,
        budget_usd=5.0,
        tenant_budget_usd=None,
    )


def test_keys_without_own_limits_get_the_store_defaults(tmp_path: Path) -> None:
    keys = KeyStore.open(tmp_path / "g.sqlite3", default_rpm=10, default_tpm=500)
    try:
        token = keys.create(tenant="acme", scopes=[Scope.CHAT], tpm=7).token
        principal = keys.authenticate(token)
    finally:
        keys.close()
    assert (principal.rpm, principal.tpm) == (10, 7)


def test_only_the_hash_of_the_secret_is_stored(store: KeyStore, tmp_path: Path) -> None:
    created = store.create(tenant="acme", scopes=[Scope.CHAT])
    _, secret = parse_token(created.token)
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())  # the DB file and its WAL
    assert created.key.id.encode() in raw  # the lookup key is there...
    assert secret.encode() not in raw  # ...the secret is not
    assert created.token.encode() not in raw


@pytest.mark.parametrize(
    "token",
    ["", "sk-abc", "sb-", "sb-XYZ123456789-" + "a" * 43, "sb-0123456789ab-short", "Bearer sb-x"],
)
def test_a_malformed_token_is_refused_as_malformed(store: KeyStore, token: str) -> None:
    with pytest.raises(InvalidAPIKeyError, match="Malformed"):
        store.authenticate(token)


def test_unknown_key_and_wrong_secret_get_the_same_answer(store: KeyStore) -> None:
    created = store.create(tenant="acme", scopes=[Scope.CHAT])
    wrong_secret = created.token[:-1] + ("A" if created.token[-1] != "A" else "B")
    unknown_id = "sb-000000000000-" + created.token[16:]
    messages = []
    for token in (wrong_secret, unknown_id):
        with pytest.raises(InvalidAPIKeyError) as info:
            store.authenticate(token)
        messages.append(info.value.message)
        assert created.token[16:] not in info.value.message
    assert messages == [INCORRECT, INCORRECT]


def test_an_expired_key_is_refused_as_expired(store: KeyStore) -> None:
    created = store.create(tenant="acme", scopes=[Scope.CHAT], expires_at=T0 + 60, now=T0)
    assert store.authenticate(created.token, now=T0 + 59).key_id == created.key.id
    with pytest.raises(InvalidAPIKeyError, match="has expired") as info:
        store.authenticate(created.token, now=T0 + 60)  # still cached, yet refused
    assert created.token not in info.value.message
    assert not store.get(created.key.id).active(T0 + 60)


def test_an_expired_key_is_refused_on_a_cache_miss_too(store: KeyStore) -> None:
    created = store.create(tenant="acme", scopes=[Scope.CHAT], expires_at=T0 + 60, now=T0)
    with pytest.raises(InvalidAPIKeyError, match="has expired"):
        store.authenticate(created.token, now=T0 + 3600)


def test_revoking_takes_effect_at_once_in_this_process(store: KeyStore) -> None:
    created = store.create(tenant="acme", scopes=[Scope.CHAT], now=T0)
    store.authenticate(created.token)  # now cached
    revoked = store.revoke(created.key.id, now=T0 + 10)
    assert revoked.revoked_at == T0 + 10
    with pytest.raises(InvalidAPIKeyError, match="has been revoked"):
        store.authenticate(created.token)


def test_revoking_twice_keeps_the_first_time(store: KeyStore) -> None:
    created = store.create(tenant="acme", scopes=[Scope.CHAT], now=T0)
    store.revoke(created.key.id, now=T0 + 1)
    assert store.revoke(created.key.id, now=T0 + 2).revoked_at == T0 + 1


def test_unknown_key_ids_are_not_found(store: KeyStore) -> None:
    for key_id in ("0123456789ab", "not-a-key-id"):
        with pytest.raises(KeyNotFoundError):
            store.get(key_id)
        with pytest.raises(KeyNotFoundError):
            store.revoke(key_id)


def test_another_replica_sees_a_revocation_within_the_cache_ttl(
    store: KeyStore, tmp_path: Path, clock: FakeClock
) -> None:
    created = store.create(tenant="acme", scopes=[Scope.CHAT])
    store.authenticate(created.token)
    other = KeyStore.open(tmp_path / "gateway.sqlite3")  # another replica, same database
    try:
        other.revoke(created.key.id)
    finally:
        other.close()
    clock.now += 4.9
    assert store.authenticate(created.token).key_id == created.key.id  # served from cache
    clock.now += 0.2
    with pytest.raises(InvalidAPIKeyError, match="revoked"):
        store.authenticate(created.token)


def test_a_cache_hit_reads_no_database(store: KeyStore, tmp_path: Path) -> None:
    created = store.create(tenant="acme", scopes=[Scope.CHAT])
    store.authenticate(created.token)
    conn = sqlite3.connect(tmp_path / "gateway.sqlite3")
    conn.execute("DELETE FROM api_keys")  # behind the store's back
    conn.commit()
    conn.close()
    assert store.authenticate(created.token).key_id == created.key.id


def test_tenant_budget_is_set_read_cleared_and_reaches_the_principal(store: KeyStore) -> None:
    token = store.create(tenant="acme", scopes=[Scope.CHAT]).token
    assert store.tenant_budget("acme") is None
    assert store.authenticate(token).tenant_budget_usd is None  # cached now
    store.set_tenant_budget("acme", 12.5)
    assert store.tenant_budget("acme") == 12.5
    assert store.authenticate(token).tenant_budget_usd == 12.5  # cache was invalidated
    store.set_tenant_budget("acme", None)
    assert store.tenant_budget("acme") is None
    assert store.authenticate(token).tenant_budget_usd is None


def test_listing_filters_by_tenant_and_hides_revoked_keys(store: KeyStore) -> None:
    a1 = store.create(tenant="acme", scopes=[Scope.CHAT], now=T0).key
    a2 = store.create(tenant="acme", scopes=[Scope.SEARCH], now=T0 + 1).key
    b1 = store.create(tenant="beta", scopes=[Scope.ADMIN], now=T0 + 2).key
    store.revoke(a2.id)
    assert [k.id for k in store.list()] == [a1.id, b1.id]
    assert [k.id for k in store.list("acme")] == [a1.id]
    assert [k.id for k in store.list("acme", include_revoked=True)] == [a1.id, a2.id]
    assert store.list("acme", include_revoked=True)[1].revoked_at is not None
    assert store.get(b1.id) == b1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tenant": "no spaces"}, "invalid tenant name"),
        ({"scopes": []}, "at least one scope"),
        ({"rpm": 0}, "rpm must be a positive"),
        ({"tpm": -5}, "tpm must be a positive"),
        ({"budget_usd": -0.01}, "budget_usd must be >= 0"),
        ({"expires_at": T0 - 1}, "in the future"),
        ({"name": "x" * 201}, "longer than"),
    ],
)
def test_invalid_keys_are_refused(store: KeyStore, kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"tenant": "acme", "scopes": [Scope.CHAT], "now": T0, **kwargs}
    with pytest.raises(ValueError, match=match):
        store.create(**args)  # type: ignore[arg-type]
    assert store.list(include_revoked=True) == []


def test_a_zero_budget_is_allowed_and_a_negative_one_is_not(store: KeyStore) -> None:
    store.set_tenant_budget("acme", 0.0)
    assert store.tenant_budget("acme") == 0.0
    with pytest.raises(ValueError, match=">= 0"):
        store.set_tenant_budget("acme", -1.0)
    with pytest.raises(ValueError, match="invalid tenant name"):
        store.set_tenant_budget("../etc", 1.0)


def test_other_tables_in_the_same_file_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "gateway.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE spend (tenant TEXT, usd REAL)")
    conn.execute("INSERT INTO spend VALUES ('acme', 1.5)")
    conn.commit()
    conn.close()
    for _ in range(2):  # opening twice is fine: the schema is created only if missing
        keys = KeyStore.open(path)
        keys.create(tenant="acme", scopes=[Scope.CHAT])
        keys.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT usd FROM spend").fetchall() == [(1.5,)]
    assert conn.execute("SELECT count(*) FROM api_keys").fetchone() == (2,)
    conn.close()
