"""``/v1/admin``: issue, list and revoke API keys and set tenant budgets over HTTP.

Every route needs the ``admin`` scope. An admin key creates keys no wider than itself
(``gateway.grants``: its own scopes at most, its own limits at least). It manages its
own tenant only: naming
another tenant is refused (403), and another tenant's key id reads as unknown (404, the
same answer as a key that does not exist: no probing). Tenant budgets are the operator's:
an admin key may read its tenant's but not set it. The anonymous principal of a server
without authentication manages every tenant. Database work runs in the thread pool.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from switchboard.api.auth import ANONYMOUS_KEY_ID, AuthConfig, require
from switchboard.api.openapi import error_responses
from switchboard.errors import (
    DependencyUnavailableError,
    InvalidRequestError,
    KeyNotFoundError,
    PermissionDeniedError,
)
from switchboard.gateway.grants import Grant, wider_than
from switchboard.gateway.keys import ApiKey, KeyStore
from switchboard.gateway.types import Principal, Scope
from switchboard.request_body import MAX_INT64, Lax, RequestBody

T = TypeVar("T")

router = APIRouter(prefix="/v1/admin", tags=["admin"])
AdminDep = Annotated[Principal, Depends(require(Scope.ADMIN))]


class CreateKeyBody(RequestBody):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    tenant: str | None = Field(None, description="Default: the admin key's own tenant.")
    name: str = Field("", max_length=200)
    scopes: list[Annotated[Scope, Lax]] = Field(min_length=1)
    rpm: int | None = Field(None, ge=1, le=MAX_INT64)
    tpm: int | None = Field(None, ge=1, le=MAX_INT64)
    budget_usd: float | None = Field(None, ge=0)
    expires_in_s: float | None = Field(None, gt=0, le=100 * 365 * 86400)


class KeyBody(BaseModel):
    """A key as the API shows it: never its secret or the secret's hash."""

    object: Literal["api_key"] = "api_key"
    id: str
    display: str
    tenant: str
    name: str
    scopes: list[Scope]
    rpm: int | None
    tpm: int | None
    budget_usd: float | None
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    active: bool

    @classmethod
    def of(cls, key: ApiKey, now: float) -> KeyBody:
        return cls(
            id=key.id,
            display=key.display,
            tenant=key.tenant,
            name=key.name,
            scopes=sorted(key.scopes),
            rpm=key.rpm,
            tpm=key.tpm,
            budget_usd=key.budget_usd,
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            active=key.active(now),
        )


class CreatedKeyBody(KeyBody):
    token: str = Field(description="Shown only in this response; store it now.")


class KeyList(BaseModel):
    object: Literal["list"] = "list"
    data: list[KeyBody]


class BudgetBody(RequestBody):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    budget_usd: float | None = Field(ge=0, description="Per budget period; null: unlimited.")


class TenantBudget(BaseModel):
    tenant: str
    budget_usd: float | None


def managed_tenant(principal: Principal, requested: str | None) -> str | None:
    """The tenant a request may act on; ``None`` means every tenant (anonymous only)."""
    if principal.key_id == ANONYMOUS_KEY_ID:
        return requested
    if requested is not None and requested != principal.tenant:
        raise PermissionDeniedError(
            f"This admin key manages tenant '{principal.tenant}' only.", param="tenant"
        )
    return principal.tenant


async def get_keys(request: Request) -> KeyStore:
    config: AuthConfig = request.app.state.auth
    if config.keys is None:
        raise DependencyUnavailableError("The key store is not configured on this server.")
    return config.keys


KeysDep = Annotated[KeyStore, Depends(get_keys)]


async def in_thread(fn: Callable[[], T]) -> T:
    """Run blocking store work in the thread pool; a refused value becomes a 400."""

    def call() -> T:
        try:
            return fn()
        except ValueError as exc:
            raise InvalidRequestError(str(exc)) from None

    return await run_in_threadpool(call)


async def _owned_key(keys: KeyStore, principal: Principal, key_id: str) -> ApiKey:
    key = await in_thread(lambda: keys.get(key_id))
    if managed_tenant(principal, None) not in (None, key.tenant):
        raise KeyNotFoundError(key_id)
    return key


def check_grant(
    principal: Principal, body: CreateKeyBody, keys: KeyStore, expires_at: float | None
) -> None:
    """403 naming each way the requested key is wider than the admin key creating it."""
    if principal.key_id == ANONYMOUS_KEY_ID:  # the operator
        return
    default_rpm, default_tpm = keys.default_limits
    grant = Grant(
        scopes=body.scopes,
        rpm=body.rpm if body.rpm is not None else default_rpm,
        tpm=body.tpm if body.tpm is not None else default_tpm,
        budget_usd=body.budget_usd,
        expires_at=expires_at,
    )
    wider = wider_than(principal, grant)
    if wider:
        reasons = "; ".join(reason for _, reason in wider)
        raise PermissionDeniedError(
            f"This admin key may create keys no wider than itself: {reasons}.",
            param=wider[0][0],
        )


@router.post("/keys", status_code=201)
async def create_key(body: CreateKeyBody, principal: AdminDep, keys: KeysDep) -> CreatedKeyBody:
    tenant = managed_tenant(principal, body.tenant) or principal.tenant
    now = time.time()
    expires_at = None if body.expires_in_s is None else now + body.expires_in_s
    check_grant(principal, body, keys, expires_at)
    created = await in_thread(
        lambda: keys.create(
            tenant=tenant,
            name=body.name,
            scopes=body.scopes,
            rpm=body.rpm,
            tpm=body.tpm,
            budget_usd=body.budget_usd,
            expires_at=expires_at,
            now=now,
        )
    )
    shown = KeyBody.of(created.key, now)
    return CreatedKeyBody(**shown.model_dump(), token=created.token)


@router.get("/keys")
async def list_keys(
    principal: AdminDep,
    keys: KeysDep,
    tenant: str | None = None,
    include_revoked: bool = False,
) -> KeyList:
    scope = managed_tenant(principal, tenant)
    found = await in_thread(lambda: keys.list(scope, include_revoked=include_revoked))
    now = time.time()
    return KeyList(data=[KeyBody.of(key, now) for key in found])


@router.get("/keys/{key_id}", responses=error_responses(404))
async def get_key(key_id: str, principal: AdminDep, keys: KeysDep) -> KeyBody:
    return KeyBody.of(await _owned_key(keys, principal, key_id), time.time())


@router.delete("/keys/{key_id}", responses=error_responses(404))
async def revoke_key(key_id: str, principal: AdminDep, keys: KeysDep) -> KeyBody:
    await _owned_key(keys, principal, key_id)
    revoked = await in_thread(lambda: keys.revoke(key_id))
    return KeyBody.of(revoked, time.time())


@router.put("/tenants/{tenant}/budget")
async def set_budget(
    tenant: str, body: BudgetBody, principal: AdminDep, keys: KeysDep
) -> TenantBudget:
    if principal.key_id != ANONYMOUS_KEY_ID:  # a tenant must not lift its own spend cap
        raise PermissionDeniedError(
            "Tenant budgets are set by the operator (switchboard keys budget), not by a "
            "tenant's admin key."
        )
    await in_thread(lambda: keys.set_tenant_budget(tenant, body.budget_usd))
    return TenantBudget(tenant=tenant, budget_usd=body.budget_usd)


@router.get("/tenants/{tenant}/budget")
async def get_budget(tenant: str, principal: AdminDep, keys: KeysDep) -> TenantBudget:
    managed_tenant(principal, tenant)
    budget = await in_thread(lambda: keys.tenant_budget(tenant))
    return TenantBudget(tenant=tenant, budget_usd=budget)
