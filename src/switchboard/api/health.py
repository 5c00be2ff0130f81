"""``GET /health``: each dependency's status and the server's overall one
(``switchboard.health``), 200 while ok or degraded, 503 when down::

    {"status": "degraded",
     "engine": {"status": "ok", "model": "smollm2-135m:q8_0", "running": 0, "waiting": 0,
                "kv_cells_used": 0, "kv_cells_total": 16384, "last_error": null},
     "order_api": {"status": "degraded", "state": "down", "url": "http://127.0.0.1:40211",
                   "pid": null, "restarts": 0, "last_error": "exited: killed by SIGKILL"},
     "stores": {"knowledge": {"status": "ok", "path": "data/knowledge.sqlite3",
                              "quick_check": "ok", "errors": 0, "last_error": null}, ...},
     "services": {"rate_limiter": {"status": "down", "url": "redis://10.0.0.5:6379/0",
                                   "errors": 3, "last_error": "Redis at ... did not answer"}}}

Cheap enough to poll: the stores ran ``quick_check`` when they opened, and what is shown
since is the errors their requests met; a service shows how its last call went. A gateway
without a local engine has no ``engine``; a server without the Order API beside it no
``order_api``; one without Redis no ``services``. Stores that are not SQLite files
(PostgreSQL) are not listed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from typing import Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from switchboard.api.deps import ServedEngine
from switchboard.errors import EngineDeadError
from switchboard.health import ServiceHealth, ServiceWatch, Status, http_status, impact, worst
from switchboard.orders.supervisor import OrderApiHealth, OrderApiState
from switchboard.sqlite_file import FileHealth, SQLiteFile, merge

router = APIRouter()

_ORDER_API_STATUS = {
    OrderApiState.UP: Status.OK,
    OrderApiState.STARTING: Status.DEGRADED,
    OrderApiState.DOWN: Status.DEGRADED,
    OrderApiState.RESTARTING: Status.DEGRADED,
    OrderApiState.STOPPED: Status.DEGRADED,
}


class OrderApiProbe(Protocol):
    def health(self) -> OrderApiHealth: ...


class EngineHealthBody(BaseModel):
    status: Status
    model: str
    running: int | None = None
    waiting: int | None = None
    kv_cells_used: int | None = None
    kv_cells_total: int | None = None
    last_error: str | None = None


class OrderApiHealthBody(BaseModel):
    status: Status
    state: OrderApiState
    url: str | None
    pid: int | None
    restarts: int
    last_error: str | None


class StoreHealthBody(BaseModel):
    status: Status
    path: str
    quick_check: str
    errors: int
    last_error: str | None


class ServiceHealthBody(BaseModel):
    status: Status
    url: str
    errors: int
    last_error: str | None


class HealthBody(BaseModel):
    status: Status
    engine: EngineHealthBody | None = None
    order_api: OrderApiHealthBody | None = None
    stores: dict[str, StoreHealthBody]
    services: dict[str, ServiceHealthBody] | None = None


@router.get(
    "/health",
    response_model=HealthBody,
    responses={503: {"model": HealthBody, "description": "A dependency is down."}},
)
async def health(request: Request) -> JSONResponse:
    body = check(request.app)
    content = {k: v for k, v in body.model_dump(mode="json").items() if v is not None}
    return JSONResponse(content, status_code=http_status(body.status))


def check(app: FastAPI) -> HealthBody:
    """Every dependency's health and the overall status they add up to."""
    engine = _engine(app.state.engine)
    probe: OrderApiProbe | None = getattr(app.state, "order_api", None)
    order_api = _order_api(probe.health()) if probe is not None else None
    stores = store_health(getattr(app.state, "store_files", []))
    services = service_health(getattr(app.state, "services", []))
    impacts = [impact(h.status, critical=h.critical) for h in stores]
    impacts += [impact(h.status, critical=False) for h in services]  # shared by replicas
    if engine is not None:
        impacts.append(engine.status)
    if order_api is not None:
        impacts.append(impact(order_api.status, critical=False))
    return HealthBody(
        status=worst(impacts),
        engine=engine,
        order_api=order_api,
        stores={h.label: _store(h) for h in stores},
        services={h.name: _service(h) for h in services} or None,
    )


def problems(app: FastAPI) -> list[str]:
    """One line per dependency that is not ok (logged when the server starts)."""
    body = check(app)
    lines = [f"store {name}: {s.last_error or s.quick_check}" for name, s in body.stores.items()
             if s.status is not Status.OK]  # fmt: skip
    if body.engine is not None and body.engine.status is not Status.OK:
        lines.append(f"engine: {body.engine.last_error}")
    return lines


def store_files(*owners: object) -> list[SQLiteFile]:
    """The SQLite files of these stores; an owner without one (None, PostgreSQL, Redis)
    is left out."""
    return [f for o in owners if isinstance(f := getattr(o, "file", None), SQLiteFile)]


def services(*owners: object) -> list[ServiceWatch]:
    """The remote services (Redis) these components call; an owner without one (None, a
    component kept in memory or in a SQLite file) is left out."""
    return [s for o in owners if isinstance(s := getattr(o, "service", None), ServiceWatch)]


def service_health(watches: list[ServiceWatch]) -> list[ServiceHealth]:
    """One entry per service name: two components' clients of one service (the gateway's
    and the assistant's response cache) are merged into their worst."""
    by_name: dict[str, ServiceHealth] = {}
    for health in (w.health() for w in watches):
        seen = by_name.get(health.name)
        if seen is None or health.status.rank > seen.status.rank:
            by_name[health.name] = health
    return list(by_name.values())


def store_health(files: list[SQLiteFile]) -> list[FileHealth]:
    """One entry per store: connections of one store (the gateway's keys, log and log
    writer) are merged into their worst."""
    by_label: defaultdict[str, list[FileHealth]] = defaultdict(list)
    for file in files:
        by_label[file.label].append(file.health())
    return [merge(views) for views in by_label.values()]


def _engine(engine: ServedEngine | None) -> EngineHealthBody | None:
    if engine is None:
        return None
    try:
        engine.async_engine.check_alive()
    except EngineDeadError as exc:
        return EngineHealthBody(status=Status.DOWN, model=engine.name, last_error=str(exc))
    stats = engine.async_engine.stats
    return EngineHealthBody(
        status=Status.OK,
        model=engine.name,
        running=stats.running,
        waiting=stats.waiting,
        kv_cells_used=stats.kv_cells_used,
        kv_cells_total=stats.kv_cells_total,
    )


def _order_api(health: OrderApiHealth) -> OrderApiHealthBody:
    return OrderApiHealthBody(status=_ORDER_API_STATUS[health.state], **asdict(health))


def _store(health: FileHealth) -> StoreHealthBody:
    return StoreHealthBody.model_validate(health, from_attributes=True)


def _service(health: ServiceHealth) -> ServiceHealthBody:
    return ServiceHealthBody.model_validate(health, from_attributes=True)
