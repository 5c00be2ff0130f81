"""Observability of the gateway: the batched request log and its spend totals
(``request_log``, ``log_store``), text redaction (``redact``), Prometheus metrics
(``metrics``) and OpenTelemetry GenAI traces (``tracing``)."""
