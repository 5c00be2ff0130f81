"""Pytest fixtures serving the real fake upstream (``switchboard_bench.fake_upstream``) on
loopback from a thread, with a handle to script it (``/_control``) and read its counters."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from switchboard_bench.fake_upstream import Behaviour, run_in_thread


@dataclass(frozen=True)
class UpstreamHandle:
    url: str  # ".../v1"

    @property
    def root(self) -> str:
        return self.url.removesuffix("/v1")

    def control(self, **fields: Any) -> dict[str, Any]:
        """Change the running server's behaviour; returns the whole new behaviour."""
        response = httpx.post(f"{self.root}/_control", json=fields, timeout=10)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def stats(self) -> dict[str, int]:
        stats: dict[str, int] = httpx.get(f"{self.root}/_stats", timeout=10).json()
        return stats

    def wait_for(self, check: Callable[[dict[str, int]], bool], timeout_s: float = 10.0) -> bool:
        """Poll the counters until ``check`` holds (generous bound, no timing asserted)."""
        deadline = time.monotonic() + timeout_s
        while not check(self.stats()):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture
def upstream() -> Iterator[UpstreamHandle]:
    with run_in_thread(Behaviour(chunks=4)) as url:
        yield UpstreamHandle(url)


@pytest.fixture
def secondary() -> Iterator[UpstreamHandle]:
    with run_in_thread(Behaviour(chunks=4)) as url:
        yield UpstreamHandle(url)
