"""``GET /health``: liveness (503 once the engine loop died) plus the engine's queue
and KV-cache occupancy."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from switchboard.api.deps import EngineDep

router = APIRouter()


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    model: str
    running: int
    waiting: int
    kv_cells_used: int
    kv_cells_total: int


@router.get("/health")
async def health(engine: EngineDep) -> Health:
    engine.async_engine.check_alive()  # a dead engine answers 503
    stats = engine.async_engine.stats
    return Health(
        model=engine.name,
        running=stats.running,
        waiting=stats.waiting,
        kv_cells_used=stats.kv_cells_used,
        kv_cells_total=stats.kv_cells_total,
    )
