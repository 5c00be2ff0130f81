"""Token-bucket arithmetic and the in-process limiter, on an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from switchboard.config import LimitSettings
from switchboard.errors import RateLimitError
from switchboard.gateway.limiter import MemoryLimiter, RedisLimiter, open_limiter
from switchboard.gateway.ratelimit import (
    Bucket,
    Reservation,
    admit,
    format_duration,
    level_at,
    rate_limit_headers,
    refund,
    seconds_until,
)

pytestmark = pytest.mark.unit

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- pure arithmetic ---------------------------------------------------------------


def test_level_refills_at_limit_per_minute_and_caps_at_capacity() -> None:
    assert level_at(None, 600, 5.0) == 600
    assert level_at(Bucket(0.0, 0.0), 600, 1.0) == pytest.approx(10.0)
    assert level_at(Bucket(-50.0, 0.0), 600, 6.0) == pytest.approx(10.0)  # debt repaid first
    assert level_at(Bucket(590.0, 0.0), 600, 60.0) == 600
    assert level_at(Bucket(5.0, 10.0), 600, 9.0) == 5.0  # a clock going back adds nothing


def test_admit_charges_both_buckets() -> None:
    a = admit("k", 10, 1000, 300, None, None, now=0.0)
    assert a.requests == Bucket(9.0, 0.0)
    assert a.tokens == Bucket(700.0, 0.0)
    r = a.reservation
    assert (r.remaining_requests, r.remaining_tokens) == (9, 700)
    assert r.reset_requests_s == pytest.approx(6.0)  # 1 request at 10/min
    assert r.reset_tokens_s == pytest.approx(18.0)  # 300 tokens at 1000/min


def test_refusal_by_tokens_leaves_both_buckets_untouched() -> None:
    tokens = Bucket(120.0, 0.0)
    with pytest.raises(RateLimitError) as info:
        admit("k", 10, 1000, 300, Bucket(5.0, 0.0), tokens, now=0.0)
    e = info.value
    assert e.error_type == "tokens"
    assert e.status_code == 429
    assert e.retry_after_s == pytest.approx(10.8)  # 180 missing tokens at 1000/60 per s
    assert e.message == (
        "Rate limit reached for tokens per min (TPM): limit 1000, remaining 120, "
        "requested 300. Please try again in 10.8s."
    )


def test_refusal_by_requests() -> None:
    with pytest.raises(RateLimitError) as info:
        admit("k", 2, None, 5, Bucket(0.0, 0.0), None, now=0.0)
    assert info.value.error_type == "requests"
    assert info.value.retry_after_s == pytest.approx(30.0)
    assert "requests per min (RPM): limit 2, remaining 0, requested 1" in info.value.message


def test_when_both_refuse_the_longer_wait_is_reported() -> None:
    with pytest.raises(RateLimitError) as info:
        admit("k", 60, 600, 100, Bucket(0.5, 0.0), Bucket(0.0, 0.0), now=0.0)
    assert info.value.error_type == "tokens"  # 10 s for tokens > 0.5 s for requests
    assert info.value.retry_after_s == pytest.approx(10.0)


def test_retry_after_is_exactly_enough() -> None:
    start = Bucket(120.0, 0.0)
    with pytest.raises(RateLimitError) as info:
        admit("k", None, 1000, 300, None, start, now=0.0)
    wait = info.value.retry_after_s
    assert wait is not None
    with pytest.raises(RateLimitError):
        admit("k", None, 1000, 300, None, start, now=wait - 0.01)
    assert admit("k", None, 1000, 300, None, start, now=wait).tokens is not None


def test_retry_after_rounds_up_to_the_millisecond() -> None:
    assert seconds_until(0.0, 7, 1) == pytest.approx(8.572)  # 8.5714... s
    assert seconds_until(5.0, 7, 1) == 0.0


def test_request_larger_than_the_limit_never_passes() -> None:
    with pytest.raises(RateLimitError) as info:
        admit("k", None, 1000, 1001, None, None, now=0.0)
    e = info.value
    assert e.error_type == "tokens"
    assert e.retry_after_s == 60
    assert "Request too large" in e.message
    assert "limit 1000, requested 1001" in e.message
    assert "retrying will not help" in e.message


def test_exactly_the_whole_limit_passes_on_a_full_bucket() -> None:
    a = admit("k", None, 1000, 1000, None, None, now=0.0)
    assert a.reservation.remaining_tokens == 0


def test_refund_gives_back_and_caps_at_capacity() -> None:
    assert refund(Bucket(100.0, 0.0), 1000, 0.0, 250) == Bucket(350.0, 0.0)
    assert refund(Bucket(900.0, 0.0), 1000, 0.0, 250) == Bucket(1000.0, 0.0)


def test_settling_more_than_reserved_goes_into_debt() -> None:
    assert refund(Bucket(100.0, 0.0), 1000, 0.0, -300) == Bucket(-200.0, 0.0)
    with pytest.raises(RateLimitError) as info:
        admit("k", None, 1000, 1, None, Bucket(-200.0, 0.0), now=0.0)
    assert info.value.retry_after_s == pytest.approx(12.06)  # 201 tokens at 1000/min


def test_invalid_arguments_raise_value_error() -> None:
    with pytest.raises(ValueError, match="tokens"):
        admit("k", None, 10, -1, None, None, now=0.0)
    with pytest.raises(ValueError, match="rpm"):
        admit("k", 0, None, 1, None, None, now=0.0)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0, "0s"), (0.0204, "20ms"), (1.2, "1.2s"), (10.8, "10.8s"), (6.0, "6s"), (360.0, "6m0s")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_headers_only_for_limits_that_are_set() -> None:
    r = admit("k", 10, 1000, 300, None, None, now=0.0).reservation
    assert rate_limit_headers(r) == {
        "x-ratelimit-limit-requests": "10",
        "x-ratelimit-remaining-requests": "9",
        "x-ratelimit-reset-requests": "6s",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "700",
        "x-ratelimit-reset-tokens": "18s",
    }
    tokens_only = admit("k", None, 1000, 300, None, None, now=0.0).reservation
    assert set(rate_limit_headers(tokens_only)) == {
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
    }
    assert rate_limit_headers(Reservation("k", 5, None, None)) == {}


# --- MemoryLimiter -------------------------------------------------------------------


def test_memory_limiter_refills_over_time() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock)

    async def scenario() -> None:
        for _ in range(3):
            await limiter.reserve("k", 3, None, 0)
        with pytest.raises(RateLimitError) as info:
            await limiter.reserve("k", 3, None, 0)
        clock.now += info.value.retry_after_s or 0.0
        await limiter.reserve("k", 3, None, 0)

    run(scenario())


def test_a_request_only_count_keeps_the_token_bucket_and_its_debt() -> None:
    limiter = MemoryLimiter(Clock())

    async def scenario() -> None:
        spent = await limiter.reserve("k", 100, 1000, 900)
        await limiter.settle(spent, 1100)  # 200 over: in debt
        await limiter.reserve("k", 100, None, 0)  # another endpoint counts one request
        with pytest.raises(RateLimitError) as info:
            await limiter.reserve("k", 100, 1000, 10)
        assert info.value.error_type == "tokens"

    run(scenario())


def test_memory_limiter_keys_are_independent_and_none_is_unlimited() -> None:
    limiter = MemoryLimiter(Clock())

    async def scenario() -> None:
        await limiter.reserve("a", 1, None, 0)
        await limiter.reserve("b", 1, None, 0)
        with pytest.raises(RateLimitError):
            await limiter.reserve("a", 1, None, 0)
        for _ in range(100):
            await limiter.reserve("free", None, None, 10**9)

    run(scenario())
    assert "free" not in limiter._states  # unlimited keys keep no state


def test_concurrent_reserves_never_overshoot() -> None:
    limiter = MemoryLimiter(Clock())

    async def one() -> bool:
        await asyncio.sleep(0)
        try:
            await limiter.reserve("k", None, 1000, 70)
        except RateLimitError:
            return False
        return True

    async def scenario() -> list[bool]:
        return await asyncio.gather(*(one() for _ in range(50)))

    admitted = run(scenario())
    assert sum(admitted) == 14  # 14 * 70 = 980 <= 1000 < 15 * 70


def test_refusal_on_tokens_does_not_spend_a_request() -> None:
    limiter = MemoryLimiter(Clock())

    async def scenario() -> None:
        await limiter.reserve("k", 2, 100, 90)
        with pytest.raises(RateLimitError):
            await limiter.reserve("k", 2, 100, 50)  # refused by tokens: no request taken
        r = await limiter.reserve("k", 2, 100, 10)  # still one request left
        assert r.remaining_requests == 0

    run(scenario())


def test_settle_refunds_unused_tokens_and_charges_overuse() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock)

    async def scenario() -> None:
        r = await limiter.reserve("k", None, 1000, 800)
        await limiter.settle(r, 100)  # 700 back
        r2 = await limiter.reserve("k", None, 1000, 900)
        assert r2.remaining_tokens == 0
        await limiter.settle(r2, 1500)  # 600 more than reserved: debt
        with pytest.raises(RateLimitError) as info:
            await limiter.reserve("k", None, 1000, 1)
        assert info.value.retry_after_s == pytest.approx(36.06)  # 601 tokens at 1000/min

    run(scenario())


def test_settle_of_an_unlimited_reservation_is_a_no_op() -> None:
    limiter = MemoryLimiter(Clock())
    run(limiter.settle(Reservation("k", 10, None, None), 10_000))
    assert len(limiter) == 0
    with pytest.raises(ValueError, match="actual_tokens"):
        run(limiter.settle(Reservation("k", 10, None, 100), -1))


def test_memory_stays_flat_for_a_few_busy_keys() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock)

    async def scenario() -> None:
        for i in range(100_000):
            clock.now += 0.01
            r = await limiter.reserve(f"key-{i % 4}", 1_000_000, 10_000_000, 10)
            if i % 10 == 0:
                await limiter.settle(r, 5)

    run(scenario())
    assert len(limiter) == 4


def test_idle_keys_are_forgotten_under_churn() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock, min_sweep_size=256)
    peak = 0

    async def scenario() -> None:
        nonlocal peak
        for i in range(100_000):
            clock.now += 0.01  # each key is full again 6 s (600 reserves) after its use
            await limiter.reserve(f"key-{i}", 10, None, 0)
            peak = max(peak, len(limiter))

    run(scenario())
    assert peak < 2_000  # 100k distinct keys, at most ~600 of them active at a time


def test_a_forgotten_key_starts_full() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock, min_sweep_size=2)

    async def scenario() -> None:
        await limiter.reserve("a", 1, None, 0)
        clock.now += 61
        await limiter.reserve("b", 1, None, 0)  # the sweep drops "a"
        assert "a" not in limiter._states
        await limiter.reserve("a", 1, None, 0)

    run(scenario())


def test_open_limiter_picks_the_backend() -> None:
    assert isinstance(open_limiter(LimitSettings()), MemoryLimiter)
    redis = open_limiter(LimitSettings(backend="redis", redis_url="redis://127.0.0.1:1/0"))
    assert isinstance(redis, RedisLimiter)
    run(redis.aclose())
