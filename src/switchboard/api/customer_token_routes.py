"""``/v1/admin/customer-tokens``: the shop's backend mints a customer token, or rotates
its tenant's signing secret.

Both need the ``admin`` scope and act in the admin key's own tenant (another is 403, as on
the other admin routes; the operator, with authentication off, names any). A token is what
the page embedding the chat widget passes on (``x-customer-token``), see ``customer_auth``.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from switchboard.api.admin_routes import AdminDep, in_thread, managed_tenant
from switchboard.api.customer_auth import customer_tokens
from switchboard.api.openapi import error_responses
from switchboard.gateway.customer_tokens import CUSTOMER_ID
from switchboard.request_body import RequestBody

router = APIRouter(prefix="/v1/admin/customer-tokens", tags=["admin"])


class MintBody(RequestBody):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(pattern=CUSTOMER_ID)
    tenant: str | None = Field(None, description="Default: the admin key's own tenant.")
    ttl_s: int | None = Field(
        None, ge=1, description="Lifetime (default gateway.customer_tokens.default_ttl_s)."
    )


class CustomerToken(BaseModel):
    object: Literal["customer_token"] = "customer_token"
    token: str = Field(description="Send it as the x-customer-token header.")
    customer_id: str
    tenant: str
    expires_at: int = Field(description="Unix seconds.")


class RotateBody(RequestBody):
    model_config = ConfigDict(extra="forbid")

    tenant: str | None = Field(None, description="Default: the admin key's own tenant.")
    grace_s: float | None = Field(
        None,
        ge=0,
        le=100 * 365 * 86400,
        description="How long the previous secrets still verify (default "
        "gateway.customer_tokens.max_ttl_s: tokens signed with them live out; 0: at once).",
    )


class RotatedSecret(BaseModel):
    tenant: str
    secret_id: str = Field(description="The new secret's id (the secret is never shown).")


@router.post("", status_code=201, responses=error_responses(400, 403))
async def mint_customer_token(
    body: MintBody, principal: AdminDep, request: Request
) -> CustomerToken:
    tenant = managed_tenant(principal, body.tenant) or principal.tenant
    store = customer_tokens(request)
    minted = await in_thread(lambda: store.mint(tenant, body.customer_id, body.ttl_s))
    return CustomerToken(
        token=minted.token,
        customer_id=minted.customer_id,
        tenant=minted.tenant,
        expires_at=minted.expires_at,
    )


@router.post("/rotate", responses=error_responses(400, 403))
async def rotate_secret(body: RotateBody, principal: AdminDep, request: Request) -> RotatedSecret:
    tenant = managed_tenant(principal, body.tenant) or principal.tenant
    store = customer_tokens(request)
    secret_id = await in_thread(lambda: store.rotate(tenant, body.grace_s))
    return RotatedSecret(tenant=tenant, secret_id=secret_id)
