"""The Redis rate limiter and budget ledger against a real redis-server on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis

from switchboard.errors import BudgetExceededError, DependencyUnavailableError, RateLimitError
from switchboard.gateway.budget import BudgetLedger, BudgetScope, MemoryBudgetLedger
from switchboard.gateway.limiter import MemoryLimiter, RateLimiter
from switchboard.gateway.ratelimit import Reservation
from switchboard.gateway.redis_limiter import RATE_PREFIX, RedisBudgetLedger, RedisLimiter
from switchboard.gateway.types import ALL_SCOPES, Principal
from tests.integration.redis_server import free_port, redis_server, redis_url

pytestmark = pytest.mark.integration
__all__ = ["redis_url"]  # the fixture, imported for this module

T = TypeVar("T")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Spend:
    def __init__(self, values: dict[tuple[str, str, str], float] | None = None) -> None:
        self.values = values or {}
        self.reads = 0

    def spent(self, scope: BudgetScope, scope_id: str, period: str) -> float:
        self.reads += 1
        return self.values.get((scope, scope_id, period), 0.0)


# --- rate limits ---------------------------------------------------------------------

# (advance the clock by s, key, rpm, tpm, tokens, tokens actually used or None: no settle)
SEQUENCE: list[tuple[float, str, int | None, int | None, int, int | None]] = [
    (0, "a", 3, 1000, 400, 100),  # 300 tokens refunded
    (0, "a", 3, 1000, 400, None),
    (0, "a", 3, 1000, 400, None),
    (0, "a", 3, 1000, 400, None),  # refused: 3 requests used
    (20, "a", 3, 1000, 100, 900),  # one request refilled; settling 900 leaves a debt
    (0, "a", 3, 1000, 1, None),  # refused by both: the tokens' longer wait is named
    (30, "a", 3, 1000, 300, 300),  # refused by tokens only
    (0, "a", 3, 1000, 2000, None),  # larger than the limit
    (0, "b", None, 500, 500, 0),
    (0, "b", None, 500, 500, 500),
    (0, "b", None, 500, 1, None),
    (60, "b", None, 500, 500, None),
    (0, "c", 2, None, 10**6, None),
    (0, "c", 2, None, 10**6, None),
    (0, "c", 2, None, 1, None),
    (0.001, "c", 2, None, 1, None),
]


async def play(limiter: RateLimiter, clock: Clock, prefix: str) -> list[object]:
    results: list[object] = []
    for advance, key, rpm, tpm, tokens, used in SEQUENCE:
        clock.now += advance
        try:
            r = await limiter.reserve(prefix + key, rpm, tpm, tokens)
        except RateLimitError as e:
            results.append((e.error_type, e.message, e.retry_after_s))
            continue
        results.append({**vars(r), "key_id": key})
        if used is not None:
            await limiter.settle(r, used)
    return results


def test_redis_limiter_answers_like_the_memory_limiter(redis_url: str) -> None:
    async def scenario() -> tuple[list[object], list[object]]:
        memory_clock, redis_clock = Clock(), Clock()
        memory = await play(MemoryLimiter(memory_clock), memory_clock, "")
        limiter = RedisLimiter(redis_url, clock=redis_clock)
        try:
            shared = await play(limiter, redis_clock, unique("parity") + "-")
        finally:
            await limiter.aclose()
        return memory, shared

    memory, shared = run(scenario())
    assert shared == memory
    refusals = [r for r in memory if isinstance(r, tuple)]
    assert {r[0] for r in refusals} == {"requests", "tokens"}
    assert any("Request too large" in str(r[1]) for r in refusals)


def test_a_request_only_count_keeps_the_token_bucket_in_redis(redis_url: str) -> None:
    async def scenario() -> None:
        limiter = RedisLimiter(redis_url)
        key = unique("mixed")
        try:
            spent = await limiter.reserve(key, 100, 1000, 900)
            await limiter.settle(spent, 1100)
            await limiter.reserve(key, 100, None, 0)  # must neither reset nor expire tokens
            raw = aioredis.Redis.from_url(redis_url)
            try:  # the token debt needs ~72 s to refill: a request-only expiry is ~1.6 s
                assert int(await raw.pttl(RATE_PREFIX + key)) > 60_000
            finally:
                await raw.aclose()
            with pytest.raises(RateLimitError) as info:
                await limiter.reserve(key, 100, 1000, 10)
            assert info.value.error_type == "tokens"
        finally:
            await limiter.aclose()

    run(scenario())


def test_two_clients_share_one_limit_on_the_server_clock(redis_url: str) -> None:
    key = unique("shared")

    async def one(limiter: RedisLimiter) -> bool:
        try:
            await limiter.reserve(key, None, 600, 50)  # 10 tokens/s: 12 fit in a burst
        except RateLimitError:
            return False
        return True

    async def scenario() -> list[bool]:
        a, b = RedisLimiter(redis_url), RedisLimiter(redis_url)
        try:
            return await asyncio.gather(*(one(a if i % 2 else b) for i in range(40)))
        finally:
            await a.aclose()
            await b.aclose()

    # a 13th would need 5 s of refill: far more than this burst takes
    assert sum(run(scenario())) == 12


def test_settle_refunds_across_clients_and_keys_expire(redis_url: str) -> None:
    key = unique("settle")

    async def scenario() -> tuple[Reservation, int]:
        a, b = RedisLimiter(redis_url), RedisLimiter(redis_url)
        raw = aioredis.Redis.from_url(redis_url)
        try:
            r = await a.reserve(key, 100, 1000, 900)
            with pytest.raises(RateLimitError):
                await b.reserve(key, 100, 1000, 900)
            await a.settle(r, 50)  # 850 back
            second = await b.reserve(key, 100, 1000, 900)
            ttl = int(await raw.pttl("sb:rl:" + key))
            return second, ttl
        finally:
            await a.aclose()
            await b.aclose()
            await raw.aclose()

    second, ttl = run(scenario())
    assert second.remaining_requests == 98
    assert second.remaining_tokens in range(50, 100)  # 1000 - 900 + 850 - 900, plus refill
    assert 0 < ttl <= 61_000 + 1000  # gone once both buckets would be full again


# --- budgets -------------------------------------------------------------------------


async def play_budget(ledger: BudgetLedger, tenant: str) -> list[object]:
    a = Principal(f"{tenant}-a", tenant, ALL_SCOPES, budget_usd=1.0, tenant_budget_usd=1.5)
    b = Principal(f"{tenant}-b", tenant, ALL_SCOPES, budget_usd=None, tenant_budget_usd=1.5)
    steps = [(a, 0.6, 0.2), (a, 0.6, None), (a, 0.3, 0.3), (b, 0.9, None), (b, 0.25, 0.25)]
    steps += [(b, 0.1, None), (a, 0.0, 0.0)]
    results: list[object] = []
    for who, amount, actual in steps:
        try:
            hold = await ledger.reserve(who, amount, now=NOW)
        except BudgetExceededError as e:
            results.append(e.message)
            continue
        results.append([c.scope for c in hold.charges])
        if actual is not None:
            await ledger.settle(hold, actual)
    return results


def test_redis_ledger_answers_like_the_memory_ledger(redis_url: str) -> None:
    tenant = unique("acme")
    seeds = {("key", f"{tenant}-a", "2026-11"): 0.1, ("tenant", tenant, "2026-11"): 0.05}

    async def scenario() -> tuple[list[object], list[object]]:
        memory = await play_budget(MemoryBudgetLedger(Spend(seeds)), tenant)
        ledger = RedisBudgetLedger(redis_url, Spend(seeds))
        try:
            return memory, await play_budget(ledger, tenant)
        finally:
            await ledger.aclose()

    memory, shared = run(scenario())
    assert shared == memory
    assert any(isinstance(r, str) and "for tenant" in r for r in memory)
    assert any(isinstance(r, str) and f"for key {tenant}-a" in r for r in memory)


def test_two_ledgers_share_spend_and_seed_once(redis_url: str) -> None:
    key = unique("sb-k")
    p = Principal(key, unique("t"), ALL_SCOPES, budget_usd=1.0)
    source = Spend({("key", key, "2026-11"): 0.5})

    async def scenario() -> int:
        a = RedisBudgetLedger(redis_url, source)
        b = RedisBudgetLedger(redis_url, source)
        raw = aioredis.Redis.from_url(redis_url)
        try:
            held = [await a.reserve(p, 0.2, now=NOW), await b.reserve(p, 0.2, now=NOW)]
            with pytest.raises(BudgetExceededError, match=r"spent \$0.50 \(\+\$0.40 held"):
                await b.reserve(p, 0.2, now=NOW)
            await a.settle(held[0], 0.05)
            await b.settle(held[1], 0.05)
            await a.reserve(p, 0.4, now=NOW)  # 0.6 spent + 0.4 = the budget
            return int(await raw.pttl(f"sb:budget:key:2026-11:{key}"))
        finally:
            await a.aclose()
            await b.aclose()
            await raw.aclose()

    ttl = run(scenario())
    assert source.reads == 1
    assert ttl > 86_000_000  # kept at least a day past the (already ended) period


def test_concurrent_budget_reservations_cannot_overshoot(redis_url: str) -> None:
    p = Principal(unique("sb-c"), unique("t"), ALL_SCOPES, budget_usd=1.0)

    async def one(ledger: RedisBudgetLedger) -> bool:
        try:
            await ledger.reserve(p, 0.15, now=NOW)
        except BudgetExceededError:
            return False
        return True

    async def scenario() -> list[bool]:
        a, b = RedisBudgetLedger(redis_url, Spend()), RedisBudgetLedger(redis_url, Spend())
        try:
            return await asyncio.gather(*(one(a if i % 2 else b) for i in range(30)))
        finally:
            await a.aclose()
            await b.aclose()

    assert sum(run(scenario())) == 6


# --- Redis down: fail closed, promptly ----------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in accepted:
            conn.close()
        server.close()


async def refused(limiter: RedisLimiter, ledger: RedisBudgetLedger) -> list[str]:
    messages = []
    principal = Principal("sb-x", "t", ALL_SCOPES, budget_usd=1.0)
    try:
        with pytest.raises(DependencyUnavailableError) as info:
            await limiter.reserve("k", 10, 1000, 5)
        messages.append(info.value.message)
        with pytest.raises(DependencyUnavailableError) as info:
            await ledger.reserve(principal, 0.1, now=NOW)
        messages.append(info.value.message)
        # settling cannot reach Redis either: logged, never raised
        await limiter.settle(Reservation("k", 5, 10, 1000), 1)
    finally:
        await limiter.aclose()
        await ledger.aclose()
    return messages


def test_nothing_listening_is_a_prompt_503() -> None:
    url = f"redis://:secret@127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    messages = run(refused(RedisLimiter(url), RedisBudgetLedger(url, Spend())))
    assert time.monotonic() - started < 10
    assert "rate limiter is unavailable" in messages[0]
    assert "budget ledger is unavailable" in messages[1]
    assert all("secret" not in m for m in messages)


def test_a_silent_server_times_out_into_a_503(silent_port: int) -> None:
    url = f"redis://127.0.0.1:{silent_port}/0"
    started = time.monotonic()
    run(refused(RedisLimiter(url, timeout_s=0.2), RedisBudgetLedger(url, Spend(), timeout_s=0.2)))
    assert time.monotonic() - started < 10  # three calls of ~0.2 s each, never a hang


def test_a_redis_that_goes_away_turns_into_503() -> None:
    async def scenario(stack: contextlib.ExitStack) -> Reservation:
        limiter = RedisLimiter(stack.enter_context(redis_server()))
        try:
            first = await limiter.reserve("k", 10, None, 0)
            stack.close()  # the server stops under a client that was connected
            with pytest.raises(DependencyUnavailableError):
                await limiter.reserve("k", 10, None, 0)
            return first
        finally:
            await limiter.aclose()

    with contextlib.ExitStack() as stack:
        assert run(scenario(stack)).remaining_requests == 9
