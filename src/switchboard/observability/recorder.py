"""Where every finished request goes, whichever endpoint served it: its metrics (latency,
tokens, guardrail decisions, the cache's answer) and its record in the request log.

``/v1/chat/completions`` closes its record in the gateway, an assistant turn in its route,
both here, with the same fields: a turn is a request like any other, plus its summary.
"""

from __future__ import annotations

from collections.abc import Sequence

from switchboard.observability.metrics import GatewayMetrics
from switchboard.observability.record import RequestRecord
from switchboard.observability.request_log import RequestLog


class Recorder:
    def __init__(self, metrics: GatewayMetrics, request_log: RequestLog | None) -> None:
        self.metrics = metrics
        self.request_log = request_log

    def close(
        self,
        record: RequestRecord,
        *,
        surface: str,
        cache: str | None = None,
        gaps: Sequence[float] = (),
    ) -> None:
        """Count the finished request and log it (the log writes in its own thread).
        ``surface``: ``chat`` or ``assistant``; ``cache``: the lookup's result, None if
        there was none; ``gaps``: the inter-token gaps in seconds."""
        self.metrics.observe(record, gaps)
        if record.guard_events:
            self.metrics.guarded(surface, record.guard_events)
        if cache is not None:
            self.metrics.cache_lookup(surface, cache)
        if record.turn is not None:
            self.metrics.answer_path(record.turn.answer_path)
        if self.request_log is not None:
            self.request_log.submit(record)
