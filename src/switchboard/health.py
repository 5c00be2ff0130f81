"""Health of the server's dependencies, one status each, and the server's overall status.

    ok        every dependency answers
    degraded  every request is served, some less well: the Order API is restarting (order
              questions get a handoff), the response cache's file is failing (misses), a
              store had an error in the last minute
    down      a class of requests fails every time: the engine loop died, or a store those
              requests need (knowledge, conversations, gateway) is damaged

``GET /health`` answers 200 while the server is ok or degraded and 503 when it is down, so
a load balancer takes a server that is down out of rotation and keeps one that degraded.

A remote service shared by every replica (Redis, for the rate limiter, the budget ledger
or the response cache) is watched through its calls (``ServiceWatch``): it degrades the
server at most, since neither a restart nor another replica would help while it is down,
and requests meanwhile get a clear 503 (limits) or a cache miss.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit


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


@dataclass(frozen=True)
class ServiceHealth:
    """What ``/health`` shows of one component's remote service."""

    name: str
    url: str
    status: Status
    errors: int  # failed calls since start
    last_error: str | None


class ServiceWatch:
    """The outcomes of one component's calls to a remote service. Its status is that of the
    last call: ``failing`` (``down`` where calls are refused without it, ``degraded`` where
    they only lose something) after a failure, ``ok`` after a success. The log gets one line
    when calls begin to fail (naming the service, without its password) and one when they
    work again, never one per call."""

    def __init__(
        self, name: str, url: str, *, failing: Status, consequence: str, log: logging.Logger
    ) -> None:
        self.name = name
        self.url = public_url(url)
        self._failing_status = failing
        self._consequence = consequence
        self._log = log
        self._lock = threading.Lock()
        self._failures = 0  # in a row
        self._errors = 0
        self._last_error: str | None = None

    def failed(self, error: str) -> None:
        with self._lock:
            first = self._failures == 0
            self._failures += 1
            self._errors += 1
            self._last_error = error
        if first:
            level = logging.ERROR if self._failing_status is Status.DOWN else logging.WARNING
            self._log.log(level, "%s: %s; %s", self._label, error, self._consequence)

    def succeeded(self) -> None:
        with self._lock:
            failures, self._failures = self._failures, 0
        if failures:
            self._log.info("%s: answers again after %d failed call(s)", self._label, failures)

    def health(self) -> ServiceHealth:
        with self._lock:
            status = self._failing_status if self._failures else Status.OK
            return ServiceHealth(self.name, self.url, status, self._errors, self._last_error)

    @property
    def _label(self) -> str:
        return self.name.replace("_", " ")


def public_url(url: str) -> str:
    """``url`` without its user name and password, for messages and ``/health``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
