"""What the fault-injection suite (``test_faults_*.py``) shares: waiting on a condition
with a deadline, reading ``/health`` and OpenAI-shaped errors, and the log records a fault
left behind.

Each fault is asserted three ways: what the user sees (status, error JSON, ``/health``),
what is logged (one clear line naming the dependency, not a traceback per request), and
that nothing already committed is lost once the fault ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from switchboard.config import (
    CacheSettings,
    GatewaySettings,
    GuardSettings,
    RequestLogSettings,
    Settings,
)
from tests.unit.test_api_routes import MODEL

T = TypeVar("T")


def until(probe: Callable[[], T], done: Callable[[T], bool], timeout_s: float) -> T:
    """Call ``probe`` until ``done`` accepts what it returns, or ``timeout_s`` has passed;
    the last value either way (the test's assertion on it then says what was seen)."""
    deadline = time.monotonic() + timeout_s
    value = probe()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.02)
        value = probe()
    return value


def health(base_url: str) -> tuple[int, dict[str, Any]]:
    """``/health``'s status code and body."""
    response = httpx.get(f"{base_url}/health", timeout=10)
    return response.status_code, response.json()


def error_of(response: httpx.Response) -> tuple[int, str, str | None]:
    """The status, OpenAI error type and code of an error response (its JSON must have
    OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``)."""
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str)
    assert error["message"]
    return response.status_code, error["type"], error["code"]


def logged(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[str]:
    """The messages of Switchboard's records at ``level`` or above, in order (for INFO,
    ``caplog.set_level(logging.INFO)`` first)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= level and r.name.startswith("switchboard")
    ]


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The messages of records that carry a traceback."""
    return [r.getMessage() for r in caplog.records if r.exc_info]


def gateway_settings(
    data: Path, db_path: Path | None = None, cache: CacheSettings | None = None, **gateway: Any
) -> Settings:
    """The gateway over the fake engine (``FakeServedEngine``: generation does not matter
    to these faults), its request log flushed every 50 ms, no guardrails, the cache off
    unless given."""
    return Settings(
        model=MODEL,
        data_dir=data,
        gateway=GatewaySettings(
            db_path=db_path or data / "gateway.sqlite3",
            log=RequestLogSettings(flush_interval_s=0.05),
            **gateway,
        ),
        guard=GuardSettings(enabled=False),
        cache=cache or CacheSettings(enabled=False),
    )


def fake_chat(base_url: str, token: str | None = None, timeout_s: float = 30) -> httpx.Response:
    """A greedy (cacheable) chat completion of the fake engine: 3 prompt tokens, 4 out."""
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "abc"}],
        "max_tokens": 4,
        "temperature": 0,
    }
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(
        f"{base_url}/v1/chat/completions", json=body, headers=headers, timeout=timeout_s
    )
