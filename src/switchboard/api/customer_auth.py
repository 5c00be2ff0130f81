"""Who an assistant request acts for: the customer a signed token proves, in its tenant.

The API key says which shop (tenant) calls; the ``x-customer-token`` header says which of
its customers (``gateway.customer_tokens``). With authentication on a request needs a valid
token of the key's tenant: none is 401 ``customer_token_required``, a bad one (another
tenant's included) ``customer_token_invalid``, an old one ``customer_token_expired``; a
``customer_id`` in the body or query is then optional and, when given, must be the token's
(else 403 ``customer_mismatch``). With authentication off (loopback development) a token
is still checked when sent, and without one the named ``customer_id`` is taken as is.

Demo mode (``assistant.demo``) adds the customer directory and a token for the picked
customer, for the demo page; ``auto`` means on exactly while authentication is off.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Header, Request

from switchboard.api.auth import AuthConfig
from switchboard.errors import (
    CustomerMismatchError,
    DependencyUnavailableError,
    InvalidRequestError,
)
from switchboard.gateway.customer_secrets import CustomerSecrets
from switchboard.gateway.customer_tokens import required
from switchboard.gateway.types import Principal

CUSTOMER_TOKEN_HEADER = "x-customer-token"
#: A route's ``x-customer-token`` header, declared so the OpenAPI document shows it.
CustomerTokenHeader = Annotated[
    str | None,
    Header(
        alias=CUSTOMER_TOKEN_HEADER,
        description="The signed customer token the shop's backend minted (switchboard "
        "assistant token, POST /v1/admin/customer-tokens); required with authentication on.",
    ),
]


@dataclass(frozen=True)
class ActingCustomer:
    """The customer a request acts for: a token's, or with authentication off the named one."""

    tenant: str
    customer_id: str


def demo_mode(mode: Literal["auto", "on", "off"], auth_enabled: bool) -> bool:
    return mode == "on" or (mode == "auto" and not auth_enabled)


def customer_tokens(request: Request) -> CustomerSecrets:
    config: AuthConfig = request.app.state.auth
    if config.customer_tokens is None:
        raise DependencyUnavailableError("Customer tokens are not configured on this server.")
    return config.customer_tokens


def end_user(
    request: Request, identity: Literal["none", "customer"], token: str | None, named: str | None
) -> ActingCustomer:
    """Whom a turn of an assistant acts for: with ``identity`` customer, the verified
    customer (``acting_customer``); with none, the API key itself (the body's
    ``customer_id`` is not needed, and not trusted: it is ignored)."""
    if identity == "customer":
        return acting_customer(request, token, named)
    principal: Principal = request.state.principal
    return ActingCustomer(principal.tenant, principal.key_id)


def acting_customer(request: Request, token: str | None, named: str | None) -> ActingCustomer:
    """The customer of this request (see the module's docstring): ``token`` is its
    ``x-customer-token`` header, ``named`` the ``customer_id`` of the body or query."""
    config: AuthConfig = request.app.state.auth
    principal: Principal = request.state.principal
    token = (token or "").strip()
    if not token:
        if config.enabled:
            raise required()
        if named is None:
            raise InvalidRequestError(
                "customer_id is required without a customer token", param="customer_id"
            )
        return ActingCustomer(principal.tenant, named)
    store = customer_tokens(request)
    claims = store.verify(token, principal.tenant, time.time())  # one SQLite point read
    if named is not None and named != claims.customer_id:
        raise CustomerMismatchError(
            "The customer token is for another customer than the request names.",
            param="customer_id",
        )
    return ActingCustomer(principal.tenant, claims.customer_id)
