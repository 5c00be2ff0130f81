"""Prometheus metrics of the gateway, in a registry of their own (tests build many apps).

Latency histograms (seconds) and counters by model and provider, the requests in flight,
and values read at scrape time: the request log's records dropped (queue full) and lost
(a failed write), the local engine's queue and KV-cache occupancy. ``observe`` runs once
per request on the request path, so it caches the labelled children; label values beyond
``max_label_values`` distinct ones per label read ``"other"`` so an odd client cannot blow
up the series count.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from switchboard.observability.record import RequestRecord

LIMIT_KINDS = frozenset({"requests", "tokens", "budget"})

TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)
ITL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1, 2)
E2E_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
QUEUE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

OTHER = "other"


class EngineStats(Protocol):
    """What the metrics read of the local engine's counters (``AsyncEngine.stats()``)."""

    @property
    def running(self) -> int: ...
    @property
    def waiting(self) -> int: ...
    @property
    def kv_cells_used(self) -> int: ...
    @property
    def kv_cells_total(self) -> int: ...
    @property
    def prefix_cache_cells(self) -> int: ...
    @property
    def prefix_cache_lookups(self) -> int: ...
    @property
    def prefix_cache_hits(self) -> int: ...
    @property
    def prefill_tokens_computed(self) -> int: ...
    @property
    def prefill_tokens_reused(self) -> int: ...
    @property
    def draft_tokens(self) -> int: ...
    @property
    def accepted_draft_tokens(self) -> int: ...
    @property
    def speculative(self) -> str: ...


class LogCounters(Protocol):
    """What the metrics read from the request log (``RequestLog`` has it)."""

    @property
    def dropped(self) -> int: ...

    @property
    def failed_records(self) -> int: ...


class LabelBound:
    """Passes the first ``limit`` distinct values of a label, maps later ones to ``other``."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) >= self._limit:
                return OTHER
            self._seen.add(value)
        return value


class _ScrapeTimeCollector(Collector):
    """Values read when Prometheus scrapes: the log's losses and the engine's gauges."""

    def __init__(
        self,
        request_log: LogCounters | None,
        engine_stats: Callable[[], EngineStats] | None,
    ) -> None:
        self._request_log = request_log
        self._engine_stats = engine_stats

    def collect(self) -> Iterable[Metric]:
        dropped = CounterMetricFamily(
            "switchboard_request_log_dropped",
            "Request log records dropped because its queue was full.",
        )
        dropped.add_metric([], self._request_log.dropped if self._request_log else 0)
        yield dropped
        failed = CounterMetricFamily(
            "switchboard_request_log_failed_records",
            "Request log records lost because their batch could not be written "
            "(a full disk, a read-only or damaged database).",
        )
        failed.add_metric([], self._request_log.failed_records if self._request_log else 0)
        yield failed
        if self._engine_stats is None:
            return
        stats = self._engine_stats()
        usage = stats.kv_cells_used / stats.kv_cells_total if stats.kv_cells_total else 0.0
        for name, doc, value in (
            ("running_sequences", "Sequences the local engine is generating.", stats.running),
            ("queue_depth", "Requests waiting for the local engine.", stats.waiting),
            ("kv_cache_usage_ratio", "Share of the KV cache in use.", usage),
            ("prefix_cache_cells", "KV cells idle slots keep for prefix reuse.",
             stats.prefix_cache_cells),
        ):  # fmt: skip
            yield GaugeMetricFamily(f"switchboard_engine_{name}", doc, value=value)
        yield from _prefix_cache_counters(stats)
        yield from _speculative_metrics(stats)


def _prefix_cache_counters(stats: EngineStats) -> Iterable[Metric]:
    for name, doc, value in (
        ("prefix_cache_lookups", "Admissions, each looking up a cached prefix.",
         stats.prefix_cache_lookups),
        ("prefix_cache_hits", "Admissions that reused a cached prefix.", stats.prefix_cache_hits),
    ):  # fmt: skip
        counter = CounterMetricFamily(f"switchboard_engine_{name}", doc)
        counter.add_metric([], value)
        yield counter
    prefill = CounterMetricFamily(
        "switchboard_engine_prefill_tokens",
        "Prompt tokens at admission: computed, or reused from a cached prefix.",
        labels=["kind"],
    )
    prefill.add_metric(["computed"], stats.prefill_tokens_computed)
    prefill.add_metric(["reused"], stats.prefill_tokens_reused)
    yield prefill


def _speculative_metrics(stats: EngineStats) -> Iterable[Metric]:
    """Drafts verified and accepted, labelled by where they came from (``method``)."""
    drafted, accepted = stats.draft_tokens, stats.accepted_draft_tokens
    for family, value in (
        (CounterMetricFamily("switchboard_engine_draft_tokens",
                             "Speculative draft tokens the local engine verified.",
                             labels=["method"]), drafted),
        (CounterMetricFamily("switchboard_engine_accepted_draft_tokens",
                             "Speculative draft tokens the local engine accepted.",
                             labels=["method"]), accepted),
        (GaugeMetricFamily("switchboard_engine_draft_acceptance_ratio",
                           "Share of verified draft tokens accepted (0 before any).",
                           labels=["method"]), accepted / drafted if drafted else 0.0),
    ):  # fmt: skip
        family.add_metric([stats.speculative], value)
        yield family


class GatewayMetrics:
    def __init__(
        self,
        *,
        request_log: LogCounters | None = None,
        engine_stats: Callable[[], EngineStats] | None = None,
        max_label_values: int = 100,
    ) -> None:
        """``engine_stats``: e.g. ``lambda: engine.async_engine.stats``; both are read at
        scrape time. ``in_flight`` is a gauge: ``inc()``/``dec()`` or
        ``track_inprogress()``."""
        self.registry = CollectorRegistry(auto_describe=True)
        self._model = LabelBound(max_label_values)
        self._provider = LabelBound(max_label_values)
        self._children: dict[tuple[object, ...], Any] = {}
        r = self.registry
        by_route = ("model", "provider")
        self.ttft = Histogram(
            "switchboard_time_to_first_token_seconds",
            "Time from request to the first generated token.",
            by_route, buckets=TTFT_BUCKETS, registry=r,
        )  # fmt: skip
        self.itl = Histogram(
            "switchboard_inter_token_latency_seconds",
            "Time between two generated tokens of a stream.",
            by_route, buckets=ITL_BUCKETS, registry=r,
        )  # fmt: skip
        self.duration = Histogram(
            "switchboard_request_duration_seconds",
            "Time from request to its last byte.",
            by_route, buckets=E2E_BUCKETS, registry=r,
        )  # fmt: skip
        self.queue_wait = Histogram(
            "switchboard_queue_wait_seconds",
            "Time a request waited before generation began.",
            by_route, buckets=QUEUE_BUCKETS, registry=r,
        )  # fmt: skip
        self.requests = Counter(
            "switchboard_requests", "Requests finished.", (*by_route, "status"), registry=r
        )
        self.tokens = Counter(
            "switchboard_tokens", "Tokens processed.", ("model", "kind"), registry=r
        )
        self.cost = Counter("switchboard_cost_usd", "Spend in USD.", ("model",), registry=r)
        self.provider_failures = Counter(
            "switchboard_provider_failures",
            "Failed attempts at a provider.",
            ("provider", "reason"),
            registry=r,
        )
        self.fallbacks = Counter(
            "switchboard_fallbacks",
            "Moves from a failed route target to the next one.",
            ("model",),
            registry=r,
        )
        self.rate_limited_total = Counter(
            "switchboard_rate_limited", "Requests refused by a limit.", ("limit",), registry=r
        )
        self.guard_decisions = Counter(
            "switchboard_guard_decisions",
            "Guardrail findings, by what the policy did with them.",
            ("surface", "direction", "category", "action"),
            registry=r,
        )
        self.cache_lookups = Counter(
            "switchboard_cache_lookups",
            "Response-cache lookups: exact, semantic or fallback hits, and misses.",
            ("surface", "result"),
            registry=r,
        )
        self.answer_paths = Counter(
            "switchboard_assistant_answer_path",
            "Assistant turns by how the answer was made (generated, generated+repaired, "
            "quoted, or a path without the model).",
            ("path",),
            registry=r,
        )
        self.in_flight = Gauge(
            "switchboard_requests_in_flight", "Requests being served.", registry=r
        )
        r.register(_ScrapeTimeCollector(request_log, engine_stats))

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(self, record: RequestRecord, itl_samples: Sequence[float] = ()) -> None:
        """Count one finished request; ``itl_samples`` are its inter-token gaps in seconds.

        Failed attempts are counted by ``provider_failed``, where they happen; here each
        move to a next target counts as one fallback."""
        model = self._model(record.model)
        provider = self._provider(record.provider or "none")
        self._child(self.requests, model, provider, str(record.status)).inc()
        for histogram, ms in (
            (self.ttft, record.ttft_ms),
            (self.duration, record.total_ms),
            (self.queue_wait, record.queue_wait_ms),
        ):
            if ms is not None:
                self._child(histogram, model, provider).observe(ms / 1000)
        if itl_samples:
            itl = self._child(self.itl, model, provider)
            for sample in itl_samples:
                itl.observe(sample)
        if record.prompt_tokens:
            self._child(self.tokens, model, "prompt").inc(record.prompt_tokens)
        if record.completion_tokens:
            self._child(self.tokens, model, "completion").inc(record.completion_tokens)
        if record.cost_usd:
            self._child(self.cost, model).inc(record.cost_usd)
        if len(record.attempts) > 1:
            self._child(self.fallbacks, model).inc(len(record.attempts) - 1)

    def rate_limited(self, limit: str) -> None:
        """``limit``: ``requests``, ``tokens`` or ``budget`` (anything else counts as other)."""
        self._child(self.rate_limited_total, limit if limit in LIMIT_KINDS else OTHER).inc()

    def provider_failed(self, provider: str, reason: str) -> None:
        """``reason``: a short fixed word (``timeout``, ``connect``, ``status_5xx``...)."""
        self._child(self.provider_failures, self._provider(provider), reason).inc()

    def guarded(self, surface: str, events: Iterable[str]) -> None:
        """Count guardrail events (``direction:category:type:action``) of one request or
        turn; ``surface`` is ``chat`` (the gateway) or ``assistant``."""
        for event in events:
            direction, category, _, action = event.split(":", 3)
            self._child(self.guard_decisions, surface, direction, category, action).inc()

    def cache_lookup(self, surface: str, result: str) -> None:
        """``result``: ``exact``, ``semantic``, ``fallback`` or ``miss``."""
        self._child(self.cache_lookups, surface, result).inc()

    def answer_path(self, path: str) -> None:
        """One assistant turn's path (the ``done`` event's ``answer_path``)."""
        self._child(self.answer_paths, path).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type, for ``GET /metrics``."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
