"""An assistant's HTTP tools, built once: hosts checked, secrets read, one breaker per host.

    async with ToolRegistry(specs, allowed_hosts={"127.0.0.1"}, secrets=os.environ) as tools:
        tools.openai_tools()          # what the model is offered
        await tools["get_order"].call({"order_id": "LK-123456"}, end_user="C1001")

The caller reads the environment (or any mapping of secrets) at its edge and hands it in;
each secret is read when the registry is built and kept only in the tool's headers. One
``httpx.AsyncClient`` (redirects not followed) serves every tool.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from switchboard.circuit_breaker import CircuitBreaker
from switchboard.tools.http import HttpTool, RetryTiming, host_allowed
from switchboard.tools.spec import HttpToolSpec


class ToolRegistry:
    def __init__(
        self,
        specs: Iterable[HttpToolSpec],
        *,
        allowed_hosts: Iterable[str],
        secrets: Mapping[str, str] | None = None,
        failure_threshold: int = 5,
        reset_timeout_s: float = 30.0,
        timing: RetryTiming | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``ValueError`` for a duplicate name, a host outside ``allowed_hosts`` (names or
        ``host:port``, any case) or a secret missing from ``secrets``."""
        allowed = frozenset(host.lower() for host in allowed_hosts)
        specs = list(specs)
        self._check(specs, allowed, secrets or {})
        self._client = httpx.AsyncClient(follow_redirects=False, transport=transport)
        self._breakers: dict[str, CircuitBreaker] = {}
        self._tools: dict[str, HttpTool] = {}
        for spec in specs:
            netloc = urlsplit(spec.url).netloc.lower()
            breaker = self._breakers.setdefault(
                netloc, CircuitBreaker(failure_threshold, reset_timeout_s, clock)
            )
            self._tools[spec.name] = HttpTool(
                spec,
                self._client,
                breaker,
                allowed,
                headers=_headers(spec, secrets or {}),
                timing=timing or RetryTiming(),
                sleep=sleep,
                rand=rand,
                clock=clock,
            )

    @staticmethod
    def _check(
        specs: list[HttpToolSpec], allowed: frozenset[str], secrets: Mapping[str, str]
    ) -> None:
        seen: set[str] = set()
        for spec in specs:
            if spec.name in seen:
                raise ValueError(f"two tools are named {spec.name!r}")
            seen.add(spec.name)
            if not host_allowed(spec.url, allowed):
                raise ValueError(
                    f"tool {spec.name}: host {urlsplit(spec.url).netloc!r} is not in the "
                    f"allowed hosts {sorted(allowed)}"
                )
            problem = secret_problem(spec, secrets)
            if problem is not None:
                raise ValueError(problem)

    def __getitem__(self, name: str) -> HttpTool:
        return self._tools[name]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[HttpTool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def breaker(self, url: str) -> CircuitBreaker:
        """The circuit breaker of the host of ``url``."""
        return self._breakers[urlsplit(url).netloc.lower()]

    def openai_tools(self, *, writes: bool = True) -> list[dict[str, Any]]:
        """Every tool's OpenAI function declaration (``writes`` false: only the read
        tools'), without its end-user argument."""
        return [t.spec.openai_tool() for t in self._tools.values() if writes or not t.spec.write]

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> ToolRegistry:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def secret_problem(spec: HttpToolSpec, secrets: Mapping[str, str]) -> str | None:
    """Why ``spec``'s secret cannot be sent from ``secrets`` (one line), or None."""
    if spec.secret_env is None:
        return None
    secret = secrets.get(spec.secret_env, "")
    if not secret:
        return f"tool {spec.name}: the secret {spec.secret_env} is not set"
    if not secret.isprintable():
        return f"tool {spec.name}: the secret {spec.secret_env} cannot be a header value"
    return None


def _headers(spec: HttpToolSpec, secrets: Mapping[str, str]) -> dict[str, str]:
    headers = dict(spec.headers)
    if spec.secret_header is not None and spec.secret_env is not None:
        headers[spec.secret_header] = spec.secret_prefix + secrets[spec.secret_env]
    return headers
