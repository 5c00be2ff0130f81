"""GenAI tracing: span names, kinds, attributes and statuses, through an in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from switchboard.config import TracingSettings
from switchboard.observability.record import Attempt, RequestRecord
from switchboard.observability.tracing import Tracing

pytestmark = pytest.mark.unit

SECRET_PROMPT = "my card is 4111 1111 1111 1111"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(exporter: InMemorySpanExporter) -> Iterator[Tracing]:
    tracing = Tracing(TracingSettings(service_name="sb-test"), exporter=exporter)
    try:
        yield tracing
    finally:
        tracing.shutdown()


def new_record() -> RequestRecord:
    return RequestRecord(
        request_id="req-1",
        started_at=1_790_000_000.0,
        key_id="k1",
        tenant="acme",
        endpoint="chat",
        model="fast",
        stream=True,
        input_text=SECRET_PROMPT,
    )


BODY = {
    "model": "fast",
    "messages": [{"role": "user", "content": SECRET_PROMPT}],
    "max_tokens": 64,
    "temperature": 0.2,
    "top_p": 0.9,
}


def test_a_served_request_has_genai_attributes(
    tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    record = new_record()
    with tracing.request_span(record, BODY) as span:
        assert span is not None
        tracing.attempt_spans(span, [Attempt("remote", "big", None, 40.0, record.started_at)])
        record.status = 200
        record.provider, record.served_model = "remote", "big"
        record.prompt_tokens, record.completion_tokens = 11, 42
        record.ttft_ms = 85.0
        record.attempts = [Attempt("local", "qwen", "timeout"), Attempt("remote", "big")]
    attempt, request = exporter.get_finished_spans()
    assert request.name == "chat fast"
    assert request.kind == SpanKind.SERVER
    assert request.status.status_code == StatusCode.UNSET
    assert request.resource.attributes["service.name"] == "sb-test"
    attrs = dict(request.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "fast"
    assert attrs["gen_ai.request.max_tokens"] == 64
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.request.top_p"] == 0.9
    assert attrs["gen_ai.provider.name"] == "remote"
    assert attrs["gen_ai.response.model"] == "big"
    assert attrs["gen_ai.usage.input_tokens"] == 11
    assert attrs["gen_ai.usage.output_tokens"] == 42
    assert attrs["switchboard.tenant"] == "acme"
    assert attrs["switchboard.key_id"] == "k1"
    assert attrs["switchboard.ttft_ms"] == 85.0
    assert attrs["switchboard.fallback_path"] == ("local/qwen", "remote/big")
    assert attrs["http.response.status_code"] == 200
    assert request.start_time == int(record.started_at * 1e9)
    assert not any(SECRET_PROMPT in str(v) for v in attrs.values())

    assert attempt.name == "chat big"
    assert attempt.kind == SpanKind.CLIENT
    assert attempt.parent is not None
    assert attempt.parent.span_id == request.context.span_id
    assert attempt.context.trace_id == request.context.trace_id
    assert dict(attempt.attributes or {})["gen_ai.provider.name"] == "remote"


def test_a_failed_request_has_error_status(
    tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    record = new_record()
    with tracing.request_span(record, {"model": "fast"}):
        record.status = 502
        record.error_code = "upstream_error"
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == "upstream_error"
    attrs = dict(span.attributes or {})
    assert attrs["error.type"] == "upstream_error"
    assert "gen_ai.request.max_tokens" not in attrs
    assert "gen_ai.provider.name" not in attrs


def test_a_failed_attempt_is_marked_without_its_message(
    tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    record = new_record()
    with tracing.request_span(record, BODY) as span:
        failed = Attempt("remote", "big", f"server echoed {SECRET_PROMPT}", 12.0, 1.0)
        skipped = Attempt("other", "big", "circuit open")  # never started: no span
        tracing.attempt_spans(span, [Attempt("local", "q", "HTTP 503", 5.0, 0.5), failed, skipped])
    slow, echoed, _ = exporter.get_finished_spans()
    assert dict(slow.attributes or {})["error.type"] == "http_503"
    assert slow.end_time is not None
    assert slow.end_time - (slow.start_time or 0) == 5_000_000
    assert echoed.status.status_code == StatusCode.ERROR
    assert dict(echoed.attributes or {})["error.type"] == "error"
    assert SECRET_PROMPT not in str(echoed.status.description)
    assert not echoed.events  # no exception event with the message


def test_an_exception_through_the_request_span_marks_it(
    tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    with pytest.raises(RuntimeError), tracing.request_span(new_record(), BODY):
        raise RuntimeError("boom")
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "RuntimeError"


def test_disabled_tracing_creates_nothing() -> None:
    tracing = Tracing(TracingSettings())
    assert not tracing.enabled
    with tracing.request_span(new_record(), BODY) as span:
        assert span is None
        tracing.attempt_spans(span, [Attempt("local", "qwen", None, 3.0, 1.0)])
    tracing.shutdown()


def test_otlp_endpoint_enables_tracing() -> None:
    tracing = Tracing(TracingSettings(otlp_endpoint="http://127.0.0.1:9/v1/traces"))
    try:
        assert tracing.enabled
    finally:
        tracing.shutdown()  # nothing was recorded, so nothing is sent
