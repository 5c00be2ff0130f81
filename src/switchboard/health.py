"""Health of the server's dependencies, one status each, and the server's overall status.

    ok        every dependency answers
    degraded  every request is served, some less well: the Order API is restarting (order
              questions get a handoff), the response cache's file is failing (misses), a
              store had an error in the last minute
    down      a class of requests fails every time: the engine loop died, or a store those
              requests need (knowledge, conversations, gateway) is damaged

``GET /health`` answers 200 while the server is ok or degraded and 503 when it is down, so
a load balancer takes a server that is down out of rotation and keeps one that degraded.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Status(enum.StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Status.OK: 0, Status.DEGRADED: 1, Status.DOWN: 2}


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe of ``statuses`` (``ok`` for none)."""
    return max(statuses, key=lambda status: status.rank, default=Status.OK)


def impact(status: Status, *, critical: bool) -> Status:
    """What a dependency's status does to the server: one that is not critical (requests
    go on without it) degrades the server at most."""
    return status if critical else min(status, Status.DEGRADED, key=lambda s: s.rank)


def http_status(status: Status) -> int:
    return 503 if status is Status.DOWN else 200
