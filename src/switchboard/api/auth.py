"""Who is calling: the API-key dependency every gateway route declares with its scope.

``require(Scope.CHAT)`` reads ``Authorization: Bearer <token>`` (or ``x-api-key``),
authenticates it with the ``KeyStore`` found at ``app.state.auth`` and checks the scope.
It leaves the principal at ``request.state.principal`` and its tenant at
``request.state.tenant`` (the knowledge routes read it). With authentication off every
request without a Switchboard key is the anonymous principal: the default tenant, every
scope.

The OpenAPI document declares the two headers as security schemes (``BEARER``,
``API_KEY_HEADER``) with each route's scope; the dependency reads the headers itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from switchboard.config import Settings
from switchboard.errors import InvalidAPIKeyError, PermissionDeniedError
from switchboard.gateway.customer_secrets import CustomerSecrets
from switchboard.gateway.keys import TOKEN_PREFIX, KeyStore
from switchboard.gateway.types import ALL_SCOPES, Principal, Scope

ANONYMOUS_KEY_ID = "anonymous"
MISSING = (
    "You didn't provide an API key. Send it as 'Authorization: Bearer sb-...' "
    "(or in an 'x-api-key' header)."
)

#: How a key is sent, as documented; ``auto_error=False``: refusals are ``authenticate``'s.
BEARER = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="sb-...",
    description="A Switchboard API key: 'Authorization: Bearer sb-...'.",
    auto_error=False,
)
API_KEY_HEADER = APIKeyHeader(
    name="x-api-key",
    scheme_name="x-api-key",
    description="The same key in an 'x-api-key' header.",
    auto_error=False,
)


@dataclass(frozen=True)
class AuthConfig:
    """What the dependency needs, kept at ``app.state.auth``.

    ``keys`` may be set with authentication off: the admin routes still manage keys then.
    ``customer_tokens`` mints and verifies the assistant's customer tokens.
    """

    enabled: bool
    keys: KeyStore | None
    anonymous: Principal
    customer_tokens: CustomerSecrets | None = None

    def __post_init__(self) -> None:
        if self.enabled and self.keys is None:
            raise ValueError("authentication is on but no key store was given")


def auth_enabled(mode: Literal["auto", "on", "off"], host: str) -> bool:
    """``auto`` turns authentication on unless the server binds a loopback address."""
    if mode != "auto":
        return mode == "on"
    return not is_loopback(host)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a hostname or 0.0.0.0-style wildcard: reachable from outside


def anonymous_principal(settings: Settings) -> Principal:
    """The caller of a server without authentication: default tenant, every scope."""
    limits = settings.gateway.limits
    return Principal(
        key_id=ANONYMOUS_KEY_ID,
        tenant=settings.knowledge.default_tenant,
        scopes=ALL_SCOPES,
        rpm=limits.default_rpm,
        tpm=limits.default_tpm,
    )


def open_auth(settings: Settings, host: str) -> AuthConfig:
    """The server's auth config; the caller closes its stores at shutdown (``close_auth``)."""
    limits = settings.gateway.limits
    keys = KeyStore.open(
        settings.gateway_db, default_rpm=limits.default_rpm, default_tpm=limits.default_tpm
    )
    try:
        tokens = settings.gateway.customer_tokens
        customer_tokens = CustomerSecrets.open(
            settings.gateway_db, default_ttl_s=tokens.default_ttl_s, max_ttl_s=tokens.max_ttl_s
        )
    except BaseException:
        keys.close()
        raise
    return AuthConfig(
        enabled=auth_enabled(settings.gateway.auth, host),
        keys=keys,
        anonymous=anonymous_principal(settings),
        customer_tokens=customer_tokens,
    )


def close_auth(config: AuthConfig) -> None:
    for store in (config.keys, config.customer_tokens):
        if store is not None:
            store.close()


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer``, else of ``x-api-key``, else ``None``."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidAPIKeyError(
                "Malformed Authorization header: expected 'Authorization: Bearer sb-...'."
            )
        return token.strip()
    api_key = request.headers.get("x-api-key")
    return api_key.strip() if api_key else None


def authenticate(config: AuthConfig, request: Request) -> Principal:
    """With authentication off, a request carrying a Switchboard key (``sb-…``) is still
    that key (its tenant, limits, budget); any other token (OpenAI clients insist on
    sending one) or none is the anonymous caller."""
    if not config.enabled:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        token = token or request.headers.get("x-api-key", "").strip()
        if config.keys is None or not token.startswith(TOKEN_PREFIX):
            return config.anonymous
        return config.keys.authenticate(token)
    given = bearer_token(request)
    if given is None or config.keys is None:
        raise InvalidAPIKeyError(MISSING)
    return config.keys.authenticate(given)  # cached; a miss is one SQLite point read


def require(scope: Scope) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the authenticated principal, allowed ``scope``. The app's
    ``AuthenticateFirst`` middleware has authenticated the request before its body was
    read; mounted without it (a small app), this authenticates itself."""

    bearer = Security(BEARER, scopes=[scope.value])  # documents the scope each route needs
    api_key = Security(API_KEY_HEADER, scopes=[scope.value])

    async def dependency(
        request: Request,
        _bearer: HTTPAuthorizationCredentials | None = bearer,
        _api_key: str | None = api_key,
    ) -> Principal:
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is None:
            principal = authenticate(request.app.state.auth, request)
            request.state.principal = principal  # also on a 403, for the request log
            request.state.tenant = principal.tenant
        if not principal.allows(scope):
            raise PermissionDeniedError(
                f"The API key sb-{principal.key_id}-… lacks the '{scope}' scope."
            )
        return principal

    dependency.__name__ = f"require_{scope.value}"
    return dependency
