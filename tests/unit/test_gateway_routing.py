"""ModelRouter over scripted fake providers and a fake clock: fallback order, retries and
backoff, circuit breakers, the TTFT deadline, client errors, mid-stream failures, early close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from switchboard.backoff import backoff_delay
from switchboard.circuit_breaker import BreakerState
from switchboard.config import ProviderSettings, RouteSettings, RouteTarget
from switchboard.errors import (
    DependencyUnavailableError,
    InvalidRequestError,
    ModelNotFoundError,
    UpstreamError,
)
from switchboard.gateway.routing import MAX_BACKOFF_S, ModelRouter, RoutedStream
from switchboard.gateway.types import ProviderCall, StreamChunk, Usage

pytestmark = pytest.mark.unit

ROLE = StreamChunk(b'{"role"}', tokens=False)
TOKEN = StreamChunk(b'{"tok"}', tokens=True)
FINISH = StreamChunk(b'{"finish"}', tokens=False)
USAGE = StreamChunk(b'{"usage"}', tokens=False, usage=Usage(3, 2))
OK = [ROLE, TOKEN, TOKEN, FINISH, USAGE]
HANG = "hang"  # a script step: wait forever
Step = StreamChunk | BaseException | str


def fail(status: int | None = 500) -> UpstreamError:
    return UpstreamError(f"HTTP {status}", upstream_status=status)


class ScriptedProvider:
    """Each call plays the next script (the last one repeats): chunks, then maybe a raise."""

    def __init__(self, name: str, *scripts: Sequence[Step]) -> None:
        self._name = name
        self.scripts = list(scripts)
        self.calls: list[ProviderCall] = []
        self.closed = 0  # streams whose generator was finalised before their end
        self.finished = 0

    @property
    def name(self) -> str:
        return self._name

    async def stream(self, call: ProviderCall) -> AsyncIterator[StreamChunk]:
        script = self.scripts[min(len(self.calls), len(self.scripts) - 1)]
        self.calls.append(call)
        done = False
        try:
            for step in script:
                if step == HANG:
                    await asyncio.Event().wait()
                if isinstance(step, BaseException):
                    raise step
                if isinstance(step, StreamChunk):
                    yield step
            done = True
            self.finished += 1
        finally:
            if not done:
                self.closed += 1

    async def aclose(self) -> None:
        pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_router(
    *providers: ScriptedProvider,
    deadline: float | None = 5.0,
    clock: FakeClock | None = None,
    **settings: Any,
) -> tuple[ModelRouter, FakeClock]:
    clock = clock or FakeClock()
    targets = [RouteTarget(provider=p.name, model=f"{p.name}-model") for p in providers]
    route = RouteSettings(targets=targets, ttft_deadline_s=deadline)
    defaults: dict[str, Any] = {"max_retries": 0, "backoff_s": 0.1, **settings}
    provider_settings = {
        p.name: ProviderSettings(name=p.name, base_url="http://x/v1", **defaults) for p in providers
    }
    router = ModelRouter(
        {"m": route},
        {p.name: p for p in providers},
        provider_settings,
        clock=clock,
        sleep=clock.sleep,
        jitter=lambda: 1.0,
    )
    return router, clock


async def open_m(router: ModelRouter) -> RoutedStream:
    return await router.open("m", {"model": "m", "messages": []}, request_id="r1", prompt_tokens=3)


async def drain(routed: RoutedStream) -> list[StreamChunk]:
    return [*routed.head, *[chunk async for chunk in routed.rest]]


async def pull_into(chunks: AsyncIterator[StreamChunk], got: list[StreamChunk]) -> None:
    async for chunk in chunks:
        got.append(chunk)


def run_open(router: ModelRouter) -> RoutedStream:
    return asyncio.run(open_m(router))


def test_first_provider_serves_and_head_ends_at_the_first_token() -> None:
    a = ScriptedProvider("a", OK)
    router, _ = make_router(a, ScriptedProvider("b", OK))

    async def scenario() -> tuple[RoutedStream, list[StreamChunk]]:
        routed = await open_m(router)
        return routed, await drain(routed)

    routed, chunks = asyncio.run(scenario())
    assert (routed.provider, routed.model) == ("a", "a-model")
    assert routed.head == [ROLE, TOKEN]
    assert chunks == OK
    assert [(x.provider, x.error) for x in routed.attempts] == [("a", None)]
    assert a.calls[0].body["model"] == "a-model"
    assert a.calls[0].request_id == "r1"


def test_falls_back_in_order_and_readdresses_the_body() -> None:
    a, b = ScriptedProvider("a", [fail(500)]), ScriptedProvider("b", [fail(503)])
    c = ScriptedProvider("c", OK)
    router, _ = make_router(a, b, c)
    routed = run_open(router)
    assert routed.provider == "c"
    assert [(x.provider, x.error) for x in routed.attempts] == [
        ("a", "HTTP 500"),
        ("b", "HTTP 503"),
        ("c", None),
    ]
    assert c.calls[0].body == {"model": "c-model", "messages": []}


def test_retries_with_capped_exponential_backoff_then_moves_on() -> None:
    a = ScriptedProvider("a", [fail(None)])
    b = ScriptedProvider("b", OK)
    router, clock = make_router(a, b, max_retries=3, backoff_s=0.5)
    routed = run_open(router)
    assert len(a.calls) == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]  # jitter 1.0: the full, capped delay
    assert routed.provider == "b"
    assert [x.provider for x in routed.attempts] == ["a", "a", "a", "a", "b"]


def test_a_retry_that_succeeds_stays_on_the_provider() -> None:
    a = ScriptedProvider("a", [fail(429)], OK)
    router, clock = make_router(a, ScriptedProvider("b", OK), max_retries=1)
    routed = run_open(router)
    assert routed.provider == "a"
    assert len(clock.sleeps) == 1


@pytest.mark.parametrize(
    ("retry", "base", "jitter", "expected"),
    [(0, 0.1, 1.0, 0.1), (3, 0.1, 1.0, 0.8), (10, 0.1, 1.0, 2.0), (2, 0.1, 0.5, 0.2), (5, 1, 0, 0)],
)
def test_backoff_delay_is_full_jitter_capped(
    retry: int, base: float, jitter: float, expected: float
) -> None:
    assert backoff_delay(retry, base, MAX_BACKOFF_S, jitter) == pytest.approx(expected)


@pytest.mark.parametrize("status", [401, 403, 404])
def test_non_retryable_status_moves_on_at_once(status: int) -> None:
    a = ScriptedProvider("a", [fail(status)])
    router, clock = make_router(a, ScriptedProvider("b", OK), max_retries=3)
    assert run_open(router).provider == "b"
    assert len(a.calls) == 1
    assert clock.sleeps == []


def test_client_error_is_raised_without_fallback() -> None:
    a = ScriptedProvider("a", [InvalidRequestError("bad temperature", param="temperature")])
    b = ScriptedProvider("b", OK)
    router, _ = make_router(a, b, max_retries=2)
    with pytest.raises(InvalidRequestError, match="bad temperature"):
        run_open(router)
    assert len(a.calls) == 1
    assert b.calls == []
    assert router.breaker("a").consecutive_failures == 0


def test_all_failed_lists_every_attempt() -> None:
    router, _ = make_router(ScriptedProvider("a", [fail(500)]), ScriptedProvider("b", [fail(401)]))
    with pytest.raises(UpstreamError, match="all providers failed for 'm'") as info:
        run_open(router)
    assert "a: HTTP 500; b: HTTP 401" in info.value.message
    assert info.value.status_code == 502


def test_breaker_opens_after_failures_and_skips_the_provider() -> None:
    a = ScriptedProvider("a", [fail(500)])
    b = ScriptedProvider("b", OK)
    router, _ = make_router(a, b, breaker_failures=2, breaker_reset_s=30)
    run_open(router)
    run_open(router)
    assert router.breaker("a").state is BreakerState.OPEN
    routed = run_open(router)
    assert len(a.calls) == 2  # skipped the third time
    assert routed.attempts[0].error == "circuit open"
    assert routed.provider == "b"


def test_every_breaker_open_is_503_with_the_soonest_reopening() -> None:
    a, b = ScriptedProvider("a", [fail(500)]), ScriptedProvider("b", [fail(500)])
    router, clock = make_router(a, b, breaker_failures=1, breaker_reset_s=30)
    with pytest.raises(UpstreamError):
        run_open(router)
    clock.now += 10
    with pytest.raises(DependencyUnavailableError) as info:
        run_open(router)
    assert info.value.status_code == 503
    assert info.value.retry_after_s == pytest.approx(20)


def test_half_open_trial_closes_on_success_and_reopens_on_failure() -> None:
    a = ScriptedProvider("a", [fail(500)], [fail(500)], OK)
    b = ScriptedProvider("b", OK)
    router, clock = make_router(a, b, breaker_failures=1, breaker_reset_s=30)
    run_open(router)  # a fails: open
    clock.now += 31
    assert run_open(router).provider == "b"  # the trial fails: open again
    assert router.breaker("a").state is BreakerState.OPEN
    clock.now += 5
    assert run_open(router).attempts[0].error == "circuit open"
    clock.now += 31
    routed = run_open(router)
    asyncio.run(drain(routed))
    assert routed.provider == "a"
    assert len(a.calls) == 3
    assert router.breaker("a").state is BreakerState.CLOSED


def test_ttft_deadline_moves_to_the_next_target_and_closes_the_slow_stream() -> None:
    slow = ScriptedProvider("slow", [ROLE, HANG, TOKEN])
    fast = ScriptedProvider("fast", OK)
    router, _ = make_router(slow, fast, deadline=0.05, max_retries=3)
    routed = run_open(router)
    assert routed.provider == "fast"
    assert routed.head == [ROLE, TOKEN]  # nothing of the slow provider's
    assert len(slow.calls) == 1  # no retry on a slow provider
    assert slow.closed == 1
    assert routed.attempts[0].error == "no first token within 0.05s"
    assert router.breaker("slow").consecutive_failures == 1


def test_mid_stream_failure_raises_from_rest_and_counts_once() -> None:
    a = ScriptedProvider("a", [ROLE, TOKEN, fail(None)])
    b = ScriptedProvider("b", OK)
    router, _ = make_router(a, b)

    async def scenario() -> list[StreamChunk]:
        routed = await open_m(router)
        got = list(routed.head)
        with pytest.raises(UpstreamError):
            await pull_into(routed.rest, got)
        await routed.aclose()
        return got

    assert asyncio.run(scenario()) == [ROLE, TOKEN]
    assert b.calls == []  # no fallback once a token went out
    assert router.breaker("a").consecutive_failures == 1


def test_completed_stream_records_success() -> None:
    a = ScriptedProvider("a", [fail(500)], OK)
    router, _ = make_router(a, max_retries=1)

    async def scenario() -> int:
        routed = await open_m(router)
        failures_before = router.breaker("a").consecutive_failures
        await drain(routed)
        await routed.aclose()
        return failures_before

    assert asyncio.run(scenario()) == 1
    assert router.breaker("a").consecutive_failures == 0


def test_stream_without_tokens_is_served_whole_in_the_head() -> None:
    a = ScriptedProvider("a", [ROLE, FINISH, USAGE])
    router, _ = make_router(a)

    async def scenario() -> tuple[RoutedStream, list[StreamChunk]]:
        routed = await open_m(router)
        return routed, [c async for c in routed.rest]

    routed, rest = asyncio.run(scenario())
    assert routed.head == [ROLE, FINISH, USAGE]
    assert rest == []
    assert a.finished == 1


def test_early_close_closes_the_provider_stream_without_a_verdict() -> None:
    a = ScriptedProvider("a", [fail(500)], [ROLE, TOKEN, HANG, TOKEN])
    router, _ = make_router(a, max_retries=1)

    async def scenario() -> None:
        routed = await open_m(router)
        await routed.aclose()
        await routed.aclose()  # idempotent

    asyncio.run(scenario())
    assert a.closed == 2  # the failed attempt and the abandoned one
    assert router.breaker("a").consecutive_failures == 1  # neither success nor failure


def test_cancelled_open_closes_the_provider_stream() -> None:
    a = ScriptedProvider("a", [ROLE, HANG])
    router, _ = make_router(a, deadline=None)

    async def scenario() -> None:
        task = asyncio.ensure_future(open_m(router))
        while not a.calls:
            await asyncio.sleep(0)
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert a.closed == 1
    assert router.breaker("a").consecutive_failures == 0


def test_aliases_chain_and_unknown_names() -> None:
    router, _ = make_router(ScriptedProvider("a", OK), ScriptedProvider("b", OK))
    assert router.aliases == ["m"]
    assert [(t.provider, t.model) for t in router.chain("m")] == [
        ("a", "a-model"),
        ("b", "b-model"),
    ]
    with pytest.raises(ModelNotFoundError):
        router.chain("nope")
    with pytest.raises(ModelNotFoundError):
        asyncio.run(router.open("nope", {}, request_id="r", prompt_tokens=1))
    route = RouteSettings(targets=[RouteTarget(provider="ghost", model="x")])
    with pytest.raises(ValueError, match="ghost"):
        ModelRouter({"m": route}, {}, {})
