"""``GET /health``: liveness (503 once the engine loop died) plus the engine's queue
and KV-cache occupancy; a gateway without a local engine answers ``{"status": "ok"}``."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from switchboard.api.deps import ServedEngine
from switchboard.api.openapi import error_responses

router = APIRouter()


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    model: str | None = None
    running: int | None = None
    waiting: int | None = None
    kv_cells_used: int | None = None
    kv_cells_total: int | None = None


@router.get("/health", response_model_exclude_none=True, responses=error_responses(503))
async def health(request: Request) -> Health:
    engine: ServedEngine | None = request.app.state.engine
    if engine is None:
        return Health()
    engine.async_engine.check_alive()  # a dead engine answers 503
    stats = engine.async_engine.stats
    return Health(
        model=engine.name,
        running=stats.running,
        waiting=stats.waiting,
        kv_cells_used=stats.kv_cells_used,
        kv_cells_total=stats.kv_cells_total,
    )
