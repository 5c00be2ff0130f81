"""Signed customer tokens: which customer of which tenant the assistant may act for.

A shop's backend, having logged its customer in, mints a token (``switchboard assistant
token``, or ``POST /v1/admin/customer-tokens``) and hands it to the page that embeds the
chat widget; the widget sends it as ``x-customer-token`` and the assistant acts for that
customer only (the model of Intercom's identity verification). The token is

    sbc1.<payload>.<signature>

``sbc1`` names the format's version; ``payload`` is base64url (no padding) of the compact
JSON ``{"c": customer_id, "t": tenant, "e": expiry (unix seconds), "k": secret id}``;
``signature`` is base64url of HMAC-SHA256 over ``sbc1.<payload>`` with the tenant's secret
that ``k`` names. Every field is signed; the payload is readable, not secret.

Verification checks the shape and size first (a token over ``MAX_TOKEN_CHARS`` is refused
before any decoding), then the signature in constant time (``hmac.compare_digest``) with
the *verifying* tenant's secret, then the expiry. A token of another tenant is therefore
``customer_token_invalid`` (401): no secret of the caller's tenant signed it. Every
refusal is a ``CustomerTokenError``; nothing here raises anything else for bad input.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from switchboard.errors import CustomerTokenError

VERSION = "sbc1"
MAX_TOKEN_CHARS = 1024
#: The customer ids the assistant accepts (also in request bodies and queries).
CUSTOMER_ID = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
_CUSTOMER_ID = re.compile(CUSTOMER_ID)
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SECRET_ID = re.compile(r"[0-9a-f]{8}")
_B64URL = re.compile(r"[A-Za-z0-9_-]+")

REQUIRED = "customer_token_required"
INVALID = "customer_token_invalid"
EXPIRED = "customer_token_expired"

T = TypeVar("T")

#: ``(tenant, secret_id) -> secret``, ``None`` when the tenant has no such usable secret.
SecretLookup = Callable[[str, str], bytes | None]


@dataclass(frozen=True)
class CustomerClaims:
    """What a valid token proves."""

    customer_id: str
    tenant: str
    expires_at: int  # unix seconds
    secret_id: str

    def __post_init__(self) -> None:
        if not _CUSTOMER_ID.fullmatch(self.customer_id):
            raise ValueError(f"invalid customer id {self.customer_id!r}")
        if not _TENANT.fullmatch(self.tenant):
            raise ValueError(f"invalid tenant name {self.tenant!r}")
        if not _SECRET_ID.fullmatch(self.secret_id):
            raise ValueError(f"invalid secret id {self.secret_id!r}")


def sign(claims: CustomerClaims, secret: bytes) -> str:
    """The token for ``claims``, signed with ``secret`` (the one ``claims.secret_id`` names)."""
    payload = {
        "c": claims.customer_id,
        "t": claims.tenant,
        "e": claims.expires_at,
        "k": claims.secret_id,
    }
    body = f"{VERSION}.{_b64encode(json.dumps(payload, separators=(',', ':')).encode())}"
    return f"{body}.{_b64encode(_mac(secret, body))}"


def parse(token: str) -> tuple[CustomerClaims, str, bytes]:
    """``(claims, signed text, signature)`` of a well-formed token, unverified; else
    ``CustomerTokenError`` (``customer_token_invalid``)."""
    if len(token) > MAX_TOKEN_CHARS:
        raise invalid(f"The customer token is longer than {MAX_TOKEN_CHARS} characters.")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise invalid(f"Malformed customer token: expected '{VERSION}.<payload>.<signature>'.")
    _, payload, signature = parts
    try:
        fields = json.loads(_b64decode(payload))
        claims = CustomerClaims(
            customer_id=_field(fields, "c", str),
            tenant=_field(fields, "t", str),
            expires_at=_field(fields, "e", int),
            secret_id=_field(fields, "k", str),
        )
        return claims, f"{VERSION}.{payload}", _b64decode(signature)
    except (ValueError, TypeError, AttributeError, binascii.Error):
        raise invalid("Malformed customer token.") from None


def verify(token: str, tenant: str, secret_for: SecretLookup, now: float) -> CustomerClaims:
    """The claims of a token signed for ``tenant`` and not expired at ``now``, else
    ``CustomerTokenError``: invalid (malformed, another tenant's, unknown or retired secret,
    bad signature) or expired."""
    claims, signed, signature = parse(token)
    if claims.tenant != tenant:
        raise invalid("The customer token was issued for another tenant than the API key's.")
    secret = secret_for(tenant, claims.secret_id)
    if secret is None or not hmac.compare_digest(_mac(secret, signed), signature):
        raise invalid("The customer token's signature does not verify.")
    if now >= claims.expires_at:
        raise CustomerTokenError(EXPIRED, "The customer token has expired; mint a new one.")
    return claims


def invalid(message: str) -> CustomerTokenError:
    return CustomerTokenError(INVALID, message)


def required() -> CustomerTokenError:
    return CustomerTokenError(
        REQUIRED,
        "This assistant acts only for a verified customer: send the token the shop's backend "
        "minted for them in the 'x-customer-token' header.",
    )


def _mac(secret: bytes, signed: str) -> bytes:
    return hmac.new(secret, signed.encode(), hashlib.sha256).digest()


def _field(fields: object, name: str, kind: type[T]) -> T:
    if not isinstance(fields, dict):
        raise ValueError("payload is not an object")
    value = fields.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"payload field {name!r} missing or not {kind.__name__}")
    return value


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
