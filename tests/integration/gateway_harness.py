"""Serving a gateway app (``create_app(None, settings)``) with uvicorn on a free loopback
port from a thread, and reading its SSE streams, for the gateway's integration tests."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from switchboard.config import (
    GatewaySettings,
    ProviderSettings,
    RouteSettings,
    RouteTarget,
    Settings,
)


def gateway_settings(
    data_dir: Path,
    providers: Mapping[str, str],
    *,
    route: str = "chat",
    ttft_deadline_s: float | None = 2.0,
    **gateway: Any,
) -> Settings:
    """Settings routing ``route`` to each named upstream URL in order (model = provider name,
    one try each: no retries, so a test sees exactly one request per provider)."""
    specs = [
        ProviderSettings(name=name, kind="openai", base_url=url, max_retries=0, read_timeout_s=2.0)
        for name, url in providers.items()
    ]
    targets = [RouteTarget(provider=name, model=f"m-{name}") for name in providers]
    routes = {route: RouteSettings(targets=targets, ttft_deadline_s=ttft_deadline_s)}
    settings = GatewaySettings(providers=specs, routes=routes, **gateway)
    return Settings(data_dir=data_dir, gateway=settings)


def chat_body(route: str = "chat", *, stream: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "model": route,
        "messages": [{"role": "user", "content": "Where is my parcel?"}],
        "stream": stream,
        "max_tokens": 4,
        **extra,
    }


def sse_events(response: httpx.Response) -> list[Any]:
    """The JSON of each ``data:`` event of a streamed response, ``"[DONE]"`` as a string."""
    events: list[Any] = []
    for line in response.iter_lines():
        if not line.startswith("data: "):
            continue
        data = line.removeprefix("data: ")
        events.append(data if data == "[DONE]" else json.loads(data))
    return events


def content_of(events: list[Any]) -> str:
    return "".join(
        (choice.get("delta") or {}).get("content") or ""
        for event in events
        if isinstance(event, dict)
        for choice in event.get("choices") or ()
    )


def logged(app: FastAPI, count: int, timeout_s: float = 10.0) -> list[Any]:
    """The request log's rows once ``count`` are written (the gateway records a request
    after its last byte, so a client can be done before its record is submitted)."""
    deadline = time.monotonic() + timeout_s
    while True:
        app.state.request_log.flush()
        rows = app.state.log_store.query()
        if len(rows) >= count or time.monotonic() > deadline:
            return list(rows)
        time.sleep(0.01)
