"""``GET /metrics`` (Prometheus text) and the dashboard's admin reads: ``GET
/v1/admin/requests`` (the request log, newest first, keyset pages) and ``GET
/v1/admin/spend`` (spend totals).

``metrics_router`` carries no authentication; ``admin_router`` is mounted by the app with
the admin scope. An admin key sees its own tenant only: naming another tenant is refused
(403), another tenant's key reads as spending nothing. The anonymous principal sees every
tenant. SQLite reads run in the thread pool.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from switchboard.api.openapi import error_responses
from switchboard.errors import (
    DependencyUnavailableError,
    InvalidRequestError,
    PermissionDeniedError,
)
from switchboard.gateway.types import Principal
from switchboard.observability.log_store import LoggedRequest, LogStore, SpendRow
from switchboard.observability.metrics import GatewayMetrics
from switchboard.periods import PERIOD_FORMS, parse_period
from switchboard.request_body import MAX_INT64

ANONYMOUS = "anonymous"
MAX_PAGE = 1000
PERIOD_DESCRIPTION = (
    f"{PERIOD_FORMS} (UTC): 'day' and 'month' are the current ones, 2026-11-25 a day, "
    "2026-11 a month (without scope, its days too); default: the current month."
)

metrics_router = APIRouter(tags=["observability"])
admin_router = APIRouter(prefix="/v1/admin", tags=["admin"])


def _principal(request: Request) -> Principal | None:
    """The caller, or ``None`` for the anonymous one (who sees every tenant)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None or principal.key_id == ANONYMOUS:
        return None
    return principal


def _tenant_scope(request: Request, tenant: str | None) -> str | None:
    """The tenant a read is restricted to: the caller's own, whatever was asked."""
    principal = _principal(request)
    if principal is None:
        return tenant
    if tenant is not None and tenant != principal.tenant:
        raise PermissionDeniedError(f"This key may not read tenant '{tenant}'.", param="tenant")
    return principal.tenant


def _store(request: Request) -> LogStore:
    store: LogStore | None = getattr(request.app.state, "log_store", None)
    if store is None:
        raise DependencyUnavailableError("The request log is not available.")
    return store


def _logged_json(row: LoggedRequest) -> dict[str, Any]:
    return {"id": row.id, **asdict(row.record)}


PROMETHEUS_TEXT = {
    "description": "The gateway's metrics in Prometheus' text format.",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}


@metrics_router.get("/metrics", response_class=PlainTextResponse, responses={200: PROMETHEUS_TEXT})
async def metrics(request: Request) -> Response:
    gateway_metrics: GatewayMetrics = request.app.state.metrics
    body, content_type = gateway_metrics.render()
    return Response(body, media_type=content_type)


@admin_router.get("/requests", responses=error_responses(503))
async def requests(
    request: Request,
    tenant: str | None = None,
    key_id: str | None = None,
    status: Annotated[int | None, Query(ge=100, le=599, description="HTTP status.")] = None,
    since: Annotated[float | None, Query(description="Unix seconds, inclusive.")] = None,
    until: Annotated[float | None, Query(description="Unix seconds, exclusive.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_INT64, description="The last id of the previous page.")
    ] = None,
) -> dict[str, Any]:
    """The request log, newest first; ``next_before_id`` fetches the next page."""
    store = _store(request)
    rows = await run_in_threadpool(
        lambda: store.query(
            tenant=_tenant_scope(request, tenant),
            key_id=key_id,
            status=status,
            since=since,
            until=until,
            limit=limit,
            before_id=before_id,
        )
    )
    next_id = rows[-1].id if len(rows) == limit else None
    return {"object": "list", "data": [_logged_json(r) for r in rows], "next_before_id": next_id}


@admin_router.get("/spend", responses=error_responses(503))
async def spend(
    request: Request,
    scope: Literal["key", "tenant"] | None = None,
    id: Annotated[str | None, Query(description="The key id or tenant name.")] = None,
    period: Annotated[str | None, Query(description=PERIOD_DESCRIPTION)] = None,
    tenant: str | None = None,
) -> dict[str, Any]:
    """One key's or tenant's totals (``scope`` and ``id``), or without them every spend row
    of a tenant whose period starts with ``period`` (its keys, itself, its models)."""
    store = _store(request)
    try:
        period = parse_period(period, time.time())
    except ValueError as exc:
        raise InvalidRequestError(str(exc), param="period") from None
    if scope is None:
        owner = _tenant_scope(request, tenant)
        if owner is None:
            raise InvalidRequestError("Name a tenant, or a scope and an id.", param="tenant")
        rows = await run_in_threadpool(store.spend_report, owner, period)
        return {"object": "list", "data": [asdict(r) for r in rows]}
    if id is None:
        raise InvalidRequestError("A scope needs an id.", param="id")
    owner = _tenant_scope(request, id if scope == "tenant" else tenant)
    row = await run_in_threadpool(lambda: store.spend(scope, id, period, tenant=owner))
    if row is None:
        row = SpendRow(period, scope, id, owner or "")
    return {"object": "spend", **asdict(row)}
