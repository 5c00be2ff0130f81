"""OpenAIProvider and ModelRouter against the real fake upstream on loopback: streaming as
chunks arrive, status mapping, stalls, cut and hung streams, fallback between two servers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from switchboard.config import ProviderSettings, RouteSettings, RouteTarget
from switchboard.errors import InvalidRequestError, UpstreamError
from switchboard.gateway.openai_provider import OpenAIProvider, retryable
from switchboard.gateway.routing import ModelRouter
from switchboard.gateway.types import ProviderCall, StreamChunk
from switchboard_bench.fake_upstream import FakeUpstream
from tests.integration.fake_upstream_fixture import (
    UpstreamHandle,
    closed_port_url,
    secondary,
    upstream,
)

pytestmark = pytest.mark.integration

__all__ = ["secondary", "upstream"]  # fixtures, used by name

GUARD_S = 20  # no test may hang: every scenario runs under this bound
BODY: dict[str, Any] = {
    "model": "alias",
    "messages": [{"role": "user", "content": "Where is my order A1001?"}],  # 24 chars
    "stream": True,
    "stream_options": {"include_usage": True},
}


def provider(url: str, name: str = "up", **settings: Any) -> OpenAIProvider:
    return OpenAIProvider(ProviderSettings(name=name, base_url=url, **settings))


def call(model: str = "served") -> ProviderCall:
    return ProviderCall("req-1", model, {**BODY, "model": model}, prompt_tokens=7)


async def collect(chunks: AsyncIterator[StreamChunk]) -> list[StreamChunk]:
    async with asyncio.timeout(GUARD_S):
        return [chunk async for chunk in chunks]


async def pull_into(chunks: AsyncIterator[StreamChunk], got: list[StreamChunk]) -> None:
    async for chunk in chunks:
        got.append(chunk)


def run(scenario: Any) -> Any:
    return asyncio.run(scenario)


# -- the provider --------------------------------------------------------------------------------


def test_streams_the_whole_completion_with_usage(upstream: UpstreamHandle) -> None:
    async def scenario() -> list[StreamChunk]:
        up = provider(upstream.url, api_key="sk-test")
        try:
            return await collect(up.stream(call()))
        finally:
            await up.aclose()

    chunks = run(scenario())
    parsed = [json.loads(c.data) for c in chunks]
    assert [c.tokens for c in chunks] == [False, True, True, True, True, False, False]
    assert [p["choices"][0]["delta"].get("content") for p in parsed[1:5]] == [
        "tok0 ",
        "tok1 ",
        "tok2 ",
        "tok3 ",
    ]
    assert all(p["model"] == "served" for p in parsed)
    assert parsed[5]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (7, 4)
    assert all(c.usage is None for c in chunks[:-1])


def test_yields_chunks_as_they_arrive_and_early_close_cancels(upstream: UpstreamHandle) -> None:
    upstream.control(chunk_s=60.0)  # the last chunk is a long way off

    async def scenario() -> list[StreamChunk]:
        up = provider(upstream.url)
        stream = up.stream(call())
        got: list[StreamChunk] = []
        try:
            async with asyncio.timeout(GUARD_S):
                async for chunk in stream:
                    got.append(chunk)
                    if chunk.tokens:
                        break
            await stream.aclose()  # type: ignore[attr-defined]
            return got
        finally:
            await up.aclose()

    got = run(scenario())
    assert [c.tokens for c in got] == [False, True]
    assert upstream.wait_for(lambda s: s["cancelled"] == 1)


@pytest.mark.parametrize(
    ("status", "can_retry"), [(500, True), (503, True), (429, True), (401, False), (404, False)]
)
def test_error_statuses_are_upstream_errors(
    upstream: UpstreamHandle, status: int, can_retry: bool
) -> None:
    upstream.control(fail_status=status)

    async def scenario() -> None:
        up = provider(upstream.url)
        try:
            await collect(up.stream(call()))
        finally:
            await up.aclose()

    with pytest.raises(UpstreamError, match=f"provider 'up' answered HTTP {status}") as info:
        run(scenario())
    assert info.value.upstream_status == status
    assert retryable(info.value) is can_retry


@pytest.mark.parametrize("status", [400, 422])
def test_client_fault_statuses_are_invalid_requests(upstream: UpstreamHandle, status: int) -> None:
    upstream.control(fail_status=status)

    async def scenario() -> None:
        up = provider(upstream.url)
        try:
            await collect(up.stream(call()))
        finally:
            await up.aclose()

    with pytest.raises(InvalidRequestError, match=f"fake failure {status}") as info:
        run(scenario())
    assert not isinstance(info.value, UpstreamError)
    assert info.value.status_code == 400


def test_connection_refused_is_a_retryable_upstream_error() -> None:
    async def scenario() -> None:
        up = provider(closed_port_url())
        try:
            await collect(up.stream(call()))
        finally:
            await up.aclose()

    with pytest.raises(UpstreamError, match="could not connect") as info:
        run(scenario())
    assert info.value.upstream_status is None
    assert retryable(info.value)


def test_a_stall_before_headers_times_out(upstream: UpstreamHandle) -> None:
    upstream.control(stall_s=30.0)

    async def scenario() -> None:
        up = provider(upstream.url, read_timeout_s=0.3)
        try:
            await collect(up.stream(call()))
        finally:
            await up.aclose()

    with pytest.raises(UpstreamError, match=r"sent nothing for 0\.3 s"):
        run(scenario())


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"die_after": 2}, "broke off"), ({"hang_after": 2}, r"sent nothing for 0\.3 s")],
)
def test_a_cut_or_hung_stream_fails_mid_stream(
    upstream: UpstreamHandle, fields: dict[str, int], message: str
) -> None:
    upstream.control(**fields)

    async def scenario() -> list[StreamChunk]:
        up = provider(upstream.url, read_timeout_s=0.3)
        got: list[StreamChunk] = []
        try:
            async with asyncio.timeout(GUARD_S):
                with pytest.raises(UpstreamError, match=message) as info:
                    await pull_into(up.stream(call()), got)
            assert retryable(info.value)
            return got
        finally:
            await up.aclose()

    got = run(scenario())
    assert [c.tokens for c in got] == [False, True, True]  # role, then two tokens


def test_fake_upstream_answers_non_stream_requests_and_models(upstream: UpstreamHandle) -> None:
    body = {**BODY, "stream": False, "max_tokens": 2}
    with httpx.Client(timeout=10) as client:
        completion = client.post(f"{upstream.url}/chat/completions", json=body).json()
        models = client.get(f"{upstream.url}/models").json()
        bad = client.post(f"{upstream.root}/_control", json={"chunks": -1})
    assert completion["choices"][0]["message"]["content"] == "tok0 tok1 "
    assert completion["choices"][0]["finish_reason"] == "length"
    assert completion["usage"] == {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
    assert models["data"][0]["object"] == "model"
    assert bad.status_code == 400
    assert upstream.stats()["requests"] == 1


def test_fake_upstream_survives_clients_leaving_mid_stream() -> None:
    async def scenario() -> int:
        server = FakeUpstream()
        await server.start()
        try:
            server.behaviour = server.behaviour.updated({"chunk_s": 0.01, "chunks": 50})
            for _ in range(3):
                up = provider(server.url)
                stream = up.stream(call())
                await anext(stream)
                await up.aclose()  # the client's connections drop mid-stream
            up = provider(server.url)
            try:
                server.behaviour = server.behaviour.updated({"chunk_s": 0.0})
                return len(await collect(up.stream(call())))
            finally:
                await up.aclose()
        finally:
            await server.stop()

    assert run(scenario()) == 53  # role + 50 tokens + finish + usage


# -- routing over two real servers ---------------------------------------------------------------


def router_for(*urls: str, deadline: float = 10.0, **settings: Any) -> ModelRouter:
    names = [f"p{i}" for i in range(len(urls))]
    providers = {n: provider(u, n, **settings) for n, u in zip(names, urls, strict=True)}
    targets = [RouteTarget(provider=n, model=f"{n}-model") for n in names]
    route = RouteSettings(targets=targets, ttft_deadline_s=deadline)
    settings_by_name = {
        n: ProviderSettings(name=n, base_url=u, **settings)
        for n, u in zip(names, urls, strict=True)
    }
    return ModelRouter({"alias": route}, providers, settings_by_name)


async def serve(router: ModelRouter) -> tuple[str, list[StreamChunk], list[str | None]]:
    try:
        async with asyncio.timeout(GUARD_S):
            routed = await router.open("alias", BODY, request_id="r", prompt_tokens=7)
            chunks = [*routed.head, *[c async for c in routed.rest]]
            await routed.aclose()
        return routed.provider, chunks, [a.error for a in routed.attempts]
    finally:
        await router.aclose()


@pytest.mark.parametrize("dead", ["status", "closed_port"])
def test_dead_primary_is_served_by_the_secondary(
    upstream: UpstreamHandle, secondary: UpstreamHandle, dead: str
) -> None:
    primary = upstream.url
    if dead == "status":
        upstream.control(fail_status=500)
    else:
        primary = closed_port_url()
    router = router_for(primary, secondary.url, max_retries=1, backoff_s=0.01)
    served, chunks, errors = run(serve(router))
    assert served == "p1"
    assert len(chunks) == 7
    assert json.loads(chunks[1].data)["model"] == "p1-model"
    assert len(errors) == 3
    assert errors[-1] is None
    if dead == "status":
        assert errors[:2] == ["HTTP 500", "HTTP 500"]
        assert upstream.stats()["requests"] == 2  # one retry on the primary


def test_slow_first_token_moves_on_and_cancels_the_primary(
    upstream: UpstreamHandle, secondary: UpstreamHandle
) -> None:
    upstream.control(ttft_s=60.0)
    router = router_for(upstream.url, secondary.url, deadline=0.5, max_retries=2)
    served, chunks, errors = run(serve(router))
    assert served == "p1"
    assert errors == ["no first token within 0.5s", None]
    assert [c.tokens for c in chunks].count(True) == 4
    assert upstream.wait_for(lambda s: s["cancelled"] == 1)
    assert upstream.stats()["requests"] == 1  # no retry on a slow provider


def test_mid_stream_death_raises_from_rest(
    upstream: UpstreamHandle, secondary: UpstreamHandle
) -> None:
    upstream.control(die_after=2)
    router = router_for(upstream.url, secondary.url)

    async def scenario() -> list[StreamChunk]:
        got: list[StreamChunk] = []
        try:
            async with asyncio.timeout(GUARD_S):
                routed = await router.open("alias", BODY, request_id="r", prompt_tokens=7)
                got += routed.head
                with pytest.raises(UpstreamError, match="broke off"):
                    await pull_into(routed.rest, got)
                await routed.aclose()
            assert routed.provider == "p0"
            assert router.breaker("p0").consecutive_failures == 1
            return got
        finally:
            await router.aclose()

    got = run(scenario())
    assert [c.tokens for c in got] == [False, True, True]
    assert secondary.stats()["requests"] == 0
