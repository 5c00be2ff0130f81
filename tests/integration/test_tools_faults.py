"""An HTTP tool against a small aiohttp server on loopback that misbehaves on purpose:
slow, flaky, down, too large, not JSON, redirecting; and a host outside the allow-list.
Every failure comes back as a ``ToolOutcome``, never as an exception."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from switchboard.circuit_breaker import BreakerState
from switchboard.tools import (
    HttpToolSpec,
    RetryTiming,
    ToolFailure,
    ToolOutcome,
    ToolRegistry,
)

pytestmark = pytest.mark.integration

FAST = RetryTiming(base_s=0.01, cap_s=0.02)
BIG = 10 * 1024


class Misbehaving:
    """The server's routes; ``hits`` counts the requests each path got."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.flaky_failures = 2

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._count])
        app.router.add_get("/ok/{item}", self.ok)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/flaky", self.flaky)
        app.router.add_get("/down", self.down)
        app.router.add_post("/down", self.down)
        app.router.add_get("/big", self.big)
        app.router.add_get("/big-declared", self.big_declared)
        app.router.add_get("/text", self.text)
        app.router.add_get("/broken-json", self.broken_json)
        app.router.add_get("/redirect", self.redirect)
        return app

    @web.middleware
    async def _count(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.hits[request.path] += 1
        return await handler(request)

    async def ok(self, request: web.Request) -> web.Response:
        return web.json_response({"item": request.match_info["item"], **request.query})

    async def slow(self, _: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.json_response({"late": True})

    async def flaky(self, _: web.Request) -> web.Response:
        if self.hits["/flaky"] <= self.flaky_failures:
            return web.json_response({"error": {"message": "busy"}}, status=503)
        return web.json_response({"fine": True})

    async def down(self, _: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "down"}}, status=503)

    async def big(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)  # chunked: no Content-Length to refuse it early
        await response.write(b'{"padding": "')
        for _ in range(BIG // 512):
            await response.write(b"x" * 512)
        await response.write(b'"}')
        return response

    async def big_declared(self, _: web.Request) -> web.Response:
        return web.json_response({"padding": "x" * BIG})

    async def text(self, _: web.Request) -> web.Response:
        return web.Response(text="plain words, not JSON")

    async def broken_json(self, _: web.Request) -> web.Response:
        return web.Response(text='{"cut": "sho', content_type="application/json")

    async def redirect(self, _: web.Request) -> web.Response:
        raise web.HTTPFound("http://example.com/elsewhere")


@asynccontextmanager
async def serving() -> AsyncIterator[tuple[Misbehaving, str]]:
    server = Misbehaving()
    runner = web.AppRunner(server.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def tool(base: str, path: str, **fields: Any) -> HttpToolSpec:
    return HttpToolSpec.model_validate(
        {"name": "probe", "description": "A probe.", "url": base + path, "timeout_s": 2.0} | fields
    )


async def call_once(
    spec: HttpToolSpec, arguments: dict[str, Any] | None = None, **registry: Any
) -> ToolOutcome:
    async with ToolRegistry([spec], allowed_hosts={"127.0.0.1"}, timing=FAST, **registry) as tools:
        return await tools["probe"].call(arguments or {}, end_user=None)


def run(scenario: Callable[[Misbehaving, str], Awaitable[None]]) -> None:
    async def main() -> None:
        async with serving() as (server, base):
            await scenario(server, base)

    asyncio.run(main())


def test_a_read_quotes_path_segments_and_sends_the_query() -> None:
    async def scenario(server: Misbehaving, base: str) -> None:
        schema = {
            "type": "object",
            "properties": {"item": {"type": "string"}, "q": {"type": "string"}},
        }
        spec = tool(base, "/ok/{item}", parameters=schema)
        outcome = await call_once(spec, {"item": "a b?c", "q": "x&y"})
        assert outcome.ok
        assert outcome.data == {"item": "a b?c", "q": "x&y"}
        escape = await call_once(spec, {"item": ".."})
        assert escape.failure is ToolFailure.INVALID_ARGUMENTS
        assert server.hits["/ok/a b?c"] == 1
        assert sum(server.hits.values()) == 1

    run(scenario)


def test_a_slow_answer_times_out_as_unavailable() -> None:
    async def scenario(server: Misbehaving, base: str) -> None:
        outcome = await call_once(tool(base, "/slow", timeout_s=0.2, retries=1))
        assert not outcome.ok
        assert outcome.failure is ToolFailure.UNAVAILABLE
        assert outcome.error == "probe: unavailable (timed out after 2 attempts)"
        assert server.hits["/slow"] == 2

    run(scenario)


def test_a_read_is_retried_past_503s_and_a_write_never() -> None:
    async def scenario(server: Misbehaving, base: str) -> None:
        outcome = await call_once(tool(base, "/flaky", retries=2))
        assert outcome.ok
        assert outcome.data == {"fine": True}
        assert server.hits["/flaky"] == 3

        write = tool(base, "/down", method="POST")
        asked = await call_once(write)
        assert asked.failure is ToolFailure.NEEDS_CONFIRMATION
        assert server.hits["/down"] == 0  # not confirmed: nothing was sent
        async with ToolRegistry([write], allowed_hosts={"127.0.0.1"}, timing=FAST) as tools:
            sent = await tools["probe"].call({}, end_user=None, confirmed=True)
        assert sent.failure is ToolFailure.UNAVAILABLE
        assert sent.error == (
            "probe: unavailable (HTTP 503); the change may or may not have been made"
        )
        assert server.hits["/down"] == 1  # one attempt only

    run(scenario)


def test_the_breaker_opens_after_repeated_failures() -> None:
    async def scenario(server: Misbehaving, base: str) -> None:
        spec = tool(base, "/down", retries=0)
        async with ToolRegistry(
            [spec], allowed_hosts={"127.0.0.1"}, failure_threshold=2, timing=FAST
        ) as tools:
            first = await tools["probe"].call({}, end_user=None)
            second = await tools["probe"].call({}, end_user=None)
            refused = await tools["probe"].call({}, end_user=None)
            breaker = tools.breaker(spec.url)
        assert first.failure is second.failure is refused.failure is ToolFailure.UNAVAILABLE
        assert "circuit open" in (refused.error or "")
        assert breaker.state is BreakerState.OPEN
        assert server.hits["/down"] == 2

    run(scenario)


@pytest.mark.parametrize("path", ["/big", "/big-declared"])
def test_an_answer_over_the_cap_is_an_error_never_data(path: str) -> None:
    async def scenario(server: Misbehaving, base: str) -> None:
        outcome = await call_once(tool(base, path, max_response_bytes=BIG // 2))
        assert not outcome.ok
        assert outcome.failure is ToolFailure.BAD_RESPONSE
        assert outcome.data is None
        assert outcome.error == f"probe: the answer is over {BIG // 2} bytes"
        whole = await call_once(tool(base, path, max_response_bytes=2 * BIG))
        assert whole.ok
        assert len(whole.data["padding"]) == BIG

    run(scenario)


def test_text_is_data_and_broken_json_an_error() -> None:
    async def scenario(server: Misbehaving, base: str) -> None:
        text = await call_once(tool(base, "/text"))
        assert text.ok
        assert text.data == "plain words, not JSON"
        broken = await call_once(tool(base, "/broken-json"))
        assert not broken.ok
        assert broken.failure is ToolFailure.BAD_RESPONSE
        assert broken.data is None
        assert broken.status == 200

    run(scenario)


def test_redirects_are_not_followed() -> None:
    async def scenario(server: Misbehaving, base: str) -> None:
        outcome = await call_once(tool(base, "/redirect"))
        assert outcome.failure is ToolFailure.REFUSED
        assert outcome.status == 302
        assert outcome.error == "probe: HTTP 302 redirect not followed"

    run(scenario)


def test_a_host_outside_the_allow_list_is_refused_when_built_and_when_called() -> None:
    async def scenario(server: Misbehaving, base: str) -> None:
        spec = tool(base.replace("127.0.0.1", "localhost"), "/text")
        with pytest.raises(ValueError, match=r"tool probe: host 'localhost:\d+' is not in"):
            ToolRegistry([spec], allowed_hosts={"127.0.0.1"})
        async with ToolRegistry([spec], allowed_hosts={"localhost"}) as tools:
            outcome = await tools["probe"].call({}, end_user=None)
            assert outcome.ok  # allowed here; the same tool with a narrower list:
            narrowed = tools["probe"]
            narrowed.allowed_hosts = frozenset({"127.0.0.1"})
            refused = await narrowed.call({}, end_user=None)
        assert refused.failure is ToolFailure.HOST_NOT_ALLOWED
        assert server.hits["/text"] == 1

    run(scenario)


def test_the_secret_header_is_sent_and_a_missing_secret_refused() -> None:
    async def scenario(server: Misbehaving, base: str) -> None:
        spec = tool(
            base,
            "/text",
            secret_header="Authorization",
            secret_env="PROBE_TOKEN",
            secret_prefix="Bearer ",
        )
        with pytest.raises(ValueError, match="the secret PROBE_TOKEN is not set"):
            ToolRegistry([spec], allowed_hosts={"127.0.0.1"}, secrets={})
        async with ToolRegistry(
            [spec], allowed_hosts={"127.0.0.1"}, secrets={"PROBE_TOKEN": "s3cret"}
        ) as tools:
            assert "s3cret" not in repr(tools["probe"])
            assert (await tools["probe"].call({}, end_user=None)).ok

    run(scenario)
