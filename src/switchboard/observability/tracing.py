"""OpenTelemetry traces of gateway requests, after the GenAI semantic conventions.

One ``chat {model}`` span per request (kind SERVER: the gateway serves the operation) and
one CLIENT child per provider attempt (written when the request ends); one
``assistant {model}`` span per assistant turn with a child per stage of the turn. The
tracer provider is this object's own, never the global one. Spans carry models, token
counts, timings and the fallback path, never prompt or output text nor keys. With no
exporter and no OTLP endpoint it is disabled: the context manager yields ``None`` and
nothing is created.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanProcessor,
)
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from switchboard.config import TracingSettings
from switchboard.observability.record import Attempt, RequestRecord, failure_kind

OPERATION = "chat"
TURN_OPERATION = "assistant"
#: A turn's stage timings by the names its spans take.
STAGE_NAMES = {"model": "generate"}


class Stage(Protocol):
    """A stage of an assistant turn, as its span needs it."""

    @property
    def name(self) -> str: ...
    @property
    def started_at(self) -> float: ...
    @property
    def duration_ms(self) -> float: ...


# request body field -> span attribute, set when the body has it
REQUEST_ATTRIBUTES: dict[str, str] = {
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "seed": "gen_ai.request.seed",
}


def request_attributes(record: RequestRecord, body: Mapping[str, Any]) -> dict[str, Any]:
    """What is known when the request arrives."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": OPERATION,
        "gen_ai.request.model": record.model,
        "switchboard.request_id": record.request_id,
        "switchboard.tenant": record.tenant,
        "switchboard.key_id": record.key_id,
        "switchboard.stream": record.stream,
    }
    for field, attribute in REQUEST_ATTRIBUTES.items():
        value = body.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attributes[attribute] = value
    return attributes


def outcome_attributes(record: RequestRecord) -> dict[str, Any]:
    """What the filled record says when the request ends."""
    attributes: dict[str, Any] = {
        "gen_ai.usage.input_tokens": record.prompt_tokens,
        "gen_ai.usage.output_tokens": record.completion_tokens,
        "http.response.status_code": record.status,
        "switchboard.cost_usd": record.cost_usd,
        "switchboard.cache_hit": record.cache_hit,
        "switchboard.fallback_path": [f"{a.provider}/{a.model}" for a in record.attempts],
    }
    optional = {
        "gen_ai.provider.name": record.provider,
        "gen_ai.response.model": record.served_model,
        "error.type": record.error_code,
        "switchboard.ttft_ms": record.ttft_ms,
        "switchboard.queue_wait_ms": record.queue_wait_ms,
        "switchboard.total_ms": record.total_ms,
    }
    attributes.update({k: v for k, v in optional.items() if v is not None})
    return attributes


def _processor(settings: TracingSettings, exporter: SpanExporter | None) -> SpanProcessor | None:
    if exporter is not None:  # tests and callers that bring their own: export at once
        return SimpleSpanProcessor(exporter)
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint))
    return None


class Tracing:
    def __init__(self, settings: TracingSettings, exporter: SpanExporter | None = None) -> None:
        """``exporter`` (e.g. ``InMemorySpanExporter``) wins over ``settings.otlp_endpoint``."""
        processor = _processor(settings, exporter)
        self._provider: TracerProvider | None = None
        self._tracer: trace.Tracer | None = None
        if processor is not None:
            resource = Resource.create({"service.name": settings.service_name})
            self._provider = TracerProvider(resource=resource)
            self._provider.add_span_processor(processor)
            self._tracer = self._provider.get_tracer("switchboard.gateway")

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    @contextmanager
    def request_span(self, record: RequestRecord, body: Mapping[str, Any]) -> Iterator[Span | None]:
        """The request's span, ended with the record's outcome when the block exits.

        Not made the current span (the block may end in another task); pass the yielded
        span to ``attempt_spans`` as ``parent``."""
        if self._tracer is None:
            yield None
            return
        span = self._tracer.start_span(
            f"{OPERATION} {record.model}",
            kind=SpanKind.SERVER,
            attributes=request_attributes(record, body),
            start_time=int(record.started_at * 1e9),
        )
        try:
            yield span
        except BaseException as exc:
            span.set_attribute("error.type", record.error_code or type(exc).__name__)
            span.set_status(Status(StatusCode.ERROR, record.error_code or type(exc).__name__))
            raise
        finally:
            span.set_attributes(outcome_attributes(record))
            if record.failed:
                span.set_status(Status(StatusCode.ERROR, record.error_code or str(record.status)))
            span.end()

    def attempt_spans(self, parent: Span | None, attempts: Sequence[Attempt]) -> None:
        """One CLIENT child of the request span per provider attempt, after the fact (from
        the attempts' recorded start and latency); a failed one carries only the kind of
        failure, never an upstream message. Skipped attempts (breaker open) have none."""
        if self._tracer is None or parent is None:
            return
        context = trace.set_span_in_context(parent)
        for attempt in attempts:
            if attempt.started_at is None or attempt.latency_ms is None:
                continue
            start = int(attempt.started_at * 1e9)
            span = self._tracer.start_span(
                f"{OPERATION} {attempt.model}",
                context=context,
                kind=SpanKind.CLIENT,
                attributes={
                    "gen_ai.operation.name": OPERATION,
                    "gen_ai.provider.name": attempt.provider,
                    "gen_ai.request.model": attempt.model,
                },
                start_time=start,
            )
            if attempt.error is not None:
                reason = failure_kind(attempt.error)
                span.set_attribute("error.type", reason)
                span.set_status(Status(StatusCode.ERROR, reason))
            span.end(end_time=start + int(attempt.latency_ms * 1e6))

    def turn_spans(self, record: RequestRecord, stages: Sequence[Stage]) -> None:
        """An assistant turn, after the fact: one SERVER span over the whole turn with the
        record's outcome, and one child per stage (guard_input, route, tools, retrieve,
        evidence, prompt, generate...), so a slow turn shows where its time went."""
        if self._tracer is None:
            return
        start = int(record.started_at * 1e9)
        turn = self._tracer.start_span(
            f"{TURN_OPERATION} {record.served_model or record.model}",
            kind=SpanKind.SERVER,
            attributes={
                "gen_ai.operation.name": TURN_OPERATION,
                "switchboard.request_id": record.request_id,
                "switchboard.tenant": record.tenant,
                "switchboard.key_id": record.key_id,
                **outcome_attributes(record),
            },
            start_time=start,
        )
        context = trace.set_span_in_context(turn)
        for stage in stages:
            begin = int(stage.started_at * 1e9)
            name = STAGE_NAMES.get(stage.name, stage.name)
            span = self._tracer.start_span(name, context=context, start_time=begin)
            span.end(end_time=begin + int(stage.duration_ms * 1e6))
        self.attempt_spans(turn, record.attempts)  # the providers its model calls tried
        if record.failed:
            turn.set_status(Status(StatusCode.ERROR, record.error_code or str(record.status)))
        turn.end(end_time=start + int((record.total_ms or 0.0) * 1e6))

    def shutdown(self) -> None:
        """Export what is buffered and stop."""
        if self._provider is not None:
            self._provider.shutdown()
