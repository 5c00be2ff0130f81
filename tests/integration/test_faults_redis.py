"""Redis down and back, under a real server: redis-server on a fixed loopback port,
stopped and started again there (empty: it keeps nothing, as after a crash without
persistence), the gateway over loopback with the fake engine.

- The rate limiter and the budget ledger fail closed: while Redis is down every request is
  a prompt 503 ``service_unavailable`` naming Redis (without its password), ``/health``
  shows them down (the server degraded: restarting it would not help), and the log says so
  once per dependency, not per request. Once Redis is back, limits are enforced again, and
  a key's spend from before the outage still counts (the ledger seeds its accounts from the
  spend persisted in SQLite).
- The response cache fails open: while Redis is down requests are answered by the model (a
  miss, not an error), promptly, logged once; once it is back the cache fills and serves
  hits again. A Redis that accepts connections and never answers is a miss too, not a hang.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from switchboard.api import create_app
from switchboard.config import CacheSettings, LimitSettings, Price
from switchboard.gateway.types import Scope
from switchboard.periods import period_of
from switchboard_bench.uvicorn_thread import serve
from tests.integration import gateway_harness
from tests.integration.fault_harness import (
    error_of,
    fake_chat,
    gateway_settings,
    health,
    logged,
    tracebacks,
)
from tests.integration.redis_server import free_port, redis_server
from tests.integration.test_gateway_redis import silent_port
from tests.unit.test_api_routes import MODEL, FakeServedEngine

pytestmark = pytest.mark.integration
__all__ = ["silent_port"]  # the fixture, imported for this module

# $0.001 a token: fake_chat's 3 prompt and 4 completion tokens cost $0.007
PRICES = {MODEL: Price(input_per_mtok=1000.0, output_per_mtok=1000.0)}


@dataclass
class Served:
    base_url: str
    app: FastAPI


@contextlib.contextmanager
def served(data: Path, cache: CacheSettings | None = None, **gateway: Any) -> Iterator[Served]:
    engine = FakeServedEngine()
    try:
        app = create_app(engine, gateway_settings(data, cache=cache, **gateway))
        with serve(app) as base_url:
            yield Served(base_url, app)
    finally:
        engine.async_engine.shutdown()


def codes(responses: list[httpx.Response]) -> list[tuple[int, str | None]]:
    return [
        (r.status_code, None if r.status_code == 200 else r.json()["error"]["code"])
        for r in responses
    ]


def test_limits_and_budgets_fail_closed_while_redis_is_down_and_resume_with_spend_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = free_port()
    url = f"redis://:secret@127.0.0.1:{port}/0"
    limits = LimitSettings(backend="redis", redis_url=url)
    with served(tmp_path, auth="on", limits=limits, prices=PRICES) as server:
        keys = server.app.state.auth.keys
        limited = keys.create(tenant="acme", scopes=[Scope.CHAT], rpm=2).token
        budget_key = keys.create(tenant="acme", scopes=[Scope.CHAT], budget_usd=0.01)
        budgeted = budget_key.token
        with redis_server(port=port):
            before = [fake_chat(server.base_url, limited) for _ in range(3)]
            before += [fake_chat(server.base_url, budgeted) for _ in range(2)]
            gateway_harness.logged(server.app, 5)  # the spend is in SQLite
        caplog.clear()
        down = [fake_chat(server.base_url, t) for t in (limited, budgeted, limited)]
        health_down = health(server.base_url)
        lines_down = logged(caplog, logging.INFO)
        with redis_server(port=port):
            back = [fake_chat(server.base_url, limited) for _ in range(3)]
            back += [fake_chat(server.base_url, budgeted)]
            health_back = health(server.base_url)
            lines_back = logged(caplog, logging.INFO)[len(lines_down) :]
        rows = gateway_harness.logged(server.app, 12)
        month = period_of(time.time(), "month")
        spent = server.app.state.log_store.spent("key", budget_key.key.id, month)

    # what the user sees
    assert codes(before) == [
        (200, None), (200, None), (429, "rate_limit_exceeded"),
        (200, None), (429, "insufficient_quota"),
    ]  # fmt: skip
    for response in down:
        assert error_of(response) == (503, "server_error", "service_unavailable")
        assert f"Redis at redis://127.0.0.1:{port}/0 did not answer" in response.text
        assert "secret" not in response.text
    status, body = health_down
    assert (status, body["status"]) == (200, "degraded")
    assert body["services"]["rate_limiter"]["status"] == "down"
    assert body["services"]["rate_limiter"]["url"] == f"redis://127.0.0.1:{port}/0"
    assert "did not answer" in body["services"]["rate_limiter"]["last_error"]
    assert codes(back) == [
        (200, None), (200, None), (429, "rate_limit_exceeded"), (429, "insufficient_quota"),
    ]  # fmt: skip
    status, body = health_back
    assert (status, body["status"]) == (200, "ok")
    assert body["services"]["rate_limiter"]["status"] == "ok"
    # what is logged: once per dependency when it fails and when it is back
    assert lines_down == [
        f"{what}: Redis at redis://127.0.0.1:{port}/0 did not answer (ConnectionError); "
        "requests are refused (503) until it answers"
        for what in ("rate limiter", "budget ledger")
    ]
    assert lines_back == [
        "rate limiter: answers again after 2 failed call(s)",
        "budget ledger: answers again after 1 failed call(s)",
    ]
    assert not tracebacks(caplog)
    # what is kept: every request in the log, and the spend that refuses the budgeted key
    assert sorted(r.record.status for r in rows) == [200] * 5 + [429] * 4 + [503] * 3
    assert spent == pytest.approx(0.007)  # its one answer, before the outage


def test_the_cache_misses_while_redis_is_down_and_hits_again_when_it_is_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = free_port()
    cache = CacheSettings(enabled=True, backend="redis", redis_url=f"redis://127.0.0.1:{port}/0")
    with served(tmp_path, cache) as server:
        with redis_server(port=port):
            before = [fake_chat(server.base_url) for _ in range(2)]
        caplog.clear()
        down = [fake_chat(server.base_url) for _ in range(3)]
        health_down = health(server.base_url)
        lines_down = logged(caplog, logging.INFO)
        with redis_server(port=port):
            back = [fake_chat(server.base_url) for _ in range(2)]
            lines_back = logged(caplog, logging.INFO)[len(lines_down) :]
            health_back = health(server.base_url)

    def hits(responses: list[httpx.Response]) -> list[str | None]:
        assert all(r.status_code == 200 for r in responses)
        return [r.headers.get("x-switchboard-cache") for r in responses]

    assert hits(before) == [None, "exact"]
    assert hits(down) == [None, None, None]
    assert hits(back) == [None, "exact"]  # an empty Redis: filled again, then used
    status, body = health_down
    assert (status, body["status"], body["services"]["cache"]["status"]) == (
        200, "degraded", "degraded",
    )  # fmt: skip
    assert health_back[1]["status"] == "ok"
    assert lines_down == [
        f"cache: redis://127.0.0.1:{port}/0 failed (ConnectionError: Error 111 connecting to "
        f"127.0.0.1:{port}. Connection refused.); lookups are misses and answers are not "
        "stored until it works again"
    ]
    assert lines_back == ["cache: answers again after 6 failed call(s)"]  # 3 gets, 3 puts
    assert not tracebacks(caplog)


def test_a_redis_that_never_answers_is_a_cache_miss_not_a_hang(
    tmp_path: Path, silent_port: int
) -> None:
    url = f"redis://127.0.0.1:{silent_port}/0"
    with served(tmp_path, CacheSettings(enabled=True, backend="redis", redis_url=url)) as server:
        # a lookup gives up within the store's timeout (0.5 s): well within 3 s, a stall
        # (the client's default 5 s, or none) fails the request here
        answered = [fake_chat(server.base_url, timeout_s=3) for _ in range(2)]
    assert [(r.status_code, r.headers.get("x-switchboard-cache")) for r in answered] == [
        (200, None), (200, None),
    ]  # fmt: skip
