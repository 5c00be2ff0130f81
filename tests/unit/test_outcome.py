"""How a request ended, one mapping for its record and one payload for a failed stream."""

from __future__ import annotations

import asyncio
import json

import pytest

from switchboard.api.errors import stream_error_payload
from switchboard.api.sse import data_event, named_event
from switchboard.errors import (
    CLIENT_CLOSED_REQUEST,
    EngineDeadError,
    RateLimitError,
    outcome,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (None, (200, None)),
        (
            RateLimitError("slow down", limit_type="tokens", retry_after_s=1.0),
            (429, "rate_limit_exceeded"),
        ),
        (EngineDeadError("loop died"), (503, "engine_dead")),
        (asyncio.CancelledError(), (CLIENT_CLOSED_REQUEST, "client_closed_request")),
        (GeneratorExit(), (CLIENT_CLOSED_REQUEST, "client_closed_request")),
        (KeyError("bug"), (500, "internal_error")),
    ],
)
def test_outcome(error: BaseException | None, expected: tuple[int, str | None]) -> None:
    assert outcome(error) == expected


def test_a_stream_reports_its_failure_as_openai_error_json() -> None:
    limited = stream_error_payload(
        RateLimitError("slow down", limit_type="tokens", retry_after_s=1.0)
    ).error
    assert (limited.type, limited.code, limited.message) == (
        "tokens",
        "rate_limit_exceeded",
        "slow down",
    )
    assert stream_error_payload(EngineDeadError("loop died")).error.code == "engine_dead"
    bug = stream_error_payload(KeyError("secret detail")).error
    assert (bug.message, bug.code) == ("internal server error", "internal_error")


def test_events() -> None:
    assert data_event(b'{"a":1}') == b'data: {"a":1}\n\n'
    event = named_event("token", {"text": "Grüße"})
    assert event == 'event: token\ndata: {"text": "Grüße"}\n\n'.encode()
    assert json.loads(event.split(b"data: ")[1]) == {"text": "Grüße"}
