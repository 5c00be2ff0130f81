"""Customer tokens: signing and verifying (pure, over a dict of secrets) and the secret store
(mint, verify, rotate with a grace period) over a temporary gateway database."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard.errors import CustomerTokenError
from switchboard.gateway.customer_secrets import CustomerSecrets
from switchboard.gateway.customer_tokens import (
    MAX_TOKEN_CHARS,
    CustomerClaims,
    parse,
    sign,
    verify,
)

pytestmark = pytest.mark.unit

NOW = 1_800_000_000.0
SECRET = b"s" * 32
SECRETS = {("acme", "0a0b0c0d"): SECRET, ("globex", "0a0b0c0d"): b"g" * 32}
CLAIMS = CustomerClaims("C1002", "acme", int(NOW) + 600, "0a0b0c0d")


def lookup(tenant: str, secret_id: str) -> bytes | None:
    return SECRETS.get((tenant, secret_id))


def refused(token: str, code: str, tenant: str = "acme", now: float = NOW) -> str:
    with pytest.raises(CustomerTokenError) as caught:
        verify(token, tenant, lookup, now)
    assert caught.value.code == code
    assert caught.value.status_code == 401
    return caught.value.message


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- the pure functions -----------------------------------------------------------------------


def test_a_signed_token_verifies_to_its_claims() -> None:
    token = sign(CLAIMS, SECRET)
    assert token.startswith("sbc1.")
    assert all(c.isalnum() or c in "._-" for c in token)  # URL-safe, no padding
    assert verify(token, "acme", lookup, NOW) == CLAIMS


def test_a_tampered_payload_or_signature_is_invalid() -> None:
    version, payload, signature = sign(CLAIMS, SECRET).split(".")
    other = json.loads(base64.urlsafe_b64decode(payload + "=="))
    other["c"] = "C1003"  # another customer, the old signature
    refused(f"{version}.{b64(json.dumps(other).encode())}.{signature}", "customer_token_invalid")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    refused(f"{version}.{payload}.{flipped}", "customer_token_invalid")


def test_a_token_signed_with_another_secret_is_invalid() -> None:
    refused(sign(CLAIMS, b"x" * 32), "customer_token_invalid")


def test_an_expired_token_is_expired_but_only_once_its_signature_verifies() -> None:
    token = sign(CLAIMS, SECRET)
    assert verify(token, "acme", lookup, CLAIMS.expires_at - 1) == CLAIMS
    assert "expired" in refused(token, "customer_token_expired", now=CLAIMS.expires_at)
    refused(sign(CLAIMS, b"x" * 32), "customer_token_invalid", now=CLAIMS.expires_at + 1)


def test_another_tenants_token_is_invalid_for_this_tenant() -> None:
    globex = CustomerClaims("C1002", "globex", CLAIMS.expires_at, "0a0b0c0d")
    token = sign(globex, SECRETS[("globex", "0a0b0c0d")])
    assert verify(token, "globex", lookup, NOW) == globex
    assert "another tenant" in refused(token, "customer_token_invalid", tenant="acme")


def test_a_token_naming_an_unknown_secret_is_invalid() -> None:
    claims = CustomerClaims("C1002", "acme", CLAIMS.expires_at, "ffffffff")
    refused(sign(claims, SECRET), "customer_token_invalid")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "sbc1",
        "sbc1..",
        "sbc1.e30.",  # "{}": no fields
        "sbc2." + sign(CLAIMS, SECRET).split(".", 1)[1],  # an unknown version
        sign(CLAIMS, SECRET) + ".extra",
        "sbc1.!!!!.AAAA",  # not base64url
        "sbc1.e30=.AAAA",  # padding is not part of the format
        "sbc1.A.AAAA",  # a length base64 cannot have
        "sbc1." + b64(b"\xff\xfe") + ".AAAA",  # not UTF-8
        "sbc1." + b64(b"[1, 2]") + ".AAAA",  # not an object
        "sbc1." + b64(b'{"c": "C1", "t": "acme", "e": true, "k": "0a0b0c0d"}') + ".AAAA",
        "sbc1." + b64(b'{"c": "C 1", "t": "acme", "e": 1, "k": "0a0b0c0d"}') + ".AAAA",
        "sbc1." + b64(b'{"c": "C1", "t": "acme", "e": 1.5, "k": "0a0b0c0d"}') + ".AAAA",
        "sbc1." + b64(b'{"c": "C1", "t": "acme", "e": 1, "k": "../x"}') + ".AAAA",
        "sbc1." + "A" * (MAX_TOKEN_CHARS + 1) + ".AAAA",  # a huge header
    ],
)
def test_malformed_tokens_are_invalid_never_another_error(token: str) -> None:
    refused(token, "customer_token_invalid")
    with pytest.raises(CustomerTokenError):
        parse(token)


def test_claims_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="customer id"):
        CustomerClaims("", "acme", 1, "0a0b0c0d")
    with pytest.raises(ValueError, match="tenant"):
        CustomerClaims("C1", "a b", 1, "0a0b0c0d")


# -- the store --------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CustomerSecrets]:
    secrets = CustomerSecrets.open(tmp_path / "gateway.sqlite3", default_ttl_s=600, max_ttl_s=3600)
    try:
        yield secrets
    finally:
        secrets.close()


def test_a_minted_token_verifies_for_its_tenant_only(store: CustomerSecrets) -> None:
    minted = store.mint("acme", "C1002", now=NOW)
    assert minted.expires_at == int(NOW) + 600  # the default ttl
    claims = store.verify(minted.token, "acme", now=NOW)
    assert (claims.customer_id, claims.tenant) == ("C1002", "acme")
    other = store.mint("globex", "C1002", now=NOW)
    with pytest.raises(CustomerTokenError, match="another tenant"):
        store.verify(other.token, "acme", now=NOW)


def test_each_tenant_signs_with_its_own_secret(store: CustomerSecrets) -> None:
    acme = parse(store.mint("acme", "C1", now=NOW).token)[0]
    globex = parse(store.mint("globex", "C1", now=NOW).token)[0]
    forged = CustomerClaims("C1", "acme", int(NOW) + 60, globex.secret_id)
    assert acme.secret_id != globex.secret_id  # (random ids; equal ones would still differ:)
    assert parse(store.mint("acme", "C2", now=NOW).token)[0].secret_id == acme.secret_id
    with pytest.raises(CustomerTokenError):
        store.verify(sign(forged, b"g" * 32), "acme", now=NOW)


def test_a_token_expires(store: CustomerSecrets) -> None:
    minted = store.mint("acme", "C1002", ttl_s=30, now=NOW)
    store.verify(minted.token, "acme", now=NOW + 29)
    with pytest.raises(CustomerTokenError) as caught:
        store.verify(minted.token, "acme", now=NOW + 30)
    assert caught.value.code == "customer_token_expired"


@pytest.mark.parametrize("ttl", [0, -5, 3601])
def test_a_bad_ttl_is_refused(store: CustomerSecrets, ttl: int) -> None:
    with pytest.raises(ValueError, match="ttl must be between 1 and 3600"):
        store.mint("acme", "C1002", ttl_s=ttl, now=NOW)


def test_bad_tenant_or_customer_is_refused(store: CustomerSecrets) -> None:
    with pytest.raises(ValueError, match="tenant"):
        store.mint("not a tenant", "C1002", now=NOW)
    with pytest.raises(ValueError, match="customer id"):
        store.mint("acme", "C 1002", now=NOW)


def test_rotation_keeps_old_tokens_valid_for_the_grace_period(store: CustomerSecrets) -> None:
    old = store.mint("acme", "C1002", ttl_s=3600, now=NOW)
    new_id = store.rotate("acme", now=NOW + 10)  # grace: max_ttl_s, 3600 s
    new = store.mint("acme", "C1002", now=NOW + 10)
    assert parse(new.token)[0].secret_id == new_id != parse(old.token)[0].secret_id
    store.verify(old.token, "acme", now=NOW + 3599)  # lives out its own expiry
    store.verify(new.token, "acme", now=NOW + 20)


def test_a_retired_secret_stops_verifying_when_its_grace_ends(store: CustomerSecrets) -> None:
    old = store.mint("acme", "C1002", ttl_s=3600, now=NOW)
    store.rotate("acme", grace_s=100, now=NOW + 10)
    store.verify(old.token, "acme", now=NOW + 109)
    with pytest.raises(CustomerTokenError) as caught:
        store.verify(old.token, "acme", now=NOW + 110)  # before the token's own expiry
    assert caught.value.code == "customer_token_invalid"


def test_rotation_without_grace_retires_the_old_secret_at_once(store: CustomerSecrets) -> None:
    old = store.mint("acme", "C1002", now=NOW)
    store.rotate("acme", grace_s=0, now=NOW + 1)
    with pytest.raises(CustomerTokenError) as caught:
        store.verify(old.token, "acme", now=NOW + 2)
    assert caught.value.code == "customer_token_invalid"
    store.verify(store.mint("acme", "C1002", now=NOW + 2).token, "acme", now=NOW + 3)


def test_a_later_rotation_never_extends_an_earlier_retirement(store: CustomerSecrets) -> None:
    old = store.mint("acme", "C1002", ttl_s=3600, now=NOW)
    store.rotate("acme", grace_s=0, now=NOW + 1)  # leaked: retired now
    store.rotate("acme", now=NOW + 2)  # a routine rotation later
    with pytest.raises(CustomerTokenError):
        store.verify(old.token, "acme", now=NOW + 3)


def test_secrets_outlive_the_store(tmp_path: Path) -> None:
    path = tmp_path / "gateway.sqlite3"
    first = CustomerSecrets.open(path)
    token = first.mint("acme", "C1002", now=NOW).token
    first.close()
    second = CustomerSecrets.open(path)
    try:
        assert second.verify(token, "acme", now=NOW).customer_id == "C1002"
    finally:
        second.close()
