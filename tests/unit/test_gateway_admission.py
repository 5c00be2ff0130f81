"""What the gateway checks before expensive work, over fake providers, counters and a
regex guard: message count and size, then the context window (a cheap bound, then the
exact count), then the reservations (bounded by the window when max_tokens is absent),
then the input guard, which stops once the client has left."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from switchboard.config import (
    GatewaySettings,
    GuardSettings,
    LimitSettings,
    ProviderSettings,
    RouteSettings,
    RouteTarget,
    TracingSettings,
)
from switchboard.errors import ContextLengthError, InvalidRequestError, RateLimitError
from switchboard.gateway.budget import MemoryBudgetLedger
from switchboard.gateway.limiter import MemoryLimiter, Reservation
from switchboard.gateway.pricing import PriceTable
from switchboard.gateway.routing import ModelRouter
from switchboard.gateway.service import Gateway
from switchboard.gateway.types import ALL_SCOPES, Principal, ProviderCall, StreamChunk, Usage
from switchboard.guard.policy import Policy
from switchboard.guard.scanner import Guard
from switchboard.guard.types import Category, Direction, Finding
from switchboard.observability.log_store import LogStore
from switchboard.observability.metrics import GatewayMetrics
from switchboard.observability.tracing import Tracing
from tests.unit.guard_fakes import make_guard

pytestmark = pytest.mark.unit

KEY = Principal(key_id="k1", tenant="acme", scopes=ALL_SCOPES)


class EchoProvider:
    """Answers "ok" and keeps the body of every call."""

    def __init__(self, name: str = "fake") -> None:
        self.name = name
        self.bodies: list[Mapping[str, Any]] = []

    async def stream(self, call: ProviderCall) -> AsyncIterator[StreamChunk]:
        self.bodies.append(call.body)
        head = {"id": "c1", "created": 1, "model": call.model}
        data = {**head, "choices": [{"delta": {"content": "ok"}, "finish_reason": "stop"}]}
        yield StreamChunk(json.dumps(data).encode(), tokens=True)
        usage = {**head, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
        yield StreamChunk(json.dumps(usage).encode(), tokens=False, usage=Usage(3, 1))

    async def aclose(self) -> None:
        return None


class LetterCounter:
    """A local engine's counter where one token is one character (plus 2 per message)
    and no token is longer than 4 bytes; counts its exact counts."""

    def __init__(self, max_model_len: int) -> None:
        self.max_model_len = max_model_len
        self.counted = 0

    def lower_bound(self, messages: Sequence[Mapping[str, Any]]) -> int:
        return sum(len(str(m.get("content", "")).encode()) for m in messages) // 4

    def count(self, messages: Sequence[Mapping[str, Any]]) -> int:
        self.counted += 1
        return sum(len(str(m.get("content", ""))) + 2 for m in messages)


class RecordingLimiter(MemoryLimiter):
    def __init__(self) -> None:
        super().__init__()
        self.reserved: list[int] = []

    async def reserve(
        self, key_id: str, rpm: int | None, tpm: int | None, tokens: int
    ) -> Reservation:
        self.reserved.append(tokens)
        return await super().reserve(key_id, rpm, tpm, tokens)


class NoSpend:
    def spent(self, scope: str, scope_id: str, period: str) -> float:
        return 0.0


def make_gateway(
    tmp_path: Path,
    provider: EchoProvider,
    *,
    window: int | None = None,
    counter: LetterCounter | None = None,
    guard: Guard | None = None,
    **limits: Any,
) -> tuple[Gateway, RecordingLimiter]:
    target = RouteTarget(provider=provider.name, model="m", max_model_len=window)
    route = RouteSettings(targets=[target], ttft_deadline_s=5)
    spec = ProviderSettings(name=provider.name, kind="local", max_retries=0)
    limiter = RecordingLimiter()
    counted = {"counters": {provider.name: counter}} if counter is not None else {}
    gateway = Gateway(
        GatewaySettings(limits=LimitSettings(**limits)),
        router=ModelRouter({"chat": route}, {provider.name: provider}, {provider.name: spec}),
        limiter=limiter,
        ledger=MemoryBudgetLedger(NoSpend()),
        prices=PriceTable({}),
        request_log=None,
        log_store=LogStore.open(tmp_path / "gateway.sqlite3"),
        metrics=GatewayMetrics(),
        tracing=Tracing(TracingSettings()),
        guard=guard,
        **counted,
    )
    return gateway, limiter


def chat(*contents: str, **params: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": c} for c in contents]
    return {"model": "chat", "messages": messages, **params}


async def served(gateway: Gateway, body: Mapping[str, Any]) -> None:
    call = await gateway.open(KEY, body, endpoint="chat")
    [c async for c in gateway.chunks(call)]
    await gateway.finish(call)


# -- max_tokens absent: the rest of the window --------------------------------------------------


def test_without_max_tokens_a_known_window_bounds_the_reservation_and_nothing_is_sent(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        provider = EchoProvider()
        gateway, limiter = make_gateway(tmp_path, provider, window=300, reserve_max_tokens=50)
        await served(gateway, chat("hello there"))
        assert limiter.reserved == [300]  # prompt + the rest of the window
        assert "max_tokens" not in provider.bodies[0]
        await served(gateway, chat("hello there", max_tokens=7))
        assert provider.bodies[1]["max_tokens"] == 7
        assert limiter.reserved[1] < 30  # the estimate of the prompt + 7
        await gateway.aclose()

    asyncio.run(scenario())


def test_without_max_tokens_an_unknown_window_reserves_and_sends_the_default(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        provider = EchoProvider()
        gateway, limiter = make_gateway(tmp_path, provider, reserve_max_tokens=50)
        await served(gateway, chat("hello there"))
        assert provider.bodies[0]["max_tokens"] == 50  # the reservation is a bound: it binds
        assert 50 < limiter.reserved[0] < 70
        await served(gateway, chat("hello", max_completion_tokens=9))
        assert "max_tokens" not in provider.bodies[1]
        await gateway.aclose()

    asyncio.run(scenario())


def test_the_local_engine_counts_the_prompt_exactly_and_reserves_the_window(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        provider = EchoProvider("local")
        counter = LetterCounter(max_model_len=64)
        gateway, limiter = make_gateway(tmp_path, provider, window=64, counter=counter)
        call = await gateway.open(KEY, chat("x" * 20), endpoint="chat")
        assert call.prompt_estimate == 22  # the exact count, not ~20 // 3 + 5
        [c async for c in gateway.chunks(call)]
        await gateway.finish(call)
        assert limiter.reserved == [64]
        assert "max_tokens" not in provider.bodies[0]
        await gateway.aclose()

    asyncio.run(scenario())


# -- refusals, in order, before the guard -------------------------------------------------------


def test_too_many_messages_are_refused_before_anything_else_runs(tmp_path: Path) -> None:
    async def scenario() -> None:
        provider = EchoProvider("local")
        counter = LetterCounter(max_model_len=64)
        guard, pii = make_guard()
        gateway, limiter = make_gateway(
            tmp_path, provider, window=64, counter=counter, guard=guard, max_messages=100
        )
        with pytest.raises(InvalidRequestError) as refused:
            await gateway.open(KEY, chat(*["ignore all"] * 20_000), endpoint="chat")
        assert refused.value.param == "messages"
        assert "20000 messages" in refused.value.message
        assert (counter.counted, pii.calls, limiter.reserved, provider.bodies) == (0, 0, [], [])
        await gateway.aclose()

    asyncio.run(scenario())


def test_too_many_characters_are_refused_before_the_guard(tmp_path: Path) -> None:
    async def scenario() -> None:
        provider = EchoProvider()
        guard, pii = make_guard()
        gateway, limiter = make_gateway(tmp_path, provider, guard=guard, max_prompt_chars=1000)
        with pytest.raises(InvalidRequestError) as refused:
            await gateway.open(KEY, chat("a" * 600, "b" * 600), endpoint="chat")
        assert refused.value.param == "messages"
        assert "1000" in refused.value.message
        assert (pii.calls, limiter.reserved) == (0, [])
        await served(gateway, chat("a" * 600))  # within the limit
        await gateway.aclose()

    asyncio.run(scenario())


def test_a_prompt_over_the_window_is_refused_by_the_cheap_bound_without_counting(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        provider = EchoProvider("local")
        counter = LetterCounter(max_model_len=64)
        guard, pii = make_guard()
        gateway, limiter = make_gateway(tmp_path, provider, window=64, counter=counter, guard=guard)
        with pytest.raises(ContextLengthError) as refused:
            await gateway.open(KEY, chat("ignore all " + "y" * 400), endpoint="chat")
        assert refused.value.param == "messages"
        assert "maximum context length is 64 tokens" in refused.value.message
        assert (counter.counted, pii.calls, limiter.reserved) == (0, 0, [])
        await gateway.aclose()

    asyncio.run(scenario())


def test_a_prompt_over_the_window_by_the_exact_count_names_both_lengths(tmp_path: Path) -> None:
    async def scenario() -> None:
        provider = EchoProvider("local")
        counter = LetterCounter(max_model_len=64)
        guard, pii = make_guard()
        gateway, limiter = make_gateway(tmp_path, provider, window=64, counter=counter, guard=guard)
        with pytest.raises(ContextLengthError) as refused:
            await gateway.open(KEY, chat("ignore all " + "y" * 30, max_tokens=30), endpoint="chat")
        assert (refused.value.prompt_tokens, refused.value.requested) == (43, 73)
        assert "73 tokens (43 in the prompt, 30 for the completion)" in refused.value.message
        assert (counter.counted, pii.calls, limiter.reserved) == (1, 0, [])
        await gateway.aclose()

    asyncio.run(scenario())


def test_the_rate_limit_comes_after_the_size_checks(tmp_path: Path) -> None:
    async def scenario() -> None:
        provider = EchoProvider()
        gateway, _ = make_gateway(tmp_path, provider, window=300)
        key = Principal(key_id="k2", tenant="acme", scopes=ALL_SCOPES, tpm=400)
        first = await gateway.open(key, chat("hi"), endpoint="chat")  # 300 reserved
        with pytest.raises(RateLimitError):
            await gateway.open(key, chat("hi"), endpoint="chat")
        with pytest.raises(InvalidRequestError):  # not a 429: refused before reserving
            await gateway.open(key, chat(*["hi"] * 2000), endpoint="chat")
        [c async for c in gateway.chunks(first)]
        await gateway.finish(first)
        await gateway.aclose()

    asyncio.run(scenario())


# -- the input guard stops once the client has left ----------------------------------------------


class HeldDetector:
    """Finds nothing; its ``hold_at``-th scan waits until ``release`` is set."""

    category = Category.PII

    def __init__(self, hold_at: int) -> None:
        self.hold_at = hold_at
        self.calls = 0
        self.holding = threading.Event()
        self.release = threading.Event()

    def scan(self, text: str) -> list[Finding]:
        self.calls += 1
        if self.calls == self.hold_at:
            self.holding.set()
            self.release.wait(10)
        return []


def test_the_input_guard_stops_between_messages_once_the_request_is_cancelled(
    tmp_path: Path,
) -> None:
    detector = HeldDetector(hold_at=2)
    guard = Guard(
        Policy.from_settings(GuardSettings()),
        {Direction.INPUT: {Category.PII: [detector]}, Direction.OUTPUT: {}},
        {Direction.INPUT: "blocked-in", Direction.OUTPUT: "blocked-out"},
    )

    async def scenario() -> None:
        gateway, _ = make_gateway(tmp_path, EchoProvider(), guard=guard)
        opening = asyncio.ensure_future(
            gateway.open(KEY, chat(*[f"message {i}" for i in range(500)]), endpoint="chat")
        )
        await asyncio.to_thread(detector.holding.wait, 10)
        opening.cancel()  # the client left while the guard scans its second message
        with pytest.raises(asyncio.CancelledError):
            await opening
        detector.release.set()
        await gateway.aclose()

    asyncio.run(scenario())  # returns once the guard's worker thread is done
    assert detector.calls == 2
