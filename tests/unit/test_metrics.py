"""Gateway metrics: the series and values ``render`` exposes after ``observe``."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from switchboard.engine.async_engine import EngineStats
from switchboard.observability.metrics import GatewayMetrics
from switchboard.observability.record import Attempt, RequestRecord

pytestmark = pytest.mark.unit


def samples(metrics: GatewayMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def value(metrics: GatewayMetrics, name: str, **labels: str) -> float | None:
    return samples(metrics).get((name, frozenset(labels.items())))


def finished(**fields: object) -> RequestRecord:
    values: dict[str, object] = {
        "request_id": "r1",
        "started_at": 0.0,
        "key_id": "k1",
        "tenant": "acme",
        "endpoint": "chat",
        "model": "fast",
        "status": 200,
        "provider": "local",
        "served_model": "qwen",
        "prompt_tokens": 12,
        "completion_tokens": 30,
        "cost_usd": 0.25,
        "ttft_ms": 80.0,
        "total_ms": 1500.0,
        "queue_wait_ms": 3.0,
    }
    values.update(fields)
    return RequestRecord(**values)  # type: ignore[arg-type]


def test_observe_fills_counters_and_histograms() -> None:
    metrics = GatewayMetrics()
    metrics.observe(finished(), [0.004, 0.02, 0.3])
    metrics.observe(
        finished(
            status=502,
            provider="remote",
            attempts=[Attempt("local", "qwen", "timeout"), Attempt("remote", "big", "http_503")],
            cost_usd=0.0,
            ttft_ms=None,
        )
    )
    route = {"model": "fast", "provider": "local"}
    assert value(metrics, "switchboard_requests_total", status="200", **route) == 1
    assert (
        value(metrics, "switchboard_requests_total", model="fast", provider="remote", status="502")
        == 1
    )
    assert value(metrics, "switchboard_tokens_total", model="fast", kind="prompt") == 24
    assert value(metrics, "switchboard_tokens_total", model="fast", kind="completion") == 60
    assert value(metrics, "switchboard_cost_usd_total", model="fast") == pytest.approx(0.25)
    assert value(metrics, "switchboard_fallbacks_total", model="fast") == 1
    ttft = "switchboard_time_to_first_token_seconds"
    assert value(metrics, f"{ttft}_count", **route) == 1
    assert value(metrics, f"{ttft}_sum", **route) == pytest.approx(0.08)
    assert value(metrics, f"{ttft}_bucket", le="0.05", **route) == 0
    assert value(metrics, f"{ttft}_bucket", le="0.1", **route) == 1
    assert value(metrics, f"{ttft}_count", model="fast", provider="remote") is None  # no TTFT
    itl = "switchboard_inter_token_latency_seconds"
    assert value(metrics, f"{itl}_count", **route) == 3
    assert value(metrics, f"{itl}_bucket", le="0.005", **route) == 1
    assert value(metrics, f"{itl}_sum", **route) == pytest.approx(0.324)
    duration = "switchboard_request_duration_seconds"
    assert value(metrics, f"{duration}_sum", **route) == pytest.approx(1.5)
    assert value(metrics, "switchboard_queue_wait_seconds_sum", **route) == pytest.approx(0.003)


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("switchboard_time_to_first_token_seconds", 0.005, 60),
        ("switchboard_inter_token_latency_seconds", 0.001, 2),
        ("switchboard_request_duration_seconds", 0.01, 300),
        ("switchboard_queue_wait_seconds", 0.001, 60),
    ],
)
def test_histogram_buckets_span_llm_latencies(name: str, low: float, high: float) -> None:
    metrics = GatewayMetrics()
    metrics.observe(finished(), [0.01])
    bounds = sorted(
        float(dict(labels)["le"])
        for (sample, labels) in samples(metrics)
        if sample == f"{name}_bucket"
    )
    assert bounds[0] == low
    assert bounds[-2:] == [high, float("inf")]


def test_limits_failures_and_in_flight() -> None:
    metrics = GatewayMetrics()
    metrics.rate_limited("requests")
    metrics.rate_limited("requests")
    metrics.rate_limited("budget")
    metrics.rate_limited("something odd")
    metrics.provider_failed("remote", "timeout")
    metrics.in_flight.inc()
    metrics.in_flight.inc()
    metrics.in_flight.dec()
    assert value(metrics, "switchboard_rate_limited_total", limit="requests") == 2
    assert value(metrics, "switchboard_rate_limited_total", limit="budget") == 1
    assert value(metrics, "switchboard_rate_limited_total", limit="other") == 1
    assert (
        value(metrics, "switchboard_provider_failures_total", provider="remote", reason="timeout")
        == 1
    )
    assert value(metrics, "switchboard_requests_in_flight") == 1
    with metrics.in_flight.track_inprogress():
        assert value(metrics, "switchboard_requests_in_flight") == 2


def test_model_labels_are_bounded() -> None:
    metrics = GatewayMetrics(max_label_values=2)
    for model in ("a", "b", "c", "d", "a"):
        metrics.observe(finished(model=model))
    counts = {
        dict(labels)["model"]: v
        for (name, labels), v in samples(metrics).items()
        if name == "switchboard_requests_total"
    }
    assert counts == {"a": 2, "b": 1, "other": 2}


class FakeLog:
    dropped = 0
    failed_records = 0


def test_scrape_time_values_from_the_log_and_the_engine() -> None:
    log = FakeLog()
    stats = EngineStats(running=3, waiting=7, kv_cells_used=256, kv_cells_total=1024)
    metrics = GatewayMetrics(request_log=log, engine_stats=lambda: stats)
    assert value(metrics, "switchboard_request_log_dropped_total") == 0
    log.dropped = 5
    assert value(metrics, "switchboard_request_log_dropped_total") == 5
    assert value(metrics, "switchboard_request_log_failed_records_total") == 0
    log.failed_records = 3
    assert value(metrics, "switchboard_request_log_failed_records_total") == 3
    assert value(metrics, "switchboard_engine_running_sequences") == 3
    assert value(metrics, "switchboard_engine_queue_depth") == 7
    assert value(metrics, "switchboard_engine_kv_cache_usage_ratio") == pytest.approx(0.25)
    stats = EngineStats(running=0, waiting=0, kv_cells_used=0, kv_cells_total=0)
    assert value(metrics, "switchboard_engine_kv_cache_usage_ratio") == 0


def test_prefix_cache_counters_are_exported_at_scrape_time() -> None:
    stats = EngineStats(
        running=0, waiting=0, kv_cells_used=0, kv_cells_total=1024, prefix_cache_cells=300,
        prefix_cache_lookups=5, prefix_cache_hits=3, prefill_tokens_computed=700,
        prefill_tokens_reused=1200,
    )  # fmt: skip
    metrics = GatewayMetrics(engine_stats=lambda: stats)
    assert value(metrics, "switchboard_engine_prefix_cache_cells") == 300
    assert value(metrics, "switchboard_engine_prefix_cache_lookups_total") == 5
    assert value(metrics, "switchboard_engine_prefix_cache_hits_total") == 3
    assert value(metrics, "switchboard_engine_prefill_tokens_total", kind="computed") == 700
    assert value(metrics, "switchboard_engine_prefill_tokens_total", kind="reused") == 1200


def test_each_instance_has_its_own_registry() -> None:
    first, second = GatewayMetrics(), GatewayMetrics()
    first.rate_limited("tokens")
    assert value(first, "switchboard_rate_limited_total", limit="tokens") == 1
    assert value(second, "switchboard_rate_limited_total", limit="tokens") is None
    assert value(second, "switchboard_engine_queue_depth") is None  # no engine given
