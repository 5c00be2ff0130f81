"""The gateway end to end over HTTP: a real uvicorn server in front of real fake upstreams
on loopback (``switchboard_bench.fake_upstream``) that fail, stall or die when told to."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from switchboard.api import create_app
from switchboard.config import Price, RequestLogSettings
from switchboard.gateway.types import Scope
from switchboard_bench.uvicorn_thread import serve
from tests.integration.fake_upstream_fixture import UpstreamHandle, closed_port_url
from tests.integration.gateway_harness import (
    chat_body,
    content_of,
    gateway_settings,
    logged,
    sse_events,
)

pytestmark = pytest.mark.integration


def test_a_dead_primary_falls_back_to_the_secondary(
    tmp_path: Path, secondary: UpstreamHandle
) -> None:
    settings = gateway_settings(tmp_path, {"primary": closed_port_url(), "backup": secondary.url})
    app = create_app(None, settings)
    with serve(app) as base:
        with httpx.stream(
            "POST", f"{base}/v1/chat/completions", json=chat_body(), timeout=10
        ) as response:
            assert response.status_code == 200
            assert response.headers["x-switchboard-provider"] == "backup"
            events = sse_events(response)
        (row,) = logged(app, 1)
    assert events[-1] == "[DONE]"
    assert {e["model"] for e in events[:-1]} == {"m-backup"}
    assert content_of(events)
    assert row.record.status == 200
    assert [a.provider for a in row.record.attempts] == ["primary", "backup"]
    assert row.record.attempts[0].error


def test_a_slow_first_token_moves_on_before_any_byte_is_sent(
    tmp_path: Path, upstream: UpstreamHandle, secondary: UpstreamHandle
) -> None:
    upstream.control(ttft_s=30.0)  # never within the deadline
    settings = gateway_settings(
        tmp_path, {"slow": upstream.url, "fast": secondary.url}, ttft_deadline_s=0.5
    )
    with serve(create_app(None, settings)) as base:
        started = time.monotonic()
        with httpx.stream(
            "POST", f"{base}/v1/chat/completions", json=chat_body(), timeout=20
        ) as response:
            assert response.status_code == 200
            events = sse_events(response)
        elapsed = time.monotonic() - started
    # Every byte the client got came from the fast provider, long before the slow one's
    # first token (30 s): the slow request was abandoned at its deadline.
    assert {e["model"] for e in events[:-1]} == {"m-fast"}
    assert elapsed < 15
    assert upstream.stats()["requests"] == 1


def test_a_provider_dying_mid_stream_ends_the_stream_with_an_error_event(
    tmp_path: Path, upstream: UpstreamHandle, secondary: UpstreamHandle
) -> None:
    upstream.control(die_after=2, chunks=8)
    settings = gateway_settings(tmp_path, {"flaky": upstream.url, "backup": secondary.url})
    app = create_app(None, settings)
    with serve(app) as base:
        with httpx.stream(
            "POST", f"{base}/v1/chat/completions", json=chat_body(max_tokens=8), timeout=10
        ) as response:
            assert response.status_code == 200
            events = sse_events(response)
        (row,) = logged(app, 1)
    assert content_of(events) == "tok0 tok1 "
    error = events[-2]["error"]
    assert error["code"] == "upstream_error"
    assert events[-1] == "[DONE]"
    assert secondary.stats()["requests"] == 0  # no fallback once bytes went out
    assert row.record.status == 502
    assert row.record.completion_tokens == 2


def test_a_provider_going_silent_mid_stream_never_hangs_the_client(
    tmp_path: Path, upstream: UpstreamHandle
) -> None:
    upstream.control(hang_after=1, chunks=8)
    settings = gateway_settings(tmp_path, {"silent": upstream.url})  # read timeout 2 s
    with (
        serve(create_app(None, settings)) as base,
        httpx.stream(
            "POST", f"{base}/v1/chat/completions", json=chat_body(max_tokens=8), timeout=20
        ) as response,
    ):
        events = sse_events(response)
    assert events[-2]["error"]["code"] == "upstream_error"
    assert events[-1] == "[DONE]"


def test_a_request_over_budget_is_refused_before_it_runs(
    tmp_path: Path, upstream: UpstreamHandle
) -> None:
    prices = {"m-main": Price(input_per_mtok=1000.0, output_per_mtok=1000.0)}  # $0.001/token
    settings = gateway_settings(tmp_path, {"main": upstream.url}, prices=prices, auth="on")
    app = create_app(None, settings)
    keys = app.state.auth.keys
    token = keys.create(tenant="acme", scopes=[Scope.CHAT], budget_usd=0.02).token
    auth = {"Authorization": f"Bearer {token}"}
    with serve(app) as base:
        first = httpx.post(
            f"{base}/v1/chat/completions", json=chat_body(stream=False), headers=auth, timeout=10
        )
        assert first.status_code == 200
        usage = first.json()["usage"]
        spent = (usage["prompt_tokens"] + usage["completion_tokens"]) * 0.001
        refused = httpx.post(
            f"{base}/v1/chat/completions", json=chat_body(stream=False), headers=auth, timeout=10
        )
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "insufficient_quota"
        assert upstream.stats()["requests"] == 1  # refused before reaching the provider
        logged(app, 2)
        admin = keys.create(tenant="acme", scopes=[Scope.ADMIN]).token
        key_id = token.split("-")[1]
        report = httpx.get(
            f"{base}/v1/admin/spend",
            params={"scope": "key", "id": key_id},
            headers={"Authorization": f"Bearer {admin}"},
            timeout=10,
        )
    assert report.status_code == 200, report.text
    assert report.json()["cost_usd"] == pytest.approx(spent)


def test_requests_over_the_rate_limit_get_a_429_with_retry_after(
    tmp_path: Path, upstream: UpstreamHandle
) -> None:
    settings = gateway_settings(tmp_path, {"main": upstream.url}, auth="on")
    app = create_app(None, settings)
    token = app.state.auth.keys.create(tenant="acme", scopes=[Scope.CHAT], rpm=2).token
    auth = {"Authorization": f"Bearer {token}"}
    with serve(app) as base:
        statuses = []
        for _ in range(3):
            response = httpx.post(
                f"{base}/v1/chat/completions",
                json=chat_body(stream=False),
                headers=auth,
                timeout=10,
            )
            statuses.append(response.status_code)
        no_key = httpx.post(f"{base}/v1/chat/completions", json=chat_body(), timeout=10)
    assert statuses == [200, 200, 429]
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["error"]["type"] == "requests"
    assert no_key.status_code == 401
    assert upstream.stats()["requests"] == 2


def test_metrics_and_genai_spans_describe_each_request(
    tmp_path: Path, upstream: UpstreamHandle
) -> None:
    exporter = InMemorySpanExporter()
    settings = gateway_settings(tmp_path, {"main": upstream.url})
    with serve(create_app(None, settings, span_exporter=exporter)) as base:
        with httpx.stream(
            "POST", f"{base}/v1/chat/completions", json=chat_body(), timeout=10
        ) as response:
            sse_events(response)
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
    assert 'switchboard_requests_total{model="chat",provider="main",status="200"} 1.0' in metrics
    assert "switchboard_time_to_first_token_seconds_count" in metrics
    assert "switchboard_requests_in_flight 0.0" in metrics
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "chat chat"]
    (attempt,) = [s for s in exporter.get_finished_spans() if s.name == "chat m-main"]
    assert attempt.parent is not None
    assert attempt.parent.span_id == span.context.span_id
    assert dict(attempt.attributes or {})["gen_ai.provider.name"] == "main"
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.request.model"] == "chat"
    assert attributes["gen_ai.response.model"] == "m-main"
    assert attributes["gen_ai.usage.output_tokens"] == 4
    assert attributes["gen_ai.usage.input_tokens"] > 0


def test_keys_never_reach_the_request_log_or_the_server_log(
    tmp_path: Path, upstream: UpstreamHandle, caplog: pytest.LogCaptureFixture
) -> None:
    log = RequestLogSettings(record_text=True)
    settings = gateway_settings(tmp_path, {"main": upstream.url}, auth="on", log=log)
    app = create_app(None, settings)
    token = app.state.auth.keys.create(tenant="acme", scopes=[Scope.CHAT]).token
    secret = token.split("-", 2)[2]  # sb-<id>-<secret>; the secret itself may hold "-"
    body = chat_body(stream=False)
    body["messages"][0]["content"] = f"my key is {token}, email me at ann@example.com"
    with caplog.at_level(logging.DEBUG), serve(app) as base:
        ok = httpx.post(
            f"{base}/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        wrong = httpx.post(
            f"{base}/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {token[:-2]}xx"},
            timeout=10,
        )
        rows = logged(app, 1)
    assert (ok.status_code, wrong.status_code) == (200, 401)
    assert secret not in wrong.text
    texts = " ".join(f"{r.record.input_text} {r.record.output_text}" for r in rows)
    assert "<API_KEY>" in texts
    assert "ann@example.com" not in texts  # the guard's <EMAIL_ADDRESS_1>, or the log's <EMAIL>
    assert secret not in texts
    assert secret not in caplog.text
    database = b"".join(p.read_bytes() for p in tmp_path.glob("gateway.sqlite3*"))
    assert secret.encode() not in database


def test_the_request_limit_holds_on_every_endpoint_not_only_chat(
    tmp_path: Path, upstream: UpstreamHandle
) -> None:
    settings = gateway_settings(tmp_path, {"main": upstream.url}, auth="on")
    app = create_app(None, settings)
    token = app.state.auth.keys.create(tenant="acme", scopes=[Scope.CHAT], rpm=2).token
    auth = {"Authorization": f"Bearer {token}"}
    with serve(app) as base:
        models = httpx.get(f"{base}/v1/models", headers=auth, timeout=10)
        chat = httpx.post(
            f"{base}/v1/chat/completions", json=chat_body(stream=False), headers=auth, timeout=10
        )
        refused = httpx.get(f"{base}/v1/models", headers=auth, timeout=10)
    assert [models.status_code, chat.status_code, refused.status_code] == [200, 200, 429]
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert [m["id"] for m in models.json()["data"]] == ["chat"]
